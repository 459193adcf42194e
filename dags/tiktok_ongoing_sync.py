"""Nightly ongoing sync of TikTok Data Portability exports into the lake.

For every user with a live ``portability.*.ongoing`` grant: make sure the access token is valid,
request a fresh export of the categories the grant allows, wait (deferred) until TikTok has it
ready, download it into the immutable raw zone and normalize it into the Parquet tables. Users are
processed in batches (``batch_size``) as a mapped task group, so batch k downloads while batch k+1
is still waiting; one user's failure is recorded with its reason and never fails the batch.

Trigger form (params): ``open_ids`` re-syncs only those users; ``retry_failed`` re-syncs the users
that failed on ``snapshot_date``; ``categories`` narrows what is requested; ``reprocess_from_raw``
rebuilds the lake for ``snapshot_date`` (default: the run's date) from the raw zone without calling
TikTok; ``dry_run`` plans and reports only. Backfill runs always reprocess from the raw zone. See
docs/sync.md for the Ops runbook.

After a summary that passed, ``raw_retention`` deletes raw archives older than
``TIKTOK_RAW_RETENTION_DAYS`` (default 30, 0 keeps everything), keeping each user's latest, with an
audit record under ``_audit/retention/`` (docs/lake.md, "Raw retention"); dry runs and rebuilds
skip it.

Schedule: ``TIKTOK_SYNC_CRON`` (default ``0 2 * * *``) in ``TIKTOK_SYNC_TIMEZONE`` (default UTC).
"""

from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.sdk import Asset, AssetAlias, Param, dag, task, task_group
from airflow.timetables.trigger import CronTriggerTimetable

from tiktok_portability.contract import PUBLIC_TABLES, SYNC_DAG_ID, asset_uri
from tiktok_portability_airflow.sensors import TikTokBatchReadySensor
from tiktok_portability_airflow.sync_task import sync_timezone

SYNC_CRON = os.environ.get("TIKTOK_SYNC_CRON", "0 2 * * *")
SYNC_TZ = sync_timezone()

POOL = "tiktok_api"
CATEGORY_CHOICES = ["all_data", "activity", "video", "profile", "direct_message"]

# summarize emits an Asset event through this alias for each table the run wrote rows to, and
# none for the others: a consumer scheduled on a table is not woken by a night that left it as is.
TABLES_ALIAS = AssetAlias(name="tiktok_portability.tables", group="tiktok_portability")
TABLE_ASSETS = {
    t: Asset(name=f"tiktok_portability.{t}", uri=asset_uri(t), group="tiktok_portability")
    for t in PUBLIC_TABLES
}

default_args = {
    "owner": "data-platform",
    "retries": 3,
    "retry_delay": timedelta(minutes=2),
    "retry_exponential_backoff": True,
    "execution_timeout": timedelta(hours=2),
}


def _sync(context):
    from tiktok_portability_airflow.sync_task import SyncTask

    return SyncTask.of(context)


@dag(
    dag_id=SYNC_DAG_ID,
    description="Nightly TikTok Data Portability ongoing sync into the Parquet lake",
    schedule=CronTriggerTimetable(SYNC_CRON, timezone=SYNC_TZ),
    start_date=pendulum.datetime(2026, 1, 1, tz=SYNC_TZ),
    catchup=False,
    max_active_runs=1,
    default_args=default_args,
    dagrun_timeout=timedelta(hours=20),
    tags=["tiktok", "portability", "sync"],
    doc_md=__doc__,
    params={
        "open_ids": Param(
            [],
            type=["array", "null"],
            items={"type": "string"},
            title="Re-sync only these users",
            description="open_ids to sync, one per line; empty: every user with an active ongoing grant. "
            "Requested users that cannot be synced (no grant, needs_reauth, no matching scope) are "
            "listed in the run summary with the reason.",
        ),
        "retry_failed": Param(
            False,
            type=["boolean", "null"],
            title="Retry the users that failed",
            description="Re-sync exactly the users whose last transfer for the snapshot date failed "
            "(with open_ids: only those of them). The action to take after a run failed on "
            "max_failure_rate, once the cause is fixed.",
        ),
        "categories": Param(
            [],
            type=["array", "null"],
            items={"type": "string", "enum": CATEGORY_CHOICES},
            examples=CATEGORY_CHOICES,  # the UI draws a multi-select from examples
            title="Categories",
            description="Request only these categories (each user still gets only what their grant "
            "allows); empty: everything each grant allows.",
        ),
        "batch_size": Param(
            500,
            type=["integer", "null"],
            minimum=1,
            maximum=100000,
            title="Users per batch",
            description="Users per mapped sync_batch. Raised so a run never maps more than 1,024 "
            "batches. When re-syncing or rebuilding a date already committed, users committed "
            "together stay in one batch (their files are rewritten as one), so a batch may be "
            "bigger; the plan task's log says so.",
        ),
        "reprocess_from_raw": Param(
            False,
            type=["boolean", "null"],
            title="Rebuild from the raw zone",
            description="Rebuild the lake for the snapshot date from the archives already downloaded, "
            "without calling TikTok (after a normalizer fix). Backfill runs always do this. Fails "
            "when the raw zone holds no archive for the date.",
        ),
        "dry_run": Param(
            False,
            type=["boolean", "null"],
            title="Dry run",
            description="Plan and report who would be synced; no TikTok call, no lake write.",
        ),
        "snapshot_date": Param(
            None,
            type=["null", "string"],
            format="date",
            title="Snapshot date",
            description="The lake partition to write or rebuild (YYYY-MM-DD); empty: the run's date.",
        ),
        "data_format": Param(
            "json",
            type=["string", "null"],
            enum=["json", "text", None],
            title="Export format",
            description="Format to request for users without their own preference: json (default) or text.",
        ),
        "max_failure_rate": Param(
            0.2,
            type=["number", "null"],
            minimum=0,
            maximum=1,
            title="Highest failure rate",
            description="The run fails (summarize) when more than this share of planned users "
            "failed; the others' rows are in the lake either way.",
        ),
        "wait_deadline_minutes": Param(
            360,
            type=["integer", "null"],
            minimum=1,
            title="Wait deadline (minutes)",
            description="Stop waiting for exports after this long; late ones are picked up by the next run.",
        ),
        "poll_interval_s": Param(
            60,
            type=["integer", "null"],
            minimum=1,
            title="Longest Check Status interval (s)",
            description="The longest pause between Check Status polls when no webhook arrives.",
        ),
    },
)
def tiktok_ongoing_sync():
    @task(pool=POOL)
    def plan(**context) -> list[int]:
        from tiktok_portability.sync.plan import plan_run

        run = _sync(context)
        return plan_run(run.runtime, run.run_id, run.snapshot_date, run.options)

    @task_group(group_id="sync_batch")
    def sync_batch(batch: int):
        # One batch submits at a time: all batches share the add quota, so submitting them together
        # would finish every batch's adds at the same late moment and leave the download quota idle
        # until then. In turn, batch k downloads (download quota) while batch k+1 submits (add quota).
        @task(pool=POOL, max_active_tis_per_dagrun=1)
        def submit(batch: int, **context) -> dict:
            from tiktok_portability.sync.submit import submit_batch

            run = _sync(context)
            return submit_batch(run.runtime, run.run_id, batch, run.options).to_dict()

        @task(pool=POOL)
        def download(batch: int, **context) -> dict:
            from tiktok_portability.sync.fetch import download_batch

            run = _sync(context)
            return download_batch(run.runtime, run.run_id, batch, run.snapshot_date, run.options).to_dict()

        @task
        def normalize(batch: int, **context) -> dict:
            from tiktok_portability.sync.load import normalize_batch

            run = _sync(context)
            return normalize_batch(run.runtime, run.run_id, batch, run.snapshot_date, run.options).to_dict()

        submitted = submit(batch)
        wait = TikTokBatchReadySensor(task_id="wait_ready", batch=batch, retries=1)
        fetched = download(batch)
        loaded = normalize(batch)
        submitted >> wait >> fetched >> loaded
        return loaded

    @task(outlets=[TABLES_ALIAS], trigger_rule="all_done", retries=1)
    def summarize(reports, **context) -> dict:
        from airflow.sdk.exceptions import AirflowFailException

        from tiktok_portability.sync.summary import SyncRunFailed, summarize_run

        run = _sync(context)
        try:
            # `reports` is the one report itself when the group mapped one batch (see step_reports_of).
            summary = summarize_run(run.runtime, run.run_id, run.options, reports)
        except SyncRunFailed as exc:
            raise AirflowFailException(str(exc)) from exc
        rows = summary.get("rows_per_table", {})
        for table in summary.get("tables_changed", []):
            context["outlet_events"][TABLES_ALIAS].add(
                TABLE_ASSETS[table],
                extra={"snapshot_date": summary.get("snapshot_date"), "rows": int(rows.get(table, 0))},
            )
        return summary

    # After a summary that passed: as the run's last task its state is the run's, so a night that
    # failed its summary must fail here too (upstream_failed) rather than end green. A skipped
    # night's expired archives go the next night (retention catches up).
    @task
    def raw_retention(**context) -> dict:
        from tiktok_portability.sync.retention import raw_retention

        run = _sync(context)
        return raw_retention(run.runtime, run.snapshot_date, run.options)

    summarize(sync_batch.expand(batch=plan())) >> raw_retention()


tiktok_ongoing_sync()
