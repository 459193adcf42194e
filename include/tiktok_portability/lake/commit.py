"""Committing one batch: normalize its archives, stage one file per table, publish in order.

A bad archive is reported and contributes no row; a storage failure aborts the batch
(:class:`CommitError`) so the caller's retry redoes it. Re-running a batch id rewrites the same
files with the same rows; a user re-synced in another batch leaves the batch that held them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from tiktok_portability import clock
from tiktok_portability.lake import files, keys
from tiktok_portability.lake.batch import BatchStage
from tiktok_portability.lake.errors import CommitError, StorageError
from tiktok_portability.lake.ledger import (
    STATE,
    PreviousState,
    entry_key,
    entry_name,
    load_previous,
    same_state,
    write_state,
)
from tiktok_portability.lake.manifests import put_manifest, read_manifest
from tiktok_portability.lake.normalizer import ArchiveNormalizer
from tiktok_portability.lake.raw import RawArchiveRef, RawZone
from tiktok_portability.lake.results import ArchiveFailure, BatchResult
from tiktok_portability.lake.storage import Storage
from tiktok_portability.redact import fingerprint

log = logging.getLogger(__name__)


@dataclass
class _Publish:
    """Everything a batch will make visible, staged locally, published in a fixed order."""

    files: list[tuple[str, Any]]
    stale: list[str]
    rewrites: list[tuple[str, Any]]
    deletes: list[str]
    manifests: list[tuple[str, dict]]
    # Each user's ledger entry for the date (key, staged file), then entries to delete.
    ledger: list[tuple[str, Path]] = field(default_factory=list)
    ledger_stale: list[str] = field(default_factory=list)


def commit_batch(
    storage: Storage,
    raw: RawZone,
    normalizer: ArchiveNormalizer,
    refs: Sequence[RawArchiveRef | dict],
    snapshot_date: date | str,
    batch_id: str | None = None,
) -> BatchResult:
    """Normalize raw archives of one date into the tables, as one idempotent commit."""
    day = keys.snapshot_date_str(snapshot_date)
    refs = [r if isinstance(r, RawArchiveRef) else RawArchiveRef.from_dict(r) for r in refs]
    if batch_id is None:
        batch_id = keys.default_batch_id([r.open_id for r in refs])
    batch_id = keys.check_batch_id(batch_id)
    result = BatchResult(batch_id=batch_id, snapshot_date=day)
    chosen = _choose(refs, day, result)
    specs = normalizer.specs
    previous = load_previous(storage, specs, sorted({r.open_id for r in chosen}), day)
    ok: list[RawArchiveRef] = []
    stale: set[str] = set()
    try:
        with storage.staging_dir() as folder:
            stage = BatchStage(folder, specs)
            ledger: list[tuple[str, Path]] = []
            (folder / "ledger").mkdir()
            for ref in chosen:
                archive = stage.new_archive(ref, previous)
                user_name = previous.user_names.get(ref.open_id)
                summary: dict[str, Any] = {"lake_user_name": user_name}
                try:
                    with raw.open(ref) as path:
                        for table, batch in normalizer.normalize(path, ref, summary):
                            archive.add(table, batch)
                            if table == "profile" and batch.num_rows:
                                user_name = batch.column("user_name")[0].as_py() or user_name
                    archive.finish(summary.get("tables_present") or ())
                except StorageError:
                    archive.discard()
                    raise
                except Exception as exc:  # one archive's bad input never fails the batch
                    archive.discard()
                    reason = f"{type(exc).__name__}: {exc}"
                    result.errors.append(ArchiveFailure(ref.open_id, ref.request_id, ref.key, reason))
                    log.warning(
                        "archive not loaded user=%s request_id=%s key=%s reason=%s",
                        fingerprint(ref.open_id),
                        ref.request_id,
                        ref.key,
                        reason,
                    )
                    continue
                finally:
                    result.reports[str(ref.request_id)] = summary
                stage.accept(archive)
                ok.append(ref)
                sets_at = dict(previous.set_dates.get(ref.open_id, {}))
                sets_at.update(dict.fromkeys(archive.next_sets, day))
                state = write_state(
                    folder / "ledger" / f"{len(ledger)}.arrow",
                    specs,
                    batch_id=batch_id,
                    watermarks=archive.watermarks,
                    changed_sets=archive.next_sets,
                    sets_at=sets_at,
                    user_name=user_name,
                )
                ledger.append((entry_key(ref.open_id, day), state))
                stale.update(_later_dates_stale(storage, previous, ref.open_id, day, state))
            outputs = stage.close()
            plan = _plan(storage, day, batch_id, outputs, ok, result, folder, previous)
            plan.ledger = ledger
            _publish(storage, plan)
    except StorageError as exc:
        raise CommitError(f"batch {batch_id} of {day} not committed: {exc}") from exc
    result.loaded = [r.request_id for r in ok]
    result.later_dates_stale = sorted(stale)
    if stale:
        log.warning(
            "batch %s rebuilt %s with results that differ from before; later dates derived "
            "from it are stale: %s. Reprocess them in order: `tiktok-portability lake reprocess "
            "--snapshot-date %s --and-later`",
            batch_id,
            day,
            ", ".join(result.later_dates_stale),
            day,
        )
    log.info(
        "batch committed batch_id=%s snapshot_date=%s loaded=%d failed=%d rows=%d",
        batch_id,
        day,
        len(ok),
        len(result.errors),
        sum(result.rows.values()),
    )
    return result


def _later_dates_stale(
    storage: Storage, previous: PreviousState, open_id: str, day: str, state: Path
) -> list[str]:
    """Dates after ``day`` that were derived from a different state of this user on ``day``.

    Only a rebuilt past date has later dates, so a nightly commit reads nothing more here.
    """
    ledger = previous.ledgers.get(open_id, {})
    later = sorted(d for d in ledger if d > day)
    if not later:
        return []
    old = ledger.get(day)
    if old is not None and same_state(storage, old, state):
        return []
    return later


def _choose(refs: Sequence[RawArchiveRef], day: str, result: BatchResult) -> list[RawArchiveRef]:
    """The newest request per user of the batch's date; the biggest archive first."""
    latest: dict[str, RawArchiveRef] = {}
    for ref in refs:
        if ref.snapshot_date != day:
            reason = f"archive is dated {ref.snapshot_date}, batch is {day}"
            result.errors.append(ArchiveFailure(ref.open_id, ref.request_id, ref.key, reason))
            continue
        held = latest.get(ref.open_id)
        if held is None or ref.request_id > held.request_id:
            if held is not None:
                result.skipped.append(held.request_id)
            latest[ref.open_id] = ref
        else:
            result.skipped.append(ref.request_id)
    chosen = sorted(latest.values(), key=lambda r: (r.open_id, r.request_id))
    if chosen:
        # The first archive writes straight into the batch's empty Parquet files, so its encoding
        # overlaps its decoding (lake.batch): the biggest gains most. The rest keep open_id order.
        biggest = max(chosen, key=lambda r: r.size)  # the first of equals: deterministic
        chosen.remove(biggest)
        chosen.insert(0, biggest)
    return chosen


def _plan(
    storage: Storage,
    day: str,
    batch_id: str,
    outputs: dict[str, tuple[Path | None, int]],
    ok: list[RawArchiveRef],
    result: BatchResult,
    folder: Path,
    previous: PreviousState,
) -> _Publish:
    plan = _Publish(files=[], stale=[], rewrites=[], deletes=[], manifests=[])
    for table, (path, rows) in sorted(outputs.items()):
        if path is None:
            continue
        plan.files.append((keys.table_file(table, day, batch_id), path))
        result.rows[table] = rows
    result.files = [k for k, _ in plan.files]
    users = {keys.user_key(r.open_id) for r in ok}
    own = read_manifest(storage, day, batch_id)
    if own is not None:
        plan.stale = sorted(set(own[1]["files"]) - set(result.files))
        # Users this batch held before and no longer does (their archive failed this time):
        # their ledger entries for the date go with their rows.
        gone = sorted(set(own[1]["users"]) - users)
        plan.ledger_stale = [f"{STATE}/user={user}/{entry_name(day)}" for user in gone]
    # Other batches holding these users on this date (a re-sync): named by the users' ledgers.
    holders = {previous.holder(storage, r.open_id, day) for r in ok} - {None, batch_id}
    open_ids = pa.array(sorted({r.open_id for r in ok}), pa.string())
    for other_id in sorted(holders):
        found = read_manifest(storage, day, other_id)
        if found is None:
            continue
        mkey, manifest = found
        kept_files, kept_rows = [], {}
        for fkey in manifest["files"]:
            table = files.read_file(storage, fkey)
            rest = table.filter(pc.invert(pc.is_in(table.column("open_id"), open_ids)))
            name = fkey.split("/", 1)[0]
            if rest.num_rows == 0:
                plan.deletes.append(fkey)
                continue
            kept_files.append(fkey)
            kept_rows[name] = rest.num_rows
            if rest.num_rows != table.num_rows:
                local = files.write_table(folder / "rewrite" / fkey, rest)
                plan.rewrites.append((fkey, local))
        manifest = {
            **manifest,
            "users": sorted(set(manifest["users"]) - users),
            "files": kept_files,
            "rows": kept_rows,
        }
        plan.manifests.append((mkey, manifest))
    result.rewritten = [k for k, _ in plan.rewrites] + plan.deletes
    own_manifest = {
        "batch_id": batch_id,
        "snapshot_date": day,
        "users": sorted(users),
        "archives": [
            {"user": keys.user_key(r.open_id), "request_id": r.request_id, "sha256": r.sha256} for r in ok
        ],
        "files": result.files,
        "rows": result.rows,
        "failed": len(result.errors),
        "committed_at": clock.utcnow().isoformat(timespec="seconds"),
    }
    plan.manifests.append((keys.commit_manifest(day, batch_id), own_manifest))
    return plan


def _publish(storage: Storage, plan: _Publish) -> None:
    # New rows first, then removals elsewhere: a reader racing a re-sync may briefly see a
    # user twice, never not at all. The batch's own manifest goes last.
    for key, path in plan.files:
        storage.put_file(key, path)
    for key in plan.stale:
        storage.delete(key)
    for key, path in plan.rewrites:
        storage.put_file(key, path)
    for key in plan.deletes:
        storage.delete(key)
    for key, path in plan.ledger:
        storage.put_file(key, path)
    for key in plan.ledger_stale:
        storage.delete(key)
    for key, manifest in plan.manifests:
        put_manifest(storage, key, manifest)
