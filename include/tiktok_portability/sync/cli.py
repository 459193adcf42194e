"""``tiktok-portability sync run|erase``: a whole sync, or users' erasure, outside Airflow."""

from __future__ import annotations

import argparse
import json
import os
from datetime import date

from tiktok_portability.state.env import URL_ENV


def register(subparsers: argparse._SubParsersAction) -> None:
    sync = subparsers.add_parser("sync", help="run the ongoing sync without Airflow")
    sub = sync.add_subparsers(dest="sync_command", metavar="SUBCOMMAND")
    run = sub.add_parser("run", help="plan, submit, wait, download and normalize every due user")
    _add_connection_args(run)
    run.add_argument("--run-id", default=None, help="default: manual__<now>")
    run.add_argument("--snapshot-date", default=None, help="YYYY-MM-DD (default: today, UTC)")
    run.add_argument("--batch-size", type=int, default=500)
    run.add_argument("--open-ids", default=None, help="comma-separated: re-sync only these users")
    run.add_argument("--categories", default=None, help="comma-separated categories")
    run.add_argument("--data-format", choices=("json", "text"), default="json")
    run.add_argument("--reprocess-from-raw", action="store_true")
    run.add_argument("--dry-run", action="store_true")
    run.add_argument("--poll-interval-s", type=float, default=60.0)
    run.add_argument("--max-failure-rate", type=float, default=0.2)
    run.set_defaults(handler=_run)
    erase = sub.add_parser(
        "erase",
        help="erase users (GDPR): revoke at TikTok, erase tokens and state, delete their lake rows",
        description="Erase each user in turn: cancel pending exports and revoke the authorization at "
        "TikTok (best effort; --no-revoke skips it), erase the grant's tokens and state, delete "
        "their rows, raw archives and ledger from the lake with an audit record. Prints one JSON "
        "result per user (fingerprints, never open_ids); exit code 1 if any erasure failed.",
    )
    _add_connection_args(erase)
    erase.add_argument("--open-id", action="append", required=True, help="a user to erase (repeatable)")
    erase.add_argument("--requested-by", required=True, help="who asked (kept in the audit records)")
    erase.add_argument("--no-revoke", action="store_true", help="do not call TikTok")
    erase.add_argument(
        "--full-scan", action="store_true", help="read every lake file, not only the user's batches"
    )
    erase.set_defaults(handler=_erase)


def _add_connection_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--lake", default=os.environ.get("TIKTOK_LAKE_URI", "./lake"), help="lake URI")
    parser.add_argument("--state-url", default=os.environ.get(URL_ENV), help="state store URL")
    parser.add_argument(
        "--base-url", default=os.environ.get("TIKTOK_API_BASE_URL", "https://open.tiktokapis.com")
    )
    parser.add_argument("--client-key", default=os.environ.get("TIKTOK_CLIENT_KEY"))
    parser.add_argument(
        "--client-secret-env",
        default="TIKTOK_CLIENT_SECRET",
        help="name of the environment variable holding the client secret (never a flag)",
    )
    parser.add_argument("--quota", type=int, default=1000, help="calls per window per endpoint")
    parser.add_argument("--quota-window-s", type=float, default=60.0)


def _runtime(args: argparse.Namespace):  # -> SyncRuntime (imported lazily: the CLI starts fast)
    from tiktok_portability.client import ClientConfig
    from tiktok_portability.lake import Lake
    from tiktok_portability.quota import QuotaConfig, QuotaLimiter
    from tiktok_portability.redact import Secret
    from tiktok_portability.state import StateStore
    from tiktok_portability.sync import SyncRuntime

    secret = os.environ.get(args.client_secret_env)
    if not args.client_key or not secret:
        raise SystemExit(f"set --client-key and the ${args.client_secret_env} environment variable")
    store = StateStore.from_url(args.state_url) if args.state_url else StateStore.from_env()
    return SyncRuntime(
        store=store,
        client_config=ClientConfig(
            client_key=args.client_key, client_secret=Secret(secret), base_url=args.base_url
        ),
        lake=Lake.from_uri(args.lake),
        limiter=QuotaLimiter(store, QuotaConfig(per_window=args.quota, window_s=args.quota_window_s)),
    )


def _erase(args: argparse.Namespace) -> int:
    from tiktok_portability.erasure import erase_users

    runtime = _runtime(args)
    try:
        results = erase_users(
            runtime,
            args.open_id,
            requested_by=args.requested_by,
            revoke_at_tiktok=not args.no_revoke,
            full_scan=args.full_scan,
        )
    finally:
        runtime.store.close()
    print(json.dumps([r.to_dict() for r in results], indent=2, default=str))
    return 0 if all(r.ok for r in results) else 1


def _run(args: argparse.Namespace) -> int:
    from tiktok_portability.clock import utcnow
    from tiktok_portability.sync import SyncOptions, parse_snapshot_date
    from tiktok_portability.sync.engine import run_sync

    runtime = _runtime(args)
    options = SyncOptions.from_params(
        {
            "batch_size": args.batch_size,
            "open_ids": args.open_ids,
            "categories": args.categories,
            "data_format": args.data_format,
            "reprocess_from_raw": args.reprocess_from_raw,
            "dry_run": args.dry_run,
            "poll_interval_s": args.poll_interval_s,
            "max_failure_rate": args.max_failure_rate,
        }
    )
    snapshot = parse_snapshot_date(args.snapshot_date) if args.snapshot_date else date.today()
    run_id = args.run_id or f"manual__{utcnow().isoformat(timespec='seconds')}"
    summary = run_sync(runtime, run_id, snapshot, options)
    print(json.dumps(summary, indent=2, default=str))
    return 0
