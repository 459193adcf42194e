"""What every task of the sync DAG derives from its Airflow context, computed in one place.

The run's options (params validated, a backfill forced to rebuild from the raw zone), the snapshot
date (the ``snapshot_date`` param, else the run's logical date in the sync's timezone) and the
core's runtime built from the connections.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from datetime import date
from functools import cached_property
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tiktok_portability.sync import SyncOptions, SyncRuntime

SYNC_TZ_ENV = "TIKTOK_SYNC_TIMEZONE"


def sync_timezone() -> str:
    return os.environ.get(SYNC_TZ_ENV, "UTC")


def snapshot_date_of(context: Any) -> date:
    """The ``snapshot_date`` param, else the run's logical date (or run_after) in the sync timezone."""
    import pendulum

    from tiktok_portability.sync import parse_snapshot_date

    chosen = (context.get("params") or {}).get("snapshot_date")
    if chosen:
        return parse_snapshot_date(chosen)
    when = context.get("logical_date") or context["dag_run"].run_after
    return pendulum.instance(when).in_timezone(sync_timezone()).date()


def options_of(context: Any) -> SyncOptions:
    """The run's options from its params; a backfill always rebuilds from the raw zone."""
    from tiktok_portability.sync import SyncOptions

    options = SyncOptions.from_params(context.get("params") or {})
    if context["dag_run"].run_type == "backfill":
        # TikTok only serves today's data: a past date can only be re-derived from the raw zone.
        options = replace(options, reprocess_from_raw=True)
    return options


@dataclass
class SyncTask:
    """One sync task's view of its run: ``SyncTask.of(context)``."""

    run_id: str
    options: SyncOptions
    snapshot_date: date

    @classmethod
    def of(cls, context: Any) -> SyncTask:
        return cls(context["run_id"], options_of(context), snapshot_date_of(context))

    @cached_property
    def runtime(self) -> SyncRuntime:
        from tiktok_portability_airflow.runtime import build_runtime

        return build_runtime()
