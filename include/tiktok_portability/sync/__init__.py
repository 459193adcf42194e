"""The nightly ongoing sync as plain functions over batches; the DAG maps them, the CLI chains them.

Steps, each idempotent for its (run_id, batch): plan_run -> submit_batch -> wait (poll_round /
wait_for_batch) -> download_batch -> normalize_batch -> summarize_run.
"""

from __future__ import annotations

from tiktok_portability.sync.options import OptionsError, SyncOptions, parse_snapshot_date
from tiktok_portability.sync.runtime import SyncRuntime

__all__ = ["OptionsError", "SyncOptions", "SyncRuntime", "parse_snapshot_date"]
