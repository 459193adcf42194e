"""tiktok_ongoing_sync on the CeleryExecutor with two real workers, against a LocalExecutor night.

The stack of ``scripts/airflow_stack.py`` with ``executor="CeleryExecutor"``: PostgreSQL (metadata,
Celery results, state store), a real redis-server as the broker, scheduler, triggerer,
dag-processor, api-server and two ``airflow celery worker`` processes, each in its own working
directory, temp dir and scratch dir. The lake is on S3 (``moto_server``), so the only way a batch's
archives reach its normalize task is the raw zone; webhooks go to the api-server.

Download and normalize of a batch are put on different workers on purpose, deterministically: a
cluster policy (``task_instance_mutation_hook``) sends batch k's download to one worker's queue and
its normalize to the other's; every other task is on the shared ``default`` queue. Left to Celery,
both could land on one worker, and the hand-off through S3 would go untested in that run.

Then the same night again on a fresh LocalExecutor stack: the emulator reset, the same users (open
ids and seeds), the same snapshot date. Exports are a function of (user, seed, version), so both
lakes must hold the same files with the same rows; what differs by nature is named and mapped (the
request ids TikTok draws at random, the run id in batch file names, the wall-clock fetch time).

The quota is small (per 3-second window) so that the two workers' calls press against it: the
emulator's request log, window by window, never holds more calls of an endpoint than the quota.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import time
from collections import Counter

import httpx
import pyarrow as pa
import pyarrow.ipc
import pyarrow.parquet as pq
import pytest

from tests.fixtures.emulator import EmulatorHandle
from tests.fixtures.s3 import S3_ENV
from tests.scripts import airflow_stack
from tiktok_portability.client.models import TokenSet
from tiktok_portability.contract import SYNC_DAG_ID
from tiktok_portability.emulator.requestlog import busiest_window
from tiktok_portability.state import StateStore

pytestmark = [
    pytest.mark.airflow,
    pytest.mark.postgres,
    pytest.mark.scheduler,
    pytest.mark.slow,
    pytest.mark.timeout(600),
]

USERS = 200
BATCH_SIZE = 50
BATCHES = USERS // BATCH_SIZE
SNAPSHOT_DATE = "2026-03-02"
# Calls per endpoint per window, enforced by the emulator and configured on the connection.
QUOTA, QUOTA_WINDOW_S = 30, 3.0
WORKERS = ("worker1", "worker2")

# Batch k downloads on one worker and normalizes on the other (k even: worker1 then worker2).
ROUTING = """
HANDOFF = {"sync_batch.download": 0, "sync_batch.normalize": 1}


def task_instance_mutation_hook(task_instance, dag_run=None):
    side = HANDOFF.get(task_instance.task_id)
    if side is not None and task_instance.map_index >= 0:
        task_instance.queue = f"worker{(task_instance.map_index + side) % 2 + 1}"
"""

# Request ids are 2**60 + 62 random bits: always 19 digits.
REQUEST_ID = re.compile(r"(?<!\d)\d{19}(?!\d)")
RUN_IN_BATCH_ID = re.compile(r"r[0-9a-f]{12}-b(\d{5})")
# Written when the export was fetched or committed: wall-clock time, not data.
VOLATILE_KEYS = frozenset({"fetched_at", "committed_at", "created_at"})


def _night(emulator_server, moto_server, bucket: str, executor: str) -> dict:
    """A fresh stack on ``executor``; the emulator reset and the same users; one run, waited for."""
    celery = executor == "CeleryExecutor"
    with httpx.Client(base_url=emulator_server.base_url, timeout=60) as admin:
        assert admin.post("/_admin/reset").status_code == 200
        emulator = EmulatorHandle(emulator_server, admin)
        emulator.configure(quota_per_minute=QUOTA, quota_window_s=QUOTA_WINDOW_S)
        conn = {
            "host": emulator.base_url,
            "login": emulator.client_key,
            "password": emulator.client_secret,
            "extra": {
                "webhooks_enabled": True,
                "max_retries": 3,
                "quota_per_window": QUOTA,
                "quota_window_s": QUOTA_WINDOW_S,
            },
        }
        env = {**S3_ENV, "AWS_ENDPOINT_URL": moto_server.endpoint_url}
        started = time.monotonic()
        with airflow_stack().AirflowStack(
            tiktok_conn=conn,
            extra_env=env,
            lake_uri=f"s3://{bucket}/{executor}",
            executor=executor,
            parallelism=8,
            celery_workers=len(WORKERS),
            worker_queues=[[name] for name in WORKERS],
            local_settings=ROUTING if celery else None,
        ) as stack:
            emulator.configure(webhook_url=f"{stack.api_url}/tiktok/webhook")
            store = StateStore.from_url(stack.state_url, [stack.fernet_key])
            try:
                for i in range(USERS):
                    open_id = f"celery-night-{i:04d}"
                    emulator.create_user(
                        open_id=open_id, seed=i, scopes=["portability.all.ongoing"], generation=f"G{i % 4}"
                    )
                    body = emulator.issue_tokens(open_id)
                    store.upsert_grant(open_id, body["scope"], TokenSet.from_response(body))
            finally:
                store.close()
            since = emulator.now() - 1
            run_started = time.monotonic()
            run_id = stack.trigger(
                SYNC_DAG_ID,
                {"batch_size": BATCH_SIZE, "poll_interval_s": 5, "snapshot_date": SNAPSHOT_DATE},
            )
            state = stack.wait(SYNC_DAG_ID, run_id, timeout=420)
            run_s = time.monotonic() - run_started
            tis = stack.task_instances(SYNC_DAG_ID, run_id)
            return {
                "state": state,
                "run_id": run_id,
                "tis": tis,
                "problems": stack.problem_logs(SYNC_DAG_ID, run_id)[-12000:]
                if state != "success" or any(t["state"] != "success" for t in tis)
                else "",
                "summary": stack.xcom(SYNC_DAG_ID, run_id, "summarize") if state == "success" else None,
                "log": emulator.log(since=since),
                "lake": _lake_files(moto_server, bucket, f"{executor}/"),
                "run_s": run_s,
                "startup_s": stack.startup_s.get("api_server"),
                "stack_s": time.monotonic() - started,
            }


def _lake_files(moto_server, bucket: str, prefix: str) -> dict[str, bytes]:
    """Every object under ``prefix``, by key relative to it."""
    client = moto_server.client()
    out = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            body = client.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
            out[obj["Key"][len(prefix) :]] = body
    return out


@pytest.fixture(scope="module")
def bucket(moto_server) -> str:
    moto_server.client().create_bucket(Bucket="celery-night")
    return "celery-night"


@pytest.fixture(scope="module")
def celery_night(emulator_server, moto_server, bucket) -> dict:
    return _night(emulator_server, moto_server, bucket, "CeleryExecutor")


@pytest.fixture(scope="module")
def local_night(emulator_server, moto_server, bucket, celery_night) -> dict:
    return _night(emulator_server, moto_server, bucket, "LocalExecutor")


def _diagnostics(night: dict) -> str:
    timeline = "\n".join(
        f"{t['start_date']} {t['task_id']}[{t['map_index']}] {t['state']} try {t['try_number']} "
        f"{t['duration']} s on {t['hostname']}"
        for t in sorted(night["tis"], key=lambda t: t["start_date"] or "")
    )
    return f"{timeline}\n{night['problems']}"


def _hosts(night: dict, task_id: str) -> dict[int, str]:
    return {t["map_index"]: t["hostname"] for t in night["tis"] if t["task_id"] == task_id}


def test_the_night_succeeds_on_two_celery_workers(celery_night):
    night = celery_night
    assert night["state"] == "success", _diagnostics(night)
    assert {t["state"] for t in night["tis"]} == {"success"}
    assert night["summary"]["users_synced"] == USERS
    assert night["summary"]["batches"] == BATCHES
    print(f"celery night: stack up {night['startup_s']:.0f} s, run {night['run_s']:.0f} s")


def test_tasks_ran_on_both_workers_and_each_batch_was_handed_over_through_s3(celery_night):
    night = celery_night
    assert {t["hostname"] for t in night["tis"]} == set(WORKERS), _diagnostics(night)
    downloads = _hosts(night, "sync_batch.download")
    normalizes = _hosts(night, "sync_batch.normalize")
    assert sorted(downloads) == sorted(normalizes) == list(range(BATCHES))
    # Every batch's archives were written on one host and read on the other: only S3 joins them.
    assert [k for k in downloads if downloads[k] == normalizes[k]] == []
    assert {downloads[k] for k in downloads} == set(WORKERS)


def test_the_quota_held_across_workers(celery_night):
    log = celery_night["log"]
    assert [e for e in log if e["status"] == 429] == []
    peaks = {}
    for endpoint in ("add", "download", "check", "cancel"):
        times = [e["ts"] for e in log if e["endpoint"] == endpoint]
        peaks[endpoint] = busiest_window(times, QUOTA_WINDOW_S)
        assert peaks[endpoint] <= QUOTA, (endpoint, peaks)
    # The two workers' calls did press against the quota: the limit, not the load, set the pace.
    assert peaks["add"] >= QUOTA * 0.8, peaks
    assert peaks["download"] >= QUOTA * 0.8, peaks
    assert Counter(e["endpoint"] for e in log if e["status"] == 200)["add"] == USERS


def test_the_lake_equals_a_localexecutor_night_file_for_file(celery_night, local_night):
    assert local_night["state"] == "success", _diagnostics(local_night)
    celery, local = _canonical(celery_night["lake"]), _canonical(local_night["lake"])
    assert sorted(celery) == sorted(local)
    assert [k for k in celery if celery[k] != local[k]] == []
    tables = {key.split("/", 1)[0] for key in celery if key.endswith(".parquet")}
    assert {"watch_history", "likes", "profile", "followers"} <= tables
    assert sum(key.endswith(".zip") for key in celery) == USERS
    print(
        f"local night: stack up {local_night['startup_s']:.0f} s, run {local_night['run_s']:.0f} s; "
        f"{len(celery)} lake files compared"
    )


def _canonical(files: dict[str, bytes]) -> dict[str, object]:
    """Each lake file's content, with what differs between two runs of one night by nature mapped.

    Request ids become their user's folder (one export per user per night), the run id in batch
    file names and ids is dropped (the batch number stays), fetch/commit times are left out.
    Table and ledger rows are compared as sorted multisets: workers commit in their own order.
    """
    requests = {}
    for key in files:
        parts = key.split("/")
        if parts[0] == "raw" and key.endswith(".json"):
            requests[parts[-1].removesuffix(".json")] = parts[-2]

    def text(value: str) -> str:
        value = RUN_IN_BATCH_ID.sub(r"r*-b\1", value)
        # Only the request ids of this lake: video ids have 19 digits too, and are data.
        return REQUEST_ID.sub(
            lambda m: f"<request of {requests[m.group(0)]}>" if m.group(0) in requests else m.group(0), value
        )

    def canon(value: object) -> object:
        if isinstance(value, dict):
            return {text(str(k)): canon(v) for k, v in value.items() if k not in VOLATILE_KEYS}
        if isinstance(value, list | tuple):
            return [canon(v) for v in value]
        if isinstance(value, str | bytes):
            return text(value if isinstance(value, str) else value.decode(errors="replace"))
        if isinstance(value, int) and not isinstance(value, bool) and str(value) in requests:
            return f"<request of {requests[str(value)]}>"
        return value

    out: dict[str, object] = {}
    for key, body in files.items():
        if key.endswith(".parquet"):
            table = pq.read_table(io.BytesIO(body))
        elif key.endswith(".arrow"):
            table = pa.ipc.open_file(io.BytesIO(body)).read_all()
        elif key.endswith(".json"):
            out[text(key)] = canon(json.loads(body))
            continue
        else:
            out[text(key)] = hashlib.sha256(body).hexdigest()
            continue
        metadata = {k.decode(): v.decode(errors="replace") for k, v in (table.schema.metadata or {}).items()}
        out[text(key)] = (
            str(table.schema.remove_metadata()),
            canon(metadata),
            sorted(repr(canon(row)) for row in table.to_pylist()),
        )
    return out
