"""The run summary: users planned, synced, failed by reason, API calls, bytes, rows per table."""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

from tiktok_portability.clock import offset_s
from tiktok_portability.sync import outcomes as oc
from tiktok_portability.sync.options import SyncOptions
from tiktok_portability.sync.readiness import latest_per_user
from tiktok_portability.sync.runtime import SyncRuntime

log = logging.getLogger(__name__)


class SyncRunFailed(RuntimeError):
    """The run's failure rate passed the threshold; the summary is attached."""

    def __init__(self, message: str, summary: dict[str, Any]) -> None:
        super().__init__(message)
        self.summary = summary


def summarize_run(
    runtime: SyncRuntime,
    run_id: str,
    options: SyncOptions,
    step_reports: Iterable[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """Build the summary from the state store (the truth) plus the normalize steps' row counts."""
    store = runtime.store
    plan = store.run_plan(run_id)
    transfers = latest_per_user(store.transfers_for_run(run_id))
    status = Counter(t.status for t in transfers)
    failures = Counter(oc.category_of(t.failure_reason) for t in transfers if t.status == "failed")
    for t in transfers:
        if t.status in ("expired", "cancelled"):
            failures[oc.DOWNLOAD_EXPIRED if t.status == "expired" else "cancelled"] += 1
    step_reports = [rep for rep in step_reports if rep]
    rows: Counter[str] = Counter()
    record_errors = 0
    stale: set[str] = set()
    erased_again: set[str] = set()
    for rep in step_reports:
        if rep and rep.get("step") == "normalize":
            rows.update(rep.get("rows", {}) or {})
            record_errors += int(rep.get("record_errors", 0) or 0)
            stale.update(rep.get("later_dates_stale") or ())
            erased_again.update(rep.get("erased_after_commit") or ())
    planned = int(plan["users"]) if plan else 0
    if options.reprocess_from_raw:
        synced = sum(
            int((rep.get("outcomes") or {}).get("normalized", 0))
            for rep in step_reports
            if rep and rep.get("step") == "normalize"
        )
    else:
        synced = status.get("normalized", 0)
    failed = sum(failures.values())
    # Quota usage is counted on the wall clock (TikTok's quota is); plan times follow clock.utcnow().
    calls = store.quota_usage(since=plan["created_at"] - timedelta(seconds=offset_s())) if plan else {}
    summary: dict[str, Any] = {
        "run_id": run_id,
        "snapshot_date": plan["snapshot_date"] if plan else None,
        "mode": plan["mode"] if plan else None,
        "dry_run": options.dry_run,
        "users_planned": planned,
        "batches": plan["batches"] if plan else 0,
        "users_synced": synced,
        "users_failed": failed,
        "users_waiting": status.get("requested", 0) + status.get("ready", 0) + status.get("downloaded", 0),
        "failed_by_reason": dict(sorted(failures.items())),
        "transfers_by_status": dict(sorted(status.items())),
        "api_calls": dict(sorted(calls.items())),
        "bytes_downloaded": sum(
            t.raw_size or 0 for t in transfers if t.status in ("downloaded", "normalized")
        ),
        "rows_per_table": dict(sorted(rows.items())),
        "record_errors": record_errors,
        # A past date rebuilt (reprocess or re-sync) with a different outcome: the later dates
        # derived from it need `tiktok-portability lake reprocess --snapshot-date D --and-later`.
        "later_dates_stale": sorted(stale),
        # Fingerprints of users erased while this run loaded them: their rows were removed again.
        "erased_after_commit": sorted(erased_again),
    }
    rate = failed / planned if planned else 0.0
    summary["failure_rate"] = round(rate, 4)
    # One JSON line: greppable by Ops and parseable by log pipelines.
    log.info("run summary %s", json.dumps(summary, sort_keys=True, default=str))
    if planned and rate > options.max_failure_rate:
        raise SyncRunFailed(
            f"{failed} of {planned} users failed ({rate:.1%} > max_failure_rate "
            f"{options.max_failure_rate:.1%}): {dict(failures)}",
            summary,
        )
    return summary


def parse_run_summary(log_text: str) -> dict[str, Any]:
    """The last run summary logged in ``log_text`` (task logs, ``airflow dags test`` output)."""
    decoder = json.JSONDecoder()
    for line in reversed(log_text.splitlines()):
        at = line.find("run summary {")
        if at >= 0:
            value, _ = decoder.raw_decode(line[at + len("run summary ") :])
            return value
    raise ValueError("no 'run summary' line in the log")
