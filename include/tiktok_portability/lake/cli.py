"""``tiktok-portability normalize`` and ``tiktok-portability lake erase|reprocess|retention``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tiktok_portability.contract import LAKE_URI_ENV as LAKE_ENV
from tiktok_portability.state.env import URL_ENV


def _add_lake_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--lake",
        default=os.environ.get(LAKE_ENV),
        required=LAKE_ENV not in os.environ,
        help=f"lake URI: /path, file:///path or s3://bucket/prefix (default ${LAKE_ENV})",
    )
    parser.add_argument(
        "--s3-endpoint-url",
        default=None,
        help="S3 endpoint (e.g. a MinIO or moto server); AWS_ENDPOINT_URL works too",
    )
    parser.add_argument(
        "--state-url",
        default=os.environ.get(URL_ENV),
        help=f"the sync's state store (default ${URL_ENV}): when given, wait for the lake "
        "lock there, so this never rewrites a file a nightly commit is rewriting",
    )


@contextmanager
def _locked(args: argparse.Namespace, *, exclusive: bool) -> Iterator[None]:
    """The state store's lake lock (shared for loads, exclusive for an erasure), if one is named."""
    if not args.state_url:
        yield
        return
    from tiktok_portability.state.engine import create_engine
    from tiktok_portability.state.lake_lock import lake_lock

    engine = create_engine(args.state_url)
    try:
        with lake_lock(engine, exclusive=exclusive):
            yield
    finally:
        engine.dispose()


def _lake(args: argparse.Namespace):
    from tiktok_portability.lake import Lake

    return Lake.from_uri(args.lake, s3_endpoint_url=args.s3_endpoint_url)


def _print(data: dict) -> None:
    json.dump(data, sys.stdout, indent=2, sort_keys=True, default=str)
    sys.stdout.write("\n")


def default_request_id(archive: Path) -> int:
    """A stable stand-in request id for archives obtained outside the API: 48 bits of the sha256."""
    from tiktok_portability.lake.raw import file_digest

    return int(file_digest(archive)[1][:12], 16)


def _normalize(args: argparse.Namespace) -> int:
    from tiktok_portability.lake import summarize

    lake = _lake(args)
    archive = Path(args.archive)
    request_id = args.request_id if args.request_id is not None else default_request_id(archive)
    ref = lake.raw.put_archive(args.open_id, args.snapshot_date, request_id, archive)
    with _locked(args, exclusive=False):
        result = lake.normalize_batch([ref], ref.snapshot_date, batch_id=args.batch_id)
    _print(
        {
            "batch_id": result.batch_id,
            "snapshot_date": result.snapshot_date,
            "raw": ref.key,
            **summarize([result]),
        }
    )
    return 0 if result.ok else 1


def _reprocess(args: argparse.Namespace) -> int:
    from tiktok_portability.lake import summarize

    with _locked(args, exclusive=False):
        results = _lake(args).reprocess(args.snapshot_date, and_later=args.and_later)
    _print(
        {
            "snapshot_date": args.snapshot_date,
            "snapshot_dates": sorted({r.snapshot_date for r in results}),
            "batches": [r.batch_id for r in results],
            **summarize(results),
        }
    )
    return 0 if all(r.ok for r in results) else 1


def _erase(args: argparse.Namespace) -> int:
    lake = _lake(args)
    with _locked(args, exclusive=True):
        record = lake.erase_user(args.open_id, requested_by=args.requested_by, full_scan=args.full_scan)
    _print(record.to_dict())
    return 0


def _retention(args: argparse.Namespace) -> int:
    lake = _lake(args)
    # Exclusive: a rebuild (shared) checks for pruned dates first, so none may start meanwhile.
    with _locked(args, exclusive=not args.dry_run):
        record = lake.apply_retention(
            args.days, today=args.today, dry_run=args.dry_run, requested_by=args.requested_by
        )
    _print(record.to_dict())
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    norm = subparsers.add_parser(
        "normalize",
        help="store one archive in the raw zone and load it into the lake's tables",
        description="Store an export archive in the raw zone (immutable) and normalize it into the "
        "lake's Parquet tables as one batch; prints a JSON summary. Exit code 1 when the archive "
        "could not be loaded (the reason is in the summary).",
    )
    norm.add_argument("--archive", required=True, help="path of the export zip")
    norm.add_argument("--open-id", required=True, help="the TikTok open_id the archive belongs to")
    norm.add_argument("--snapshot-date", required=True, help="YYYY-MM-DD")
    norm.add_argument(
        "--request-id", type=int, default=None, help="data request id (default: from the checksum)"
    )
    norm.add_argument("--batch-id", default=None, help="batch id (default: derived from the open_id)")
    _add_lake_args(norm)
    norm.set_defaults(handler=_normalize)

    lake = subparsers.add_parser(
        "lake", help="maintain the data lake (erase a user, reprocess a date, raw retention)"
    )
    lake_sub = lake.add_subparsers(dest="lake_command", metavar="ACTION", required=True)
    erase = lake_sub.add_parser(
        "erase", help="delete a user's rows and raw archives (GDPR) with an audit record"
    )
    erase.add_argument("--open-id", required=True)
    erase.add_argument(
        "--requested-by", default=os.environ.get("USER", "cli"), help="who asked (audit record)"
    )
    erase.add_argument(
        "--full-scan",
        action="store_true",
        help="read every table file instead of the batches the user's ledger names (an audit)",
    )
    _add_lake_args(erase)
    erase.set_defaults(handler=_erase)
    again = lake_sub.add_parser(
        "reprocess",
        help="rebuild a date's tables from the raw zone",
        description="Rebuild a date's tables from the raw zone, keeping its batch ids. Later dates "
        "were derived from that date's state: when the rebuild changes it, the summary lists them "
        "under later_dates_stale; --and-later rebuilds them too, in order.",
    )
    again.add_argument("--snapshot-date", required=True, help="YYYY-MM-DD")
    again.add_argument(
        "--and-later", action="store_true", help="also rebuild every later committed date, in order"
    )
    _add_lake_args(again)
    again.set_defaults(handler=_reprocess)
    keep = lake_sub.add_parser(
        "retention",
        help="delete raw archives older than the retention, keeping each user's latest",
        description="Delete raw archives of snapshot dates more than --days before --today, "
        "keeping each user's latest archive, and write an audit record under _audit/retention/. "
        "A date that loses an archive can no longer be rebuilt (lake reprocess refuses it). "
        "Prints the record as JSON; --dry-run deletes and writes nothing.",
    )
    keep.add_argument(
        "--days",
        type=int,
        default=None,
        help="days to keep (default $TIKTOK_RAW_RETENTION_DAYS, else 30; 0 keeps everything)",
    )
    keep.add_argument("--today", default=None, help="YYYY-MM-DD the age counts from (default: today, UTC)")
    keep.add_argument("--dry-run", action="store_true", help="report what would be deleted, delete nothing")
    keep.add_argument(
        "--requested-by", default=os.environ.get("USER", "cli"), help="who ran it (audit record)"
    )
    _add_lake_args(keep)
    keep.set_defaults(handler=_retention)
