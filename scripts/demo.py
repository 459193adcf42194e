"""`make demo`: two nights of the ongoing sync, end to end, on the embedded defaults.

1. starts the local TikTok emulator (a real HTTP server on 127.0.0.1) and the plugin's webhook
   receiver (``tiktok_portability_airflow.serve``, the app Airflow's API server mounts), which
   the emulator sends its webhooks to in TikTok's documented shape (a ready event names only its
   request_id), so readiness needs no Check Status call;
2. creates a fresh Airflow home (SQLite), applies ``airflow_settings.yaml`` and turns
   ``webhooks_enabled`` on;
3. seeds 50 users with ongoing grants (mixed scopes, layouts, JSON and TXT exports, two outside
   the EEA/UK, one with a single-use scope only) and stores their grants as the OAuth callback
   would;
4. night 1: injects some faults (a 429 burst, 5xx, a corrupt archive, a token revoked mid-run) and
   runs ``airflow dags test tiktok_ongoing_sync``;
5. night 2: one day later (tokens expired, every user's data grown) runs it again;
6. prints both run summaries and DuckDB queries over the Parquet lake showing that night 2 added
   only the new rows.

Everything lives under ``.demo/`` (recreated on every run).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / ".demo"
BIN = Path(sys.executable).parent
USERS = 50
DAY = 86_400
NIGHTS = ("2026-11-21T02:00:00+00:00", "2026-11-22T02:00:00+00:00")
SCOPES = (
    ["portability.all.ongoing"],
    ["portability.all.ongoing"],
    ["portability.activity.ongoing"],
    ["portability.directmessages.ongoing", "portability.postsandprofile.ongoing"],
    ["portability.postsandprofile.ongoing", "portability.activity.ongoing"],
)


def say(text: str) -> None:
    print(f"\n== {text}", flush=True)


def free_port(preferred: int) -> int:
    for port in (preferred, 0):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return s.getsockname()[1]
    raise RuntimeError("no free port on 127.0.0.1")


def start_emulator(port: int) -> subprocess.Popen:
    log = (DEMO / "emulator.log").open("w")
    cmd = [str(BIN / "tiktok-portability"), "emulator", "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--prep-delay", "1", "--data-dir", str(DEMO / "emulator")]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"emulator exited; see {DEMO / 'emulator.log'}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/_admin/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError("emulator did not start within 60 s")


def start_receiver(port: int, emulator_port: int, env: dict[str, str]) -> subprocess.Popen:
    """The webhook receiver on the demo's state store, with ``env``'s clock (night 2 moves it)."""
    log = (DEMO / "receiver.log").open("a")
    cmd = [sys.executable, "-m", "tiktok_portability_airflow.serve", "--port", str(port)]
    cmd += ["--base-url", f"http://127.0.0.1:{emulator_port}", "--client-key", "demo-client-key"]
    cmd += ["--state-url", f"sqlite:///{DEMO / 'state.db'}", "--log-level", "info"]
    env = {**env, "TIKTOK_CLIENT_SECRET": "demo-client-secret"}
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"webhook receiver exited; see {DEMO / 'receiver.log'}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/tiktok/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError("webhook receiver did not start within 60 s")


def stop(proc: subprocess.Popen | None) -> None:
    if proc is None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def demo_fernet_key(folder: Path) -> str:
    """A fresh Fernet key for this demo's tokens, kept owner-only in ``fernet.key`` for the CLI."""
    from tiktok_portability.state import generate_key

    key = generate_key()
    path = folder / "fernet.key"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
    return key


def airflow(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "airflow"), *argv], env=env, cwd=ROOT, capture_output=True, text=True, check=False
    )


def seed(admin: httpx.Client, store) -> list[dict]:
    from tiktok_portability.client.models import TokenSet

    users = []
    for i in range(USERS):
        if i == 13:
            spec = {"scopes": ["portability.all.single"]}
        elif i in (7, 29):
            spec = {"scopes": ["portability.all.ongoing"], "region": "US"}
        else:
            spec = {"scopes": SCOPES[i % len(SCOPES)], "generation": ("G1", "G2", "G3", "G0")[i % 4]}
            spec["txt_variant"] = ("en_new", "en_old", "nl")[i % 3]
        # Fixed open_ids: the synthetic data is keyed on them, so every demo prints the same numbers.
        spec["open_id"] = f"demo-user-{i + 1:02d}"
        user = admin.post("/_admin/users", json=spec).raise_for_status().json()
        body = admin.post(f"/_admin/users/{user['open_id']}/tokens").raise_for_status().json()
        store.upsert_grant(user["open_id"], body["scope"], TokenSet.from_response(body))
        if i % 4 == 1:  # every fourth user's exports come as TXT
            store.set_grant_format(user["open_id"], "text")
        users.append({**user, "format": "text" if i % 4 == 1 else "json"})
    return users


def run_night(env: dict[str, str], logical_date: str) -> dict:
    from tiktok_portability.sync.summary import parse_run_summary

    conf = {"batch_size": 20, "max_failure_rate": 0.5, "poll_interval_s": 2}
    started = time.monotonic()
    result = airflow(env, "dags", "test", "tiktok_ongoing_sync", logical_date, "-c", json.dumps(conf))
    log = DEMO / f"night-{logical_date[:10]}.log"
    log.write_text(result.stdout + result.stderr)
    if result.returncode != 0:
        raise RuntimeError(f"the DAG run failed; see {log}")
    summary = parse_run_summary(result.stdout + result.stderr)
    summary["wall_clock_s"] = round(time.monotonic() - started, 1)
    return summary


def show_summary(title: str, summary: dict) -> None:
    say(title)
    keys = (
        "snapshot_date",
        "users_planned",
        "batches",
        "users_synced",
        "users_failed",
        "failed_by_reason",
        "bytes_downloaded",
        "rows_per_table",
        "wall_clock_s",
    )
    for key in keys:
        print(f"  {key:17} {summary.get(key)}")


def show_calls(admin: httpx.Client, since: float) -> None:
    """What the emulator saw this night, per endpoint: about one add and one download per user."""
    calls: dict[str, int] = {}
    for entry in admin.get("/_admin/log", params={"since": since}).raise_for_status().json():
        key = entry["endpoint"] if entry["status"] < 400 else f"{entry['endpoint']} (error {entry['status']})"
        calls[key] = calls.get(key, 0) + 1
    print(f"  {'calls seen by TikTok':17} {dict(sorted(calls.items()))}")
    answers: dict[str, int] = {}
    for delivery in admin.get("/_admin/webhooks").raise_for_status().json():
        if delivery["created"] >= since:
            key = f"{delivery['event']} -> {delivery['last_status'] or delivery['state']}"
            answers[key] = answers.get(key, 0) + 1
    print(f"  {'webhooks sent':17} {dict(sorted(answers.items()))}")


def queries(lake: Path) -> None:
    import duckdb

    con = duckdb.connect()
    # One view per table, as an analyst would set them up (see README "Querying the lake").
    for name in ("watch_history", "dm_messages", "likes", "followers"):
        glob = f"{lake / name}/*/*.parquet"
        con.execute(
            f"create view {name} as select * from read_parquet('{glob}', hive_partitioning=true)"  # noqa: S608
        )

    def show(title: str, sql: str) -> None:
        say(title)
        print(sql.strip())
        print(con.sql(sql))

    show(
        "Rows added per night: night 2 holds only what is new",
        """
select 'watch_history' as tbl, snapshot_date, count(*) as rows from watch_history group by all
union all select 'dm_messages', snapshot_date, count(*) from dm_messages group by all
union all select 'likes', snapshot_date, count(*) from likes group by all
order by tbl, snapshot_date""",
    )
    show(
        "No event is stored twice (natural key incl. same-second occurrence)",
        """
select count(*) as rows, count(distinct (open_id, watched_at, link, occurrence)) as distinct_events
from watch_history""",
    )
    show(
        "Watch events per day (last 5 days)",
        """
select watched_at::date as day, count(*) as watched from watch_history
group by day order by day desc limit 5""",
    )
    show(
        "Top DM partners",
        """
select conversation as partner, count(*) as messages,
       count(*) filter (where direction = 'sent') as sent
from dm_messages group by partner order by messages desc limit 5""",
    )
    show(
        "Follower changes per night (follow / unfollow)",
        """
select snapshot_date, change, count(*) as users from followers
group by all order by snapshot_date, change""",
    )


def main() -> int:
    from tiktok_portability.state import StateStore

    shutil.rmtree(DEMO, ignore_errors=True)
    (DEMO / "airflow").mkdir(parents=True)
    key = demo_fernet_key(DEMO)
    port = free_port(8765)
    say(f"Starting the TikTok emulator on http://127.0.0.1:{port}")
    emulator = start_emulator(port)
    receiver: subprocess.Popen | None = None
    try:
        env = {
            **os.environ,
            "AIRFLOW_HOME": str(DEMO / "airflow"),
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "TIKTOK_LAKE_URI": str(DEMO / "lake"),
            "TIKTOK_SCRATCH_DIR": str(DEMO / "scratch"),
            # airflow_settings.yaml ships no key: every demo generates its own.
            "TIKTOK_FERNET_KEYS": key,
            "PYTHONPATH": os.pathsep.join([str(ROOT / "plugins"), str(ROOT / "dags")]),
        }
        say("Creating the Airflow metadata DB (SQLite) and applying airflow_settings.yaml")
        for argv in (["db", "migrate"],):
            done = airflow(env, *argv)
            if done.returncode != 0:
                raise RuntimeError(done.stdout + done.stderr)
        loaded = subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "load_airflow_settings.py")],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        if loaded.returncode != 0:
            raise RuntimeError(loaded.stdout + loaded.stderr)
        # The settings file's connection, pointed at this emulator and with webhooks on (an env
        # connection takes precedence over the metadata DB's).
        env["AIRFLOW_CONN_TIKTOK_DEFAULT"] = json.dumps(
            {
                "conn_type": "http",
                "host": f"http://127.0.0.1:{port}",
                "login": "demo-client-key",
                "password": "demo-client-secret",
                "extra": {"webhooks_enabled": True},
            }
        )
        store = StateStore.from_url(f"sqlite:///{DEMO / 'state.db'}", [key])
        receiver_port = free_port(8766)
        say(f"Starting the webhook receiver on http://127.0.0.1:{receiver_port}/tiktok/webhook")
        receiver = start_receiver(receiver_port, port, env)
        webhook_url = f"http://127.0.0.1:{receiver_port}/tiktok/webhook"

        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as admin:
            admin.post("/_admin/config", json={"webhook_url": webhook_url}).raise_for_status()
            say(f"Seeding {USERS} users with ongoing grants (mixed scopes, layouts, JSON and TXT)")
            users = seed(admin, store)
            print(f"  {sum(u['format'] == 'text' for u in users)} users export TXT, the rest JSON")

            say("Night 1 (faults: 429 burst, 5xx, a corrupt archive, a token revoked mid-run)")
            ongoing = [
                u for u in users if u["region"] != "US" and "portability.all.single" not in u["scopes"]
            ]
            faults = [
                {"kind": "rate_limit_burst", "endpoint": "add", "count": 3},
                {"kind": "server_error", "endpoint": "download", "count": 2},
                {"kind": "corrupt_zip", "open_id": ongoing[4]["open_id"], "count": None},
                {"kind": "revoke_token", "open_id": ongoing[9]["open_id"], "endpoint": "download"},
            ]
            for fault in faults:
                admin.post("/_admin/faults", json=fault).raise_for_status()
            since = admin.get("/_admin/clock").raise_for_status().json()["now"]
            night1 = run_night(env, NIGHTS[0])
            admin.delete("/_admin/faults").raise_for_status()
            show_summary("Night 1 summary", night1)
            show_calls(admin, since)

            say("Night 2: a day later, no faults (tokens expired, data grew, failed download retried)")
            admin.post("/_admin/clock/advance", json={"seconds": DAY}).raise_for_status()
            env["TIKTOK_PORTABILITY_CLOCK_OFFSET_S"] = str(DAY)
            stop(receiver)  # the receiver's clock moves with the emulator's and Airflow's
            receiver = start_receiver(receiver_port, port, env)
            since = admin.get("/_admin/clock").raise_for_status().json()["now"]
            night2 = run_night(env, NIGHTS[1])
            show_summary("Night 2 summary", night2)
            show_calls(admin, since)
        store.close()
        queries(DEMO / "lake")
        say(f"Done. Lake: {DEMO / 'lake'}  Logs: {DEMO}/night-*.log  Airflow home: {DEMO / 'airflow'}")
        return 0
    finally:
        stop(receiver)
        stop(emulator)


if __name__ == "__main__":
    raise SystemExit(main())
