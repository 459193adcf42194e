"""Run a whole sync without Airflow: the same steps the DAG maps over batches, one after another.

For scripts, the CLI (``tiktok-portability sync run``) and tests of the core; the nightly DAG is
the production path (batches in parallel, deferrable waiting, retries, UI).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import date
from typing import Any

from tiktok_portability.clock import now_ts
from tiktok_portability.runtime import SyncRuntime
from tiktok_portability.sync.fetch import download_batch
from tiktok_portability.sync.load import normalize_batch
from tiktok_portability.sync.options import SyncOptions
from tiktok_portability.sync.plan import plan_run
from tiktok_portability.sync.readiness import wait_for_batch
from tiktok_portability.sync.submit import submit_batch
from tiktok_portability.sync.summary import summarize_run

log = logging.getLogger(__name__)


def run_batch(
    runtime: SyncRuntime, run_id: str, batch: int, snapshot_date: date, options: SyncOptions
) -> list[dict[str, Any]]:
    reports = [submit_batch(runtime, run_id, batch, options).to_dict()]
    if not (options.reprocess_from_raw or options.dry_run):
        outcome, state = asyncio.run(
            wait_for_batch(
                runtime,
                run_id,
                batch,
                deadline_ts=now_ts() + options.wait_deadline.total_seconds(),
                wait=options.wait_settings(),
            )
        )
        reports.append(
            {"step": "wait", "run_id": run_id, "batch": batch, "outcome": outcome, **state.to_dict()}
        )
    reports.append(download_batch(runtime, run_id, batch, snapshot_date, options).to_dict())
    reports.append(normalize_batch(runtime, run_id, batch, snapshot_date, options).to_dict())
    return reports


def run_sync(runtime: SyncRuntime, run_id: str, snapshot_date: date, options: SyncOptions) -> dict[str, Any]:
    """Plan, then every batch in turn, then the summary (raises SyncRunFailed past the threshold)."""
    batches = plan_run(runtime, run_id, snapshot_date, options)
    reports: list[dict[str, Any]] = []
    for batch in batches:
        reports.extend(run_batch(runtime, run_id, batch, snapshot_date, options))
    return summarize_run(runtime, run_id, options, reports)
