"""tiktok_ongoing_sync under a real scheduler: several batches, one batch, zero batches.

The processes of ``airflow standalone`` (scheduler, triggerer, dag-processor, api-server) on
PostgreSQL with the LocalExecutor (``scripts/airflow_stack.py``), shared by every run of this
module; runs are triggered through the REST API and the emulator delivers its webhooks to the
plugin's endpoint on the API server. What ``airflow dags test`` cannot show: the waits really
defer to the triggerer, mapped batches run in worker processes, webhooks reach the API server, and
a mapped group of ONE instance hands its downstream task the one value instead of a list.

Runs, in order: a night of 10 users in three batches; a re-sync in one batch where one user's
archive is always corrupt and no failure is tolerated (fails, naming ``retry_failed``); the
``retry_failed`` run (one batch of that one user); an ``open_ids`` run of a needs_reauth user and an
unknown one (zero batches); a backfill of a date with no raw archive (fails: nothing rebuilt).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import duckdb
import httpx
import pytest

from tests.fixtures.emulator import EmulatorHandle
from tests.scripts import airflow_stack
from tests.sync.harness import truth
from tiktok_portability.client.models import TokenSet
from tiktok_portability.contract import SYNC_DAG_ID
from tiktok_portability.state import StateStore

pytestmark = [pytest.mark.airflow, pytest.mark.postgres, pytest.mark.scheduler]

USERS = 10
BATCH_SIZE = 4
EVENT_TABLES = ("watch_history", "likes", "searches", "dm_messages", "logins", "comments")


@pytest.fixture(scope="module")
def deployment(emulator_server):
    """The stack, the emulator and the users, then the first night (three batches)."""
    stack_module = airflow_stack()
    with httpx.Client(base_url=emulator_server.base_url, timeout=60) as admin:
        assert admin.post("/_admin/reset").status_code == 200
        emulator = EmulatorHandle(emulator_server, admin)
        conn = {
            "host": emulator.base_url,
            "login": emulator.client_key,
            "password": emulator.client_secret,
            "extra": {"webhooks_enabled": True, "max_retries": 3},
        }
        with stack_module.AirflowStack(tiktok_conn=conn, parallelism=8) as stack:
            emulator.configure(webhook_url=f"{stack.api_url}/tiktok/webhook")
            store = StateStore.from_url(stack.state_url, [stack.fernet_key])
            users = []
            for i in range(USERS):
                open_id = emulator.create_user(scopes=["portability.all.ongoing"], generation=f"G{i % 4}")[
                    "open_id"
                ]
                body = emulator.issue_tokens(open_id)
                store.upsert_grant(open_id, body["scope"], TokenSet.from_response(body))
                users.append(open_id)
            since = emulator.now() - 1
            run_id = stack.trigger(SYNC_DAG_ID, {"batch_size": BATCH_SIZE, "poll_interval_s": 5})
            state = stack.wait(SYNC_DAG_ID, run_id, timeout=240)
            tis = stack.task_instances(SYNC_DAG_ID, run_id)
            waits = [t for t in tis if t["task_id"] == "sync_batch.wait_ready"]
            yield {
                "state": state,
                "stack": stack,
                "run_id": run_id,
                "tis": tis,
                "wait_logs": [
                    stack.task_log(SYNC_DAG_ID, run_id, t["task_id"], t["try_number"], t["map_index"])
                    for t in waits
                ],
                "problems": stack.problem_logs(SYNC_DAG_ID, run_id),
                "summary": stack.xcom(SYNC_DAG_ID, run_id, "summarize") if state == "success" else None,
                "log": emulator.log(since=since),
                "webhooks": emulator.webhooks(),
                "store": store,
                "users": users,
                "emulator": emulator,
                "lake": Path(stack.lake_uri),
            }
            store.close()


@pytest.fixture(scope="module")
def night(deployment):
    return deployment


def _run(deployment, conf: dict, timeout: float = 240) -> dict:
    """Trigger one run with ``conf``, wait for it; its state, task instances and summarize's log."""
    stack = deployment["stack"]
    run_id = stack.trigger(SYNC_DAG_ID, {"poll_interval_s": 5, **conf})
    state = stack.wait(SYNC_DAG_ID, run_id, timeout=timeout)
    tis = stack.task_instances(SYNC_DAG_ID, run_id)
    summarize = next(t for t in tis if t["task_id"] == "summarize")
    return {
        "run_id": run_id,
        "state": state,
        "tis": tis,
        "problems": stack.problem_logs(SYNC_DAG_ID, run_id),
        "summarize_log": "\n".join(
            stack.task_log(SYNC_DAG_ID, run_id, "summarize", n) for n in range(1, summarize["try_number"] + 1)
        )
        if summarize["try_number"]
        else "",
        "summary": stack.xcom(SYNC_DAG_ID, run_id, "summarize") if state == "success" else None,
        "asset_events": stack.api("GET", "/assets/events", params={"source_run_id": run_id, "limit": 100})[
            "asset_events"
        ],
    }


@pytest.fixture(scope="module")
def one_batch_with_a_failure(deployment):
    """All 10 users again in ONE batch; one archive is always corrupt; no failure tolerated."""
    emulator, broken = deployment["emulator"], deployment["users"][0]
    emulator.fault("corrupt_zip", open_id=broken, count=None)
    try:
        return _run(deployment, {"batch_size": 500, "max_failure_rate": 0})
    finally:
        emulator.clear_faults()


@pytest.fixture(scope="module")
def retry_failed(deployment, one_batch_with_a_failure):
    """What the failure message says to do: re-sync the users that failed, once the cause is gone."""
    return _run(deployment, {"retry_failed": True})


@pytest.fixture(scope="module")
def zero_batches(deployment, retry_failed):
    """A re-sync of a user who must consent again and of an open_id nobody knows: nothing to map."""
    deployment["store"].mark_grant(deployment["users"][1], "needs_reauth", "token refused")
    return _run(deployment, {"open_ids": [deployment["users"][1], "nobody-we-know"]})


@pytest.fixture(scope="module")
def empty_backfill(deployment, zero_batches):
    """A rebuild of a date the raw zone has no archive of."""
    return _run(deployment, {"reprocess_from_raw": True, "snapshot_date": "2020-01-01"})


def _diagnostics(night) -> str:
    states = Counter((t["task_id"], t["state"]) for t in night["tis"])
    return f"{states}\n{night['problems']}"


def test_the_run_triggered_through_the_rest_api_succeeds(night):
    assert night["state"] == "success", _diagnostics(night)
    batches = [t for t in night["tis"] if t["task_id"] == "sync_batch.submit"]
    assert sorted(t["map_index"] for t in batches) == [0, 1, 2]
    assert {t["state"] for t in night["tis"]} == {"success"}


def test_each_batch_wait_was_deferred_to_the_triggerer(night):
    assert len(night["wait_logs"]) == 3
    for log in night["wait_logs"]:
        assert "Pausing task as DEFERRED" in log, log[-2000:]
    # The triggerer writes what the trigger logged next to the task's log: one file per batch.
    logs = night["stack"].logs_dir / f"dag_id={SYNC_DAG_ID}" / f"run_id={night['run_id']}"
    for batch in range(3):
        found = list(
            (logs / "task_id=sync_batch.wait_ready" / f"map_index={batch}").glob("*.log.trigger.*.log")
        )
        assert found, f"no trigger log for batch {batch}"
        assert f"poll round run_id={night['run_id']} batch={batch}" in found[0].read_text()


def test_readiness_came_by_webhook_through_the_api_server(night):
    assert night["store"].webhook_event_count("portability.download.ready") == USERS
    assert {d["state"] for d in night["webhooks"]} == {"delivered"}
    assert [e for e in night["log"] if e["endpoint"] == "check"] == []
    calls = Counter((e["endpoint"], e["open_id"]) for e in night["log"] if e["status"] == 200)
    assert {k: n for k, n in calls.items() if k[0] in ("add", "download") and n != 1} == {}


def test_the_lake_holds_every_users_rows(night):
    con = duckdb.connect()
    emulator, lake = night["emulator"], night["lake"]
    for table in EVENT_TABLES:
        got = dict(
            con.execute(
                f"select open_id, count(*) from read_parquet('{lake / table}/*/*.parquet', "
                "hive_partitioning=true) group by open_id"
            ).fetchall()
        )
        for open_id in night["users"]:
            expected = len(getattr(truth(emulator, open_id, 1), table))
            assert got.get(open_id, 0) == expected, (table, open_id)


def test_summarize_returned_the_run_summary_as_xcom(night):
    summary = night["summary"]
    assert summary is not None, _diagnostics(night)
    assert summary["users_planned"] == USERS
    assert summary["users_synced"] == USERS


def test_a_one_batch_run_that_failed_users_fails_naming_the_action(one_batch_with_a_failure):
    run = one_batch_with_a_failure
    assert run["state"] == "failed", _diagnostics(run)
    assert sorted(t["map_index"] for t in run["tis"] if t["task_id"] == "sync_batch.normalize") == [0]
    assert "1 of 10 users failed" in run["summarize_log"], run["summarize_log"][-3000:]
    assert '"retry_failed": true' in run["summarize_log"]
    assert "AttributeError" not in run["summarize_log"]
    assert run["asset_events"] == []


def test_retry_failed_resyncs_exactly_the_failed_user_in_one_batch(deployment, retry_failed):
    run = retry_failed
    assert run["state"] == "success", _diagnostics(run)
    assert [t["map_index"] for t in run["tis"] if t["task_id"] == "sync_batch.submit"] == [0]
    assert deployment["store"].batch_members(run["run_id"], 0) == [deployment["users"][0]]
    summary = run["summary"]
    assert summary["users_planned"] == summary["users_synced"] == 1
    assert summary["batches"] == 1
    changed = {e["uri"].rsplit("/", 1)[-1] for e in run["asset_events"]}
    assert changed == set(summary["tables_changed"])
    assert changed, "a re-sync that wrote rows emits their tables' Asset events"
    assert "rows added" in run["summarize_log"]


def test_a_run_of_zero_batches_ends_with_a_summary_listing_who_was_left_out(zero_batches):
    run = zero_batches
    assert run["state"] == "success", _diagnostics(run)
    assert [t for t in run["tis"] if t["task_id"].startswith("sync_batch.") and t["map_index"] >= 0] == []
    summary = run["summary"]
    assert summary["users_planned"] == 0
    assert summary["batches"] == 0
    assert [(e["index"], e["reason"].split(":")[0]) for e in summary["left_out"]] == [
        (0, "needs_reauth"),
        (1, "unknown_user"),
    ]
    assert run["asset_events"] == []


def test_a_backfill_with_nothing_to_rebuild_fails_plainly_and_emits_no_asset_event(empty_backfill):
    run = empty_backfill
    assert run["state"] == "failed", _diagnostics(run)
    assert "nothing could be rebuilt for snapshot_date 2020-01-01" in run["summarize_log"]
    assert run["asset_events"] == []
