"""The nightly ongoing sync as plain functions over batches; the DAG maps them, the CLI chains them.

Steps, each idempotent for its (run_id, batch): plan_run -> submit_batch -> wait (poll_round /
wait_for_batch) -> download_batch -> normalize_batch -> summarize_run. Names below are imported
on first use so that the CLI and DAG files stay cheap to import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tiktok_portability._lazy import lazy_getattr

_EXPORTS: dict[str, str] = {
    "OptionsError": "tiktok_portability.sync.options",
    "SyncOptions": "tiktok_portability.sync.options",
    "SyncRuntime": "tiktok_portability.sync.runtime",
    "parse_snapshot_date": "tiktok_portability.sync.options",
}

if TYPE_CHECKING:
    from tiktok_portability.sync.options import OptionsError, SyncOptions, parse_snapshot_date
    from tiktok_portability.sync.runtime import SyncRuntime

__all__ = [
    "OptionsError",
    "SyncOptions",
    "SyncRuntime",
    "parse_snapshot_date",
]


__getattr__ = lazy_getattr(__name__, _EXPORTS, globals())
