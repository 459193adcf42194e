"""Benchmark: the nightly sync under a real Airflow scheduler, against the emulator's quota.

Runs ``tiktok_ongoing_sync`` for N users on ``scripts/airflow_stack.py`` (scheduler, triggerer,
dag-processor, api-server on PostgreSQL, LocalExecutor running mapped batches in parallel), with
webhooks delivered to the plugin's endpoint on the API server. The emulator makes exports ready at
once and enforces a per-endpoint quota of ``--quota`` calls per ``--window-s`` seconds; every
user's access token has expired at the start (the clocks are moved past the two-hour lifetime), as
on a real night. Prints:

- API calls per user by endpoint (target with webhooks: add + download <= 2.02, checks only as a
  fallback, at most one token refresh per user);
- the busiest rolling window's calls per endpoint vs the quota (target: never over);
- 429s received (target: zero);
- wall-clock vs the quota minimum = the largest per-endpoint call count / quota per window
  (adds of one batch and downloads of another proceed in parallel; target <= 1.15x);
- Airflow task instances created (target O(N / batch size)).

    python bench/sync.py --users 300 --quota 200 --batch-size 50
    python bench/sync.py                       # 2,000 users, quota 400/min per endpoint
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from tiktok_portability.emulator.requestlog import busiest_window

REPO = Path(__file__).resolve().parent.parent
DAG_ID = "tiktok_ongoing_sync"
PORTABILITY = ("add", "check", "cancel", "download")
CLIENT_KEY, CLIENT_SECRET = "bench-client-key", "bench-client-secret"
# Access tokens live two hours: three hours later every one of them needs a refresh.
EXPIRE_ALL_S = 3 * 3600


def _stack_module():
    spec = importlib.util.spec_from_file_location("airflow_stack", REPO / "scripts" / "airflow_stack.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("airflow_stack", module)
    spec.loader.exec_module(module)
    return module


def start_emulator(quota: int, window_s: float, log_path: Path) -> tuple[subprocess.Popen, str]:
    from airflow_stack import free_port

    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "tiktok_portability",
        "emulator",
        "--port",
        str(port),
        "--client-key",
        CLIENT_KEY,
        "--client-secret",
        CLIENT_SECRET,
        "--prep-delay",
        "0",
        "--quota",
        str(quota),
        "--quota-window-s",
        str(window_s),
        "--tick-interval-s",
        "0.1",
        "--webhook-retry-base-s",
        "1",
    ]
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(argv, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"emulator exited: {log_path.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/_admin/health", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError("emulator did not start within 60 s")


def onboard(admin: httpx.Client, store, users: int) -> list[str]:
    """Create the users in the emulator and store their (soon expired) tokens as grants."""
    from tiktok_portability.client.models import TokenSet

    def one(i: int) -> str:
        open_id = admin.post("/_admin/users", json={"scopes": ["portability.all.ongoing"]}).json()["open_id"]
        body = admin.post(f"/_admin/users/{open_id}/tokens").json()
        store.upsert_grant(open_id, body["scope"], TokenSet.from_response(body))
        return open_id

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(one, range(users)))


def measure(log: list[dict], users: int, quota: int, window_s: float) -> dict:
    served = [e for e in log if e["status"] != 429]
    per_endpoint = Counter(e["endpoint"] for e in served)
    by_time: dict[str, list[float]] = defaultdict(list)
    for e in served:
        by_time[e["endpoint"]].append(e["ts"])
    portability = [e["ts"] for e in served if e["endpoint"] in PORTABILITY]
    largest = max((per_endpoint[p] for p in PORTABILITY), default=0)
    return {
        "calls": dict(per_endpoint),
        "calls_per_user": {k: round(v / users, 4) for k, v in per_endpoint.items()},
        "portability_calls_per_user": round(sum(per_endpoint[p] for p in PORTABILITY) / users, 4),
        "busiest_window": {p: busiest_window(by_time[p], window_s) for p in PORTABILITY if by_time[p]},
        "http_429": sum(1 for e in log if e["status"] == 429),
        "errors": Counter(f"{e['endpoint']}:{e['status']}" for e in log if e["status"] >= 400),
        "api_span_s": (max(portability) - min(portability)) if portability else 0.0,
        "quota_minimum_s": largest / quota * window_s,
    }


def _seconds(start: str | None, end: str | None) -> float:
    from datetime import datetime

    if not start or not end:
        return 0.0
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def _ratio(seconds: float, minimum: float) -> str:
    return f"{seconds / minimum:.3f}x the minimum" if minimum else "-"


def report(args: argparse.Namespace, m: dict, run: dict, tis: list[dict], startup: dict) -> str:
    run_s = _seconds(run.get("start_date"), run.get("end_date"))
    minimum = m["quota_minimum_s"]
    by_task = Counter(t["task_id"] for t in tis)
    batches = by_task.get("sync_batch.submit", 0)
    lines = [
        f"users={args.users} batch_size={args.batch_size} batches={batches} quota={args.quota}/"
        f"{args.window_s:g}s per endpoint parallelism={args.parallelism} run state={run['state']}",
        f"stack startup: {startup.get('api_server', 0):.1f} s (postgres {startup.get('postgres', 0):.1f} s, "
        f"db migrate until {startup.get('db_migrate', 0):.1f} s)",
        "",
        f"{'endpoint':<14}{'calls':>8}{'per user':>10}{'busiest ' + format(args.window_s, 'g') + 's':>14}"
        f"{'quota':>8}",
    ]
    for endpoint in (*PORTABILITY, "oauth_token"):
        calls = m["calls"].get(endpoint, 0)
        if not calls and endpoint not in ("add", "download", "check"):
            continue
        busiest = m["busiest_window"].get(endpoint, "-") if endpoint in PORTABILITY else "-"
        quota = args.quota if endpoint in PORTABILITY else "-"
        per_user = m["calls_per_user"].get(endpoint, 0)
        lines.append(f"{endpoint:<14}{calls:>8}{per_user:>10.3f}{busiest!s:>14}{quota!s:>8}")
    lines += [
        "",
        f"portability calls per user: {m['portability_calls_per_user']:.3f}   (target <= 2.02)",
        f"token refreshes per user:   {m['calls_per_user'].get('oauth_token', 0):.3f}   (target <= 1)",
        f"429s received:              {m['http_429']}   (target 0)",
        f"errors:                     {dict(m['errors']) or 'none'}",
        f"quota minimum:              {minimum:.1f} s",
        f"API span (first..last call): {m['api_span_s']:.1f} s = {_ratio(m['api_span_s'], minimum)}",
        f"run wall-clock (REST start..end): {run_s:.1f} s = {_ratio(run_s, minimum)}   (target <= 1.15x)",
        f"task instances: {len(tis)} ({dict(sorted(by_task.items()))})",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--users", type=int, default=2000)
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--quota", type=int, default=400, help="calls per window per endpoint")
    p.add_argument("--window-s", type=float, default=60.0)
    p.add_argument("--parallelism", type=int, default=8, help="LocalExecutor slots and tiktok_api pool slots")
    p.add_argument("--timeout-s", type=float, default=3600)
    p.add_argument("--json", type=Path, default=None, help="also write the numbers as JSON here")
    args = p.parse_args(argv)

    sys.path.insert(0, str(REPO / "scripts"))
    stack_mod = _stack_module()
    from tiktok_portability.clock import OFFSET_ENV
    from tiktok_portability.state import StateStore

    work = Path(tempfile.mkdtemp(prefix="bench-sync-"))
    emulator, url = start_emulator(args.quota, args.window_s, work / "emulator.log")
    try:
        conn = {
            "host": url,
            "login": CLIENT_KEY,
            "password": CLIENT_SECRET,
            "extra": {
                "webhooks_enabled": True,
                "quota_per_window": args.quota,
                "quota_window_s": args.window_s,
            },
        }
        env = {OFFSET_ENV: str(EXPIRE_ALL_S)}
        with (
            httpx.Client(base_url=url, timeout=60) as admin,
            stack_mod.AirflowStack(tiktok_conn=conn, extra_env=env, parallelism=args.parallelism) as stack,
        ):
            print(f"stack up in {stack.startup_s['api_server']:.1f} s at {stack.api_url}", flush=True)
            admin.post("/_admin/config", json={"webhook_url": f"{stack.api_url}/tiktok/webhook"})
            store = StateStore.from_url(stack.state_url, [stack.fernet_key])
            t = time.monotonic()
            onboard(admin, store, args.users)
            print(f"onboarded {args.users} users in {time.monotonic() - t:.1f} s", flush=True)
            # Every token is now past its lifetime, for the emulator and for the pipeline.
            admin.post("/_admin/clock/advance", json={"seconds": EXPIRE_ALL_S})
            os.environ[OFFSET_ENV] = str(EXPIRE_ALL_S)
            since = admin.get("/_admin/clock").json()["now"] - 1
            stack.wait_for_dag(DAG_ID)
            run_id = stack.trigger(DAG_ID, {"batch_size": args.batch_size, "poll_interval_s": 5})
            print(f"triggered {run_id}", flush=True)
            state = stack.wait(DAG_ID, run_id, timeout=args.timeout_s)
            run = stack.dag_run(DAG_ID, run_id)
            tis = stack.task_instances(DAG_ID, run_id)
            log = admin.get("/_admin/log", params={"since": since}).json()
            store.close()
            m = measure(log, args.users, args.quota, args.window_s)
            print(report(args, m, run, tis, stack.startup_s))
            if args.json:
                args.json.write_text(
                    json.dumps({"args": vars(args) | {"json": None}, **m}, default=str, indent=2)
                )
            return 0 if state == "success" else 1
    finally:
        emulator.terminate()
        try:
            emulator.wait(timeout=10)
        except subprocess.TimeoutExpired:
            emulator.kill()
        import shutil

        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
