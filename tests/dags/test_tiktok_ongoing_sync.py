"""tiktok_ongoing_sync end to end under `airflow dags test`, against the emulator, two nights.

Night 1 runs with webhooks off (readiness by Check Status polling) and every fault kind injected;
night 2 runs a day later with webhooks on (delivered by the emulator to the plugin's webhook app)
and no faults. After each night the lake must hold exactly what the emulator generated: no row
lost, none duplicated. Users are 200, in batches of 60.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import Counter
from pathlib import Path

import duckdb
import httpx
import pytest
import uvicorn

from tests.fixtures.airflow import free_port, tiktok_env
from tests.fixtures.emulator import EmulatorHandle
from tests.sync.harness import truth
from tiktok_portability.client import ClientConfig, TikTokClient
from tiktok_portability.client.models import TokenSet
from tiktok_portability.clock import OFFSET_ENV
from tiktok_portability.redact import Secret
from tiktok_portability.state import StateStore, generate_key
from tiktok_portability.sync.summary import parse_run_summary
from tiktok_portability_airflow.settings import AppSettings
from tiktok_portability_airflow.webhooks import create_app

pytestmark = pytest.mark.airflow

USERS = 200
BATCH_SIZE = 60
DAY = 86_400
EVENT_TABLES = ("watch_history", "likes", "searches", "dm_messages", "logins", "comments")
GENERATIONS = ("G0", "G1", "G2", "G3")
SCOPE_MIX = (
    ["portability.all.ongoing"],
    ["portability.all.ongoing"],
    ["portability.activity.ongoing"],
    ["portability.directmessages.ongoing", "portability.postsandprofile.ongoing"],
    ["portability.all.ongoing"],
)


class _Services:
    """What the webhook app needs, without the hook (the API server test covers the hook)."""

    def __init__(self, app: AppSettings, store: StateStore) -> None:
        self.app = app
        self.state_store = store

    def get_client(self) -> TikTokClient:
        a = self.app
        return TikTokClient(
            ClientConfig(client_key=a.client_key, client_secret=a.client_secret, base_url=a.base_url)
        )


@pytest.fixture(scope="module")
def world(emulator_server, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ongoing_sync")
    key = generate_key()
    db = tmp / "state.db"
    store = StateStore.from_url(f"sqlite:///{db}", [key])
    with httpx.Client(base_url=emulator_server.base_url, timeout=60) as admin:
        assert admin.post("/_admin/reset").status_code == 200
        emulator = EmulatorHandle(emulator_server, admin)
        users: dict[str, list[str]] = {"all": [], "excluded": [], "outside": []}
        for i in range(USERS):
            if i % 40 == 7:
                spec = {"scopes": ["portability.all.single"]}
                kind = "excluded"
            elif i % 50 == 11:
                spec = {"scopes": ["portability.all.ongoing"], "region": "US"}
                kind = "outside"
            else:
                spec = {"scopes": SCOPE_MIX[i % len(SCOPE_MIX)], "generation": GENERATIONS[i % 4]}
                kind = "all"
            open_id = emulator.create_user(**spec)["open_id"]
            body = emulator.issue_tokens(open_id)
            store.upsert_grant(open_id, body["scope"], TokenSet.from_response(body))
            users[kind].append(open_id)
        syncable = users["all"]
        faulty = {
            "truncate": syncable[3],
            "corrupt": syncable[10],
            "revoke": syncable[20],
            "expire": syncable[30],
            "drop": syncable[40],
            "lost_add": syncable[50],
            "lost_download": syncable[60],
        }
        env = {
            **tiktok_env(emulator, f"sqlite:///{db}", key, max_retries=3, webhooks_enabled=False),
            "TIKTOK_LAKE_URI": str(tmp / "lake"),
            "TIKTOK_SCRATCH_DIR": str(tmp / "scratch"),
        }
        yield {
            "emulator": emulator,
            "store": store,
            "key": key,
            "db": db,
            "lake": tmp / "lake",
            "env": env,
            "users": users,
            "faulty": faulty,
        }
    store.close()


def _dags_test(airflow_home, logical_date: str, conf: dict, env: dict):
    return airflow_home.run(
        "dags", "test", "tiktok_ongoing_sync", logical_date, "-c", json.dumps(conf), env=env, timeout=900
    )


def _summary(output: str) -> dict:
    """The summarize task logs ``run summary {json}``; the same value is its XCom."""
    return parse_run_summary(output)


@pytest.fixture(scope="module")
def night1(airflow_home, world):
    emulator, f = world["emulator"], world["faulty"]
    emulator.fault("rate_limit_burst", endpoint="add", count=3)
    emulator.fault("server_error", endpoint="download", count=2)
    emulator.fault("slow", endpoint="check", count=3, delay_s=0.3)
    emulator.fault("timeout", endpoint="check", count=1, delay_s=0.5)
    emulator.fault("drop_download", open_id=f["drop"], count=1)
    emulator.fault("truncate_zip", open_id=f["truncate"], count=None)
    emulator.fault("corrupt_zip", open_id=f["corrupt"], count=None)
    emulator.fault("revoke_token", open_id=f["revoke"], endpoint="download", count=1)
    emulator.fault("expire_request", open_id=f["expire"], endpoint="download", count=1)
    # TikTok acted, the answer never arrived: a lost add cannot be repeated (one request in flight
    # per user, and the API cannot list requests); a lost download is simply fetched again.
    emulator.fault("lose_response", open_id=f["lost_add"], endpoint="add", count=1)
    emulator.fault("lose_response", open_id=f["lost_download"], endpoint="download", count=1)
    since = emulator.now() - 1
    conf = {"batch_size": BATCH_SIZE, "max_failure_rate": 0.5, "poll_interval_s": 1}
    result = _dags_test(airflow_home, "2026-11-20T02:00:00+00:00", conf, world["env"])
    emulator.clear_faults()
    return result, emulator.log(since=since)


@pytest.fixture(scope="module")
def webhook_receiver(world):
    """The plugin's webhook app on uvicorn, on the same state store the DAG uses."""
    from fastapi import FastAPI

    emulator = world["emulator"]
    port = free_port()
    settings = AppSettings(
        conn_id="tiktok_default",
        base_url=emulator.base_url,
        client_key=emulator.client_key,
        client_secret=Secret(emulator.client_secret),
        authorize_url=f"{emulator.base_url}/v2/auth/authorize/",
    )
    store = StateStore.from_url(f"sqlite:///{world['db']}", [world["key"]])
    root = FastAPI()
    root.mount("/tiktok", create_app(lambda: _Services(settings, store)))
    server = uvicorn.Server(uvicorn.Config(root, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        assert thread.is_alive(), "webhook app did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}/tiktok/webhook"
    server.should_exit = True
    thread.join(timeout=10)
    store.close()


@pytest.fixture(scope="module")
def night2(airflow_home, world, night1, webhook_receiver):
    emulator = world["emulator"]
    emulator.advance(DAY)
    emulator.configure(webhook_url=webhook_receiver)
    # Our clock moves with the emulator's (token expiry, webhook signature freshness).
    previous = os.environ.get(OFFSET_ENV)
    os.environ[OFFSET_ENV] = str(DAY)
    env = dict(world["env"])
    env[OFFSET_ENV] = str(DAY)
    app_conn = json.loads(env["AIRFLOW_CONN_TIKTOK_DEFAULT"])
    app_conn["extra"]["webhooks_enabled"] = True
    env["AIRFLOW_CONN_TIKTOK_DEFAULT"] = json.dumps(app_conn)
    since = emulator.now() - 1
    conf = {"batch_size": BATCH_SIZE, "max_failure_rate": 0.5, "poll_interval_s": 1}
    try:
        result = _dags_test(airflow_home, "2026-11-21T02:00:00+00:00", conf, env)
    finally:
        if previous is None:
            os.environ.pop(OFFSET_ENV, None)
        else:
            os.environ[OFFSET_ENV] = previous
        emulator.configure(webhook_url=None)
    return result, emulator.log(since=since)


def _truth_counts(emulator: EmulatorHandle, open_id: str, version: int) -> dict[str, int]:
    snap = truth(emulator, open_id, version)
    return {t: len(getattr(snap, t)) for t in EVENT_TABLES}


def _lake_counts(lake: Path) -> dict[tuple[str, str], int]:
    con = duckdb.connect()
    out: dict[tuple[str, str], int] = {}
    for table in EVENT_TABLES:
        if not list((lake / table).glob("*/*.parquet")):
            continue
        for open_id, n in con.execute(
            f"select open_id, count(*) from read_parquet('{lake / table}/*/*.parquet', "
            "hive_partitioning=true) group by open_id"
        ).fetchall():
            out[(table, open_id)] = n
    return out


def _duplicates(lake: Path, table: str, key: str) -> int:
    con = duckdb.connect()
    return con.execute(
        f"select count(*) - count(distinct ({key})) from read_parquet('{lake / table}/*/*.parquet', "
        "hive_partitioning=true)"
    ).fetchone()[0]


def _normalized_versions(world) -> dict[str, int]:
    """The data version of each user's newest normalized export, from the state store + emulator."""
    versions: dict[str, int] = {}
    for t in sorted(world["store"].list_transfers(status="normalized", limit=100_000), key=lambda t: t.id):
        versions[t.open_id] = world["emulator"].request(t.request_id)["version"]
    return versions


def _assert_lake_matches_emulator(world) -> None:
    emulator, lake = world["emulator"], world["lake"]
    counts = _lake_counts(lake)
    versions = _normalized_versions(world)
    assert versions
    mismatches = []
    for open_id, version in versions.items():
        scopes = world["store"].get_grant(open_id).scopes
        for table, expected in _truth_counts(emulator, open_id, version).items():
            covered = "portability.all.ongoing" in scopes or (
                ("activity" if table != "dm_messages" else "directmessages") in ",".join(scopes)
            )
            want = expected if covered else 0
            got = counts.get((table, open_id), 0)
            if got != want:
                mismatches.append((open_id, table, version, want, got))
    assert mismatches == []


def test_night1_succeeds_and_isolates_each_fault(night1, world):
    result, _ = night1
    assert result.ok, str(result)
    store, f = world["store"], world["faulty"]
    reasons = {}
    for t in store.list_transfers(limit=100_000):
        reasons.setdefault(t.open_id, []).append((t.status, (t.failure_reason or "").split(":")[0]))
    assert reasons[f["truncate"]][-1] == ("failed", "archive_corrupt")
    assert reasons[f["corrupt"]][-1] == ("failed", "archive_corrupt")
    assert reasons[f["expire"]][-1][0] == "expired"
    assert store.get_grant(f["revoke"]).status == "needs_reauth"
    assert reasons[f["drop"]][-1] == ("normalized", "")
    assert reasons[f["lost_download"]][-1] == ("normalized", "")
    assert reasons[f["lost_add"]][-1] == ("failed", "add_outcome_unknown")
    for open_id in world["users"]["outside"]:  # parked once: later nights do not ask again
        grant = store.get_grant(open_id)
        assert (grant.status, grant.status_reason.split(":")[0]) == ("ineligible", "ineligible_region")
    summary = _summary(result.output)
    planned = USERS - len(world["users"]["excluded"])
    assert int(summary["users_planned"]) == planned
    assert int(summary["users_synced"]) == planned - len(world["users"]["outside"]) - 5
    # The run's last task applied raw retention (30 days by default: nothing old enough yet).
    assert "raw retention done days=30 cutoff=2026-10-21" in result.output
    assert list(world["lake"].glob("_audit/retention/*")) == []


def test_night1_costs_one_add_and_one_download_per_user_plus_retries(night1, world):
    _, log = night1
    # Calls that an injected fault answered (a burst of 429s, a dropped stream) are the retries.
    per_user = Counter(
        (e["endpoint"], e["open_id"]) for e in log if e["status"] == 200 and not e.get("fault")
    )
    adds = [k for k in per_user if k[0] == "add"]
    assert all(n == 1 for (endpoint, _), n in per_user.items() if endpoint in ("add", "download"))
    lost_answer = 1  # the add whose answer was lost counts as a faulted call
    assert len(adds) == USERS - len(world["users"]["excluded"]) - len(world["users"]["outside"]) - lost_answer
    assert [e for e in log if e["status"] == 429 and e.get("fault") is None] == []


def test_night1_lake_equals_what_the_emulator_generated(night1, world):
    assert night1[0].ok, str(night1[0])
    _assert_lake_matches_emulator(world)


def test_night2_with_webhooks_adds_only_new_rows_and_retries_last_nights_failures(night2, world):
    result, log = night2
    assert result.ok, str(result)
    store, f = world["store"], world["faulty"]
    for who in ("truncate", "corrupt", "expire"):
        latest = max(store.list_transfers(open_id=f[who], limit=100), key=lambda t: t.id)
        assert latest.status == "normalized", who
    assert store.get_grant(f["revoke"]).status == "needs_reauth"
    # The export created by the lost add is still in flight at TikTok, which refuses a second one.
    lost = max(store.list_transfers(open_id=f["lost_add"], limit=100), key=lambda t: t.id)
    assert (lost.status, lost.failure_reason.split(":")[0]) == ("failed", "request_in_flight")
    # Readiness came by webhook: no Check Status calls were needed.
    assert [e for e in log if e["endpoint"] == "check"] == []
    assert store.webhook_event_count("portability.download.ready") > 0
    _assert_lake_matches_emulator(world)
    from tiktok_portability.normalize import TABLES

    for table in EVENT_TABLES:
        assert _duplicates(world["lake"], table, ", ".join(TABLES[table].key)) == 0, table
