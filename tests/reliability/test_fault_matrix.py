"""The fault matrix (issue 19): the nightly sync on the real scheduler stack, with faults injected.

One AirflowStack (PostgreSQL, LocalExecutor, scheduler, triggerer, dag-processor, api-server) for
the module, the session's emulator and moto_server behind a proxy the test controls
(``s3_proxy.S3FaultProxy``). The same five users are synced on the same snapshot date in every
night: before each night the emulator is reset and the users are created again with the same
open_ids and seeds, so TikTok serves the same export (version 1) every time, and each night writes
a lake of its own (the Variable ``tiktok_lake_uri``). Nights, in order:

1. ``reference``: undisturbed (local lake).
2. ``emulator``: one user each gets 429s on add and a dropped download; 503s on add and a truncated
   download; a download timeout and a lost download response; a revoked token; an expired request.
   Then a ``retry_failed`` run, the runbook's next step for the expired user.
3. ``kills`` (S3 lake): SIGKILL of the task process during batch 0's download (the emulator holds
   one download), batch 1's normalize (the proxy holds one raw-archive read) and batch 2's lake
   commit (the proxy holds the second table file's upload: one file of the batch is published).
4. ``postgres``: PostgreSQL stopped and started again while batch 1's add is in flight (the
   emulator answers it 5 s late, inside the 8 s outage) and batch 0 waits in the triggerer.
5. ``s3``: the lake's S3 answers 500 to everything for 10 s from inside batch 0's download (the
   emulator answers one download 4 s late), then every call 1.5 s late for 20 s.

Recovery is the runbook's (``harness.drive``): a task instance a fault left ``up_for_retry`` or
``failed`` is cleared through the REST API, an exited Airflow component is started again. Then the
lake must equal the reference's file for file: the same (table, date, batch) files, each with the
same rows (the lineage column ``request_id`` excluded: TikTok numbers every export anew), one raw
archive per synced user with the reference's bytes, one commit manifest per batch; and the state
store holds each user's expected outcome.
"""

from __future__ import annotations

import re
import shutil
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fixtures.emulator import EmulatorHandle
from tests.fixtures.s3 import S3_ENV
from tests.reliability import harness as h
from tests.reliability.s3_proxy import Rule, S3FaultProxy
from tests.scripts import airflow_stack
from tiktok_portability.client.models import TokenSet
from tiktok_portability.contract import SYNC_DAG_ID
from tiktok_portability.lake.keys import user_key
from tiktok_portability.state import StateStore
from tiktok_portability.sync.load import lake_batch_id
from tiktok_portability.sync.readiness import latest_per_user

pytestmark = [
    pytest.mark.airflow,
    pytest.mark.postgres,
    pytest.mark.scheduler,
    # One night (and the stack's start for the first) runs inside one test's fixture set-up.
    pytest.mark.timeout(600),
]

USERS = [f"reliability-user-{i}" for i in range(5)]
BATCH_SIZE = 2  # batches [0, 1], [2, 3], [4]
BUCKET = "reliability-lake"
# Every night writes the same partition, whatever the wall clock says when it runs.
DAY = datetime.now(UTC).date().isoformat()
REPORT: list[str] = []
EVENT_TABLES = (
    "watch_history",
    "likes",
    "favorites",
    "searches",
    "shares",
    "logins",
    "comments",
    "dm_messages",
)


@dataclass
class Deployment:
    stack: Any
    emulator: EmulatorHandle
    store: StateStore
    proxy: S3FaultProxy
    s3: Any
    scratch: Path


@pytest.fixture(scope="module")
def deployment(emulator_server, moto_server, tmp_path_factory):
    stack_module = airflow_stack()
    s3 = moto_server.client()
    s3.create_bucket(Bucket=BUCKET)
    with (
        S3FaultProxy(moto_server.endpoint_url) as proxy,
        httpx.Client(base_url=emulator_server.base_url, timeout=60) as admin,
    ):
        emulator = EmulatorHandle(emulator_server, admin)
        conn = {
            "host": emulator.base_url,
            "login": emulator.client_key,
            "password": emulator.client_secret,
            "extra": {"webhooks_enabled": True, "max_retries": 3, "timeout_s": 10},
        }
        env = {**S3_ENV, "AWS_ENDPOINT_URL": proxy.endpoint_url}
        with stack_module.AirflowStack(tiktok_conn=conn, extra_env=env, parallelism=8) as stack:
            store = StateStore.from_url(stack.state_url, [stack.fernet_key])
            try:
                yield Deployment(stack, emulator, store, proxy, s3, tmp_path_factory.mktemp("lakes"))
            finally:
                store.close()
                print("\n".join(REPORT))


def fresh_world(dep: Deployment) -> None:
    """TikTok as on a new night of the same date: the same users, nothing requested yet."""
    emulator = dep.emulator
    emulator._call("POST", "/_admin/reset")
    emulator.configure(webhook_url=f"{dep.stack.api_url}/tiktok/webhook")
    for i, open_id in enumerate(USERS):
        emulator.create_user(open_id=open_id, seed=7000 + i, generation=f"G{i % 4}")
        body = emulator.issue_tokens(open_id)
        dep.store.upsert_grant(open_id, body["scope"], TokenSet.from_response(body))


def start(dep: Deployment, name: str, lake_uri: str, **conf: Any) -> h.Night:
    h.set_lake(dep.stack, lake_uri)
    run_id = dep.stack.trigger(
        SYNC_DAG_ID, {"batch_size": BATCH_SIZE, "poll_interval_s": 5, "snapshot_date": DAY, **conf}
    )
    return h.Night(name, run_id, lake_uri)


def outcomes(dep: Deployment, run_id: str) -> dict[str, str]:
    """open_id -> the status of its transfer in the run (with the failure category, if any)."""
    out = {}
    for t in latest_per_user(dep.store.transfers_for_run(run_id)):
        reason = (t.failure_reason or "").split(":")[0]
        out[t.open_id] = f"{t.status}:{reason}" if reason else t.status
    return out


def local_lake(dep: Deployment, night: h.Night) -> Path:
    return h.lake_files(night.lake_uri, dep.s3, dep.scratch / night.name)


def report(night: h.Night, **facts: Any) -> None:
    REPORT.append(
        f"{night.name}: {night.state} in {night.wall_s:.0f} s; tries {night.tries()}; "
        f"{'; '.join(night.events)}; {facts}"
    )


# ---- the nights ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def reference(deployment):
    fresh_world(deployment)
    night = h.drive(deployment.stack, start(deployment, "reference", str(deployment.scratch / "reference")))
    lake = local_lake(deployment, night)
    report(night, outcomes=outcomes(deployment, night.run_id))
    return {"night": night, "lake": lake, "files": h.rows_by_file(lake, USERS)}


def emulator_faults(emulator: EmulatorHandle) -> dict[str, str]:
    """Every emulator fault on a user of its own (two per user where they hit different calls)."""
    u = USERS
    emulator.fault("rate_limit_burst", endpoint="add", open_id=u[0], count=2, retry_after_s=1)
    emulator.fault("drop_download", open_id=u[0])
    emulator.fault("server_error", endpoint="add", open_id=u[1], count=2, status=503)
    emulator.fault("truncate_zip", open_id=u[1])
    emulator.fault("timeout", endpoint="download", open_id=u[2], delay_s=12)
    emulator.fault("lose_response", endpoint="download", open_id=u[2])
    emulator.fault("revoke_token", endpoint="add", open_id=u[3])
    emulator.fault("expire_request", endpoint="download", open_id=u[4])
    return {
        u[0]: "normalized",
        u[1]: "normalized",
        u[2]: "normalized",
        # The add's 401 sends the user's refresh to TikTok (invalid_grant: needs_reauth) unless
        # their authorization.removed webhook landed first (the grant is revoked: grant_inactive).
        u[3]: "failed:needs_reauth|failed:grant_inactive",
        u[4]: "expired",
    }


@pytest.fixture(scope="module")
def emulator_night(deployment, reference):
    fresh_world(deployment)
    expected = emulator_faults(deployment.emulator)
    # Two of five users cannot end synced tonight (revoked, expired): allow them.
    night = start(deployment, "emulator", str(deployment.scratch / "emulator"), max_failure_rate=0.5)
    h.drive(deployment.stack, night)
    got = outcomes(deployment, night.run_id)
    fired = [e for e in deployment.emulator.log() if e.get("fault")]
    report(night, outcomes=got, faults_fired=sorted({(e["endpoint"], e["fault"]) for e in fired}))
    # The lake as this night left it, before the retry adds the expired user.
    tonight = shutil.copytree(night.lake_uri, deployment.scratch / "emulator-night")
    retry = start(deployment, "emulator-retry_failed", night.lake_uri, retry_failed=True)
    h.drive(deployment.stack, retry)
    report(retry, outcomes=outcomes(deployment, retry.run_id))
    return {
        "night": night,
        "lake": tonight,
        "retry": retry,
        "expected": expected,
        "outcomes": got,
        "retry_outcomes": outcomes(deployment, retry.run_id),
        "fired": fired,
        "grants": deployment.store.grant_statuses(USERS),
    }


def kill_download(dep: Deployment, victim: str) -> h.Injection:
    """SIGKILL download[0] while the emulator holds ``victim``'s download (a ``slow`` fault)."""
    dep.emulator.fault("slow", endpoint="download", open_id=victim, delay_s=40)

    def step(night: h.Night, tis: dict) -> bool:
        ti = tis.get(("sync_batch.download", 0))
        if ti is None or ti["state"] != "running":
            return False
        if any(f["kind"] == "slow" for f in dep.emulator._call("GET", "/_admin/faults")["active"]):
            return False  # the held download has not started yet
        pid = h.sigkill_task(dep.stack, ti)
        night.note(f"download[0] SIGKILLed (pid {pid}) inside a download")
        return True

    return step


def kill_on_hold(dep: Deployment, rule: Rule, task: tuple[str, int], what: str) -> h.Injection:
    """SIGKILL the task instance ``task`` once the proxy holds the request ``rule`` matches."""
    dep.proxy.add(rule)

    def step(night: h.Night, tis: dict) -> bool:
        if not rule.reached.is_set():
            return False
        pid = h.sigkill_task(dep.stack, tis[task])
        h.wait_for(lambda: h.task_pid(dep.stack, tis[task]["id"]) is None, 30, "the task process to go")
        rule.release()
        night.note(f"{task[0]}[{task[1]}] SIGKILLed (pid {pid}) {what}")
        return True

    return step


@pytest.fixture(scope="module")
def kills_night(deployment, reference):
    fresh_world(deployment)
    night = start(deployment, "kills", f"s3://{BUCKET}/kills")
    raw_zip = rf"/kills/raw/snapshot_date={DAY}/user={user_key(USERS[2])}/\d+\.zip$"
    table_file = rf"/kills/[a-z_]+/snapshot_date={DAY}/batch-{lake_batch_id(night.run_id, 2)}\.parquet"
    injections = [
        kill_download(deployment, USERS[0]),
        kill_on_hold(
            deployment,
            Rule("hold", path=raw_zip, method="GET", count=1),
            ("sync_batch.normalize", 1),
            "while reading a raw archive",
        ),
        kill_on_hold(
            deployment,
            Rule("hold", path=table_file, method="PUT", skip=1, count=1),
            ("sync_batch.normalize", 2),
            "in the commit, one table file published",
        ),
    ]
    try:
        h.drive(deployment.stack, night, injections)
    finally:
        deployment.proxy.clear()
    report(night, outcomes=outcomes(deployment, night.run_id))
    return {"night": night, "outcomes": outcomes(deployment, night.run_id)}


@pytest.fixture(scope="module")
def postgres_night(deployment, reference):
    """PostgreSQL goes away while batch 1 submits: its add is answered while the store is down."""
    fresh_world(deployment)
    emulator = deployment.emulator
    emulator.fault("slow", endpoint="add", open_id=USERS[2], delay_s=5)
    night = start(deployment, "postgres", str(deployment.scratch / "postgres"))

    def restart(night: h.Night, tis: dict) -> bool:
        if any(f["kind"] == "slow" for f in emulator._call("GET", "/_admin/faults")["active"]):
            return False  # user 2's add has not reached TikTok yet
        h.restart_postgres(deployment.stack, down_s=8)
        night.note("PostgreSQL stopped for 8 s, then started again, during submit[1]'s add")
        return True

    h.drive(deployment.stack, night, [restart])
    adds = [e for e in emulator.log(endpoint="add") if e["status"] == 200]
    submit = next(t for t in night.tis if (t["task_id"], t["map_index"]) == ("sync_batch.submit", 1))
    submit_log = "\n".join(
        deployment.stack.task_log(SYNC_DAG_ID, night.run_id, "sync_batch.submit", n, 1)
        for n in range(1, submit["try_number"] + 1)
    )
    report(night, outcomes=outcomes(deployment, night.run_id), adds=len(adds))
    return {
        "night": night,
        "outcomes": outcomes(deployment, night.run_id),
        "adds": adds,
        "submit_log": submit_log,
    }


@pytest.fixture(scope="module")
def s3_night(deployment, reference):
    fresh_world(deployment)
    night = start(deployment, "s3", f"s3://{BUCKET}/s3faults")
    proxy = deployment.proxy
    rules: dict[str, Rule] = {}
    # User 0's download is answered 4 s late, so the outage starts while batch 0 downloads.
    deployment.emulator.fault("slow", endpoint="download", open_id=USERS[0], delay_s=4)

    def outage(night: h.Night, tis: dict) -> bool:
        if any(f["kind"] == "slow" for f in deployment.emulator._call("GET", "/_admin/faults")["active"]):
            return False
        now = _after(0)
        rules["500"] = proxy.add(Rule("fail", path="/s3faults/", status=500, until=now + 10))
        rules["slow"] = proxy.add(
            Rule("delay", path="/s3faults/", delay_s=1.5, start=now + 10, until=now + 30)
        )
        night.note("S3 answered 500 to every call for 10 s from inside download[0], then 1.5 s late for 20 s")
        return True

    try:
        h.drive(deployment.stack, night, [outage])
    finally:
        proxy.clear()
    report(
        night,
        outcomes=outcomes(deployment, night.run_id),
        s3_500s=rules["500"].acted,
        s3_delayed=rules["slow"].acted,
    )
    return {"night": night, "outcomes": outcomes(deployment, night.run_id), "rules": rules}


def _after(seconds: float) -> float:
    import time

    return time.monotonic() + seconds


# ---- what must hold after each night ---------------------------------------------------------


def assert_lake_equals_reference(
    dep: Deployment, reference: dict, night: h.Night, users: list[str], lake: Path | None = None
) -> None:
    lake = lake or local_lake(dep, night)
    expected = h.rows_by_file(reference["lake"], users)
    got = h.rows_by_file(lake, users)
    problems = h.diff(expected, got)
    assert not problems, f"{night.name}: {problems}; events {night.events}"
    strangers = set(h.rows_by_file(lake, USERS)) - set(got)
    assert not strangers, f"{night.name}: files of users who should not be in it: {strangers}"
    assert h.count_rows(got) == h.count_rows(expected) > 0
    # The raw zone: one archive per synced user, the same bytes as the reference's.
    ref_raw, got_raw = h.raw_archives(reference["lake"], users), h.raw_archives(lake, USERS)
    assert {u: got_raw[u] for u in users} == ref_raw
    assert all(not got_raw[u] for u in USERS if u not in users), got_raw
    # One commit manifest per batch: every batch's commit was completed.
    batches = {key[2] for key in got}
    manifests = {p.stem.rsplit("-", 1)[-1] for p in lake.glob(f"_commits/snapshot_date={DAY}/batch-*.json")}
    assert manifests == batches


def test_the_reference_night_syncs_every_user(reference, deployment):
    night = reference["night"]
    assert night.state == "success", (night.events, night.problems)
    assert outcomes(deployment, night.run_id) == dict.fromkeys(USERS, "normalized")
    assert {k[2] for k in reference["files"]} == {"b00000", "b00001", "b00002"}
    assert not night.tries(), "an undisturbed night needs no retry"


def test_emulator_faults_cost_only_the_users_who_cannot_sync_tonight(emulator_night, reference, deployment):
    night = emulator_night["night"]
    assert night.state == "success", (night.events, night.problems)
    got, expected = emulator_night["outcomes"], emulator_night["expected"]
    assert got.keys() == expected.keys()
    assert all(got[u] in expected[u].split("|") for u in USERS), got
    # Left out of every sync until the user consents again: revoked by the authorization.removed
    # webhook, or needs_reauth when the refused refresh was recorded after the webhook came.
    assert emulator_night["grants"][USERS[3]] in ("revoked", "needs_reauth")
    fired = {(e["open_id"], e["fault"]) for e in emulator_night["fired"]}
    for kind, who in [
        ("rate_limit_burst", 0),
        ("drop_download", 0),
        ("server_error", 1),
        ("truncate_zip", 1),
        ("timeout", 2),
        ("lose_response", 2),
        ("revoke_token", 3),
        ("expire_request", 4),
    ]:
        assert (USERS[who], kind) in fired, (kind, fired)
    # No task failed: every fault was one user's, absorbed by the client or recorded on the user.
    assert not night.events
    assert not night.tries()
    assert_lake_equals_reference(deployment, reference, night, USERS[:3], emulator_night["lake"])


def test_the_expired_user_is_recovered_by_retry_failed_without_losing_a_row(
    emulator_night, reference, deployment
):
    retry = emulator_night["retry"]
    assert retry.state == "success", (retry.events, retry.problems)
    assert emulator_night["retry_outcomes"] == {USERS[4]: "normalized"}
    lake = local_lake(deployment, retry)
    # TikTok's next export of the user is a newer version: it holds every event of the first one
    # and more (follower sets and profiles may have changed, so only event tables compare).
    expected = h.rows_by_file(reference["lake"], [USERS[4]])
    got = h.rows_by_file(lake, [USERS[4]], retry.run_id)
    assert got
    assert h.rows_by_file(lake, [USERS[4]], emulator_night["night"].run_id) == {}
    for table in EVENT_TABLES:
        ref_rows = sum((rows for key, rows in expected.items() if key[0] == table), Counter())
        got_files = [rows for key, rows in got.items() if key[0] == table]
        assert len(got_files) <= 1, (table, "the user's rows are in one batch file")
        missing = ref_rows - (got_files[0] if got_files else Counter())
        assert not missing, (table, sum(missing.values()), "rows of the undisturbed night lost")
    # ... and the files of the night itself are untouched by the retry.
    night = emulator_night["night"]
    digest = lake_batch_id(night.run_id, 0).rsplit("-", 1)[0]
    for path in emulator_night["lake"].glob("*/snapshot_date=*/*.parquet"):
        assert (lake / path.relative_to(emulator_night["lake"])).read_bytes() == path.read_bytes()
        assert digest in path.name


def test_sigkilled_tasks_are_recovered_by_clearing_them(kills_night, reference, deployment):
    night = kills_night["night"]
    assert night.state == "success", (night.events, night.problems)
    assert kills_night["outcomes"] == dict.fromkeys(USERS, "normalized")
    killed = [e for e in night.events if "SIGKILLed" in e]
    assert len(killed) == 3, night.events
    assert {k for k in night.tries()} >= {
        "sync_batch.download[0]",
        "sync_batch.normalize[1]",
        "sync_batch.normalize[2]",
    }
    assert_lake_equals_reference(deployment, reference, night, USERS)


def test_a_postgres_restart_mid_run_loses_nothing(postgres_night, reference, deployment):
    night = postgres_night["night"]
    assert night.state == "success", (night.events, night.problems)
    assert postgres_night["outcomes"] == dict.fromkeys(USERS, "normalized")
    assert sorted(e["open_id"] for e in postgres_night["adds"]) == USERS, "one add per user"
    # The add was answered inside the outage, and the step waited for the store to record it.
    assert "state store unreachable recording request_id" in postgres_night["submit_log"]
    assert_lake_equals_reference(deployment, reference, night, USERS)


def test_s3_errors_and_slowness_lose_nothing(s3_night, reference, deployment):
    night = s3_night["night"]
    assert night.state == "success", (night.events, night.problems)
    assert s3_night["outcomes"] == dict.fromkeys(USERS, "normalized")
    assert s3_night["rules"]["500"].acted > 0
    assert s3_night["rules"]["slow"].acted > 0
    assert_lake_equals_reference(deployment, reference, night, USERS)


def test_table_files_are_named_by_run_and_batch(reference):
    # Why the comparison matches files on the batch number: the name embeds the run's digest.
    night = reference["night"]
    names = {p.name for p in reference["lake"].glob("*/snapshot_date=*/batch-*.parquet")}
    run_digest = lake_batch_id(night.run_id, 0).rsplit("-", 1)[0]
    assert names
    assert all(re.fullmatch(rf"batch-{run_digest}-b0000[0-2]\.parquet", n) for n in names), names
