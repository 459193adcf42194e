"""The nightly ongoing sync as plain functions over batches; the DAG maps them, the CLI chains them.

Steps, each idempotent for its (run_id, batch): plan_run -> submit_batch -> wait (poll_round /
wait_for_batch) -> download_batch -> normalize_batch -> summarize_run. Names below are imported
on first use so that the CLI and DAG files stay cheap to import.
"""

from __future__ import annotations

from tiktok_portability._lazy import lazy_exports

__getattr__, __all__ = lazy_exports(
    __name__,
    globals(),
    {
        "tiktok_portability.sync.options": (
            "OptionsError",
            "SyncOptions",
            "parse_snapshot_date",
        ),
        "tiktok_portability.runtime": ("SyncRuntime",),
    },
)
