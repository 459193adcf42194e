"""The sync DAG's maintenance step: raw retention after the night's summary.

It runs in the sync DAG (after a ``summarize`` that passed) rather than in a DAG of its own
because sync runs never overlap (``max_active_runs=1``): no plan of a rebuild can list a date's
archives while retention deletes them. It still takes the lake lock exclusively, so a
``lake reprocess`` started by hand (shared lock) waits, then sees the date as pruned.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from tiktok_portability.contract import SYNC_DAG_ID
from tiktok_portability.lake.retention import retention_days
from tiktok_portability.runtime import SyncRuntime
from tiktok_portability.sync.options import SyncOptions

log = logging.getLogger(__name__)


def raw_retention(runtime: SyncRuntime, snapshot_date: date, options: SyncOptions) -> dict[str, Any]:
    """Apply ``$TIKTOK_RAW_RETENTION_DAYS`` counted from the run's snapshot date; a small summary
    (the task's XCom). Dry runs and rebuilds (reprocess, backfill) delete nothing: a backfill of
    old dates must not shift the cutoff, and a dry run promises no lake write."""
    if options.dry_run or options.reprocess_from_raw:
        mode = "dry_run" if options.dry_run else "reprocess_from_raw"
        log.info("raw retention skipped: a %s run deletes nothing", mode)
        return {"skipped": mode}
    if runtime.lake is None:
        raise RuntimeError("raw retention needs the lake (TIKTOK_LAKE_URI)")
    days = retention_days()
    with runtime.store.lake_lock(exclusive=True):
        record = runtime.lake.apply_retention(days, today=snapshot_date, requested_by=SYNC_DAG_ID)
    return {
        "retention_days": days,
        "cutoff": record.cutoff,
        "dates_pruned": record.dates_pruned,
        "archives_deleted": record.archives_deleted,
        "archives_kept_latest": sum(d.archives_kept for d in record.dates.values()),
        "bytes_deleted": record.bytes_deleted,
        "audit_key": record.audit_key,
    }
