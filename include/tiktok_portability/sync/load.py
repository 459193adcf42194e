"""Normalize step: the batch's raw archives -> lake tables, as one atomic, idempotent commit.

Reads only the raw zone. The lake batch id is derived from (run_id, batch), so a retried or
cleared task rewrites the same files with the same rows; a user re-synced by a later run of the
same snapshot date replaces their rows from the earlier batch (the lake handles that).
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import date

from tiktok_portability.erasure import erase_again_if_erased
from tiktok_portability.lake.raw import RawArchiveRef
from tiktok_portability.lake.retention import check_rebuildable
from tiktok_portability.runtime import SyncRuntime
from tiktok_portability.sync import outcomes as oc
from tiktok_portability.sync.options import SyncOptions
from tiktok_portability.sync.readiness import latest_per_user

log = logging.getLogger(__name__)


def lake_batch_id(run_id: str, batch: int) -> str:
    """A short, path-safe, deterministic id for the lake files of one batch of one run."""
    digest = hashlib.sha256(run_id.encode()).hexdigest()[:12]
    return f"r{digest}-b{batch:05d}"


def normalize_batch(
    runtime: SyncRuntime, run_id: str, batch: int, snapshot_date: date, options: SyncOptions
) -> oc.StepReport:
    report = oc.StepReport("normalize", run_id, batch)
    if options.dry_run:
        report.details["mode"] = "dry_run"
        return report
    store = runtime.store
    members = store.batch_members(run_id, batch)
    if options.reprocess_from_raw:
        check_rebuildable(runtime.lake.storage, [snapshot_date.isoformat()])
        refs = _latest_refs(runtime.lake.raw.list(snapshot_date, members))
        by_request = {}
    else:
        transfers = [
            t
            for t in latest_per_user(store.transfers_for_run(run_id, batch))
            if t.status in ("downloaded", "normalized") and t.request_id is not None
        ]
        by_request = {t.request_id: t for t in transfers}
        stored = {
            r.request_id: r
            for r in runtime.lake.raw.list(snapshot_date, sorted({t.open_id for t in transfers}))
        }
        refs = [stored[rid] for rid in by_request if rid in stored]
        for rid, t in by_request.items():
            if rid not in stored:
                why = oc.reason(
                    oc.NORMALIZE_FAILED, f"raw archive of request {rid} missing for {snapshot_date}"
                )
                store.transition(t.id, "failed", reason=why)
                report.add("failed", why)
    if not refs:
        report.details["rows"] = {}
        return report
    # Shared: batches commit in parallel; an erasure (exclusive) waits for them and they for it.
    with store.lake_lock(exclusive=False):
        if options.reprocess_from_raw:
            # Raw retention (exclusive lock) may have pruned the date since the plan listed it.
            check_rebuildable(runtime.lake.storage, [snapshot_date.isoformat()])
        result = runtime.lake.normalize_batch(refs, snapshot_date, batch_id=lake_batch_id(run_id, batch))
    loaded = set(result.loaded)
    erased = erase_again_if_erased(runtime, sorted({r.open_id for r in refs if r.request_id in loaded}))
    if erased:
        report.details["erased_after_commit"] = erased
    for failure in result.errors:
        why = oc.reason(oc.NORMALIZE_FAILED, failure.reason)
        t = by_request.get(failure.request_id)
        if t is not None:
            store.transition(t.id, "failed", reason=why)
        report.add("failed", why)
    for rid in result.loaded:
        t = by_request.get(rid)
        if t is not None:
            archive = result.reports.get(str(rid)) or {}
            counts = {
                "other_records": dict(archive.get("other_records") or {}),
                "record_errors": dict(archive.get("record_errors_by_section") or {}),
            }
            store.transition(t.id, "normalized", normalize_counts=counts)
        report.add("normalized")
    report.details["rows"] = dict(sorted(result.rows.items()))
    if result.later_dates_stale:
        report.details["later_dates_stale"] = result.later_dates_stale
    report.details["record_errors"] = sum(
        int(summary.get("record_error_count", 0) or 0) for summary in result.reports.values()
    )
    # By section, so a new TikTok layout is noticed the first night it appears.
    for key in ("other_records", "record_errors_by_section"):
        report.details[key] = _by_section(summary.get(key) for summary in result.reports.values())
    log.info(
        "normalize done run_id=%s batch=%d %s rows=%d",
        run_id,
        batch,
        dict(report.outcomes),
        sum(result.rows.values()),
    )
    return report


def _by_section(counts: Iterable[Mapping[str, int] | None]) -> dict[str, int]:
    """Counts per section summed over the batch's archives."""
    total: Counter[str] = Counter()
    for c in counts:
        total.update(c or {})
    return dict(sorted(total.items()))


def _latest_refs(refs: list[RawArchiveRef]) -> list[RawArchiveRef]:
    """One archive per user: the newest request of that date (a re-sync supersedes)."""
    latest: dict[str, RawArchiveRef] = {}
    for ref in sorted(refs, key=lambda r: (r.open_id, r.fetched_at, r.request_id)):
        latest[ref.open_id] = ref
    return list(latest.values())
