"""What the fault matrix needs around a running AirflowStack: nights, kills, restarts and lake diffs.

- ``Night``: one triggered run of the sync and what happened to it (``events``: the faults injected
  and the recoveries, in order, as the docs/reliability.md table reports them).
- ``drive``: polls the run until it ends; meanwhile fires the night's injections when their moment
  comes and recovers the way an operator would (the runbook in docs/sync.md): a task instance left
  ``up_for_retry`` or ``failed`` by a fault is cleared with its downstream tasks through the REST
  API, exactly the call of the UI's *Clear* button; an Airflow component that exited is started
  again, as a process supervisor (systemd, Kubernetes) would.
- ``task_pid`` / ``sigkill_task``: the task process of a task instance, found through ``/proc``
  (the stack's id in its environment, ``airflow worker -- <ti id>`` as its title).
- ``restart_postgres``: PostgreSQL stopped (fast shutdown) and started again on the same data
  directory and port, under the running deployment.
- ``lake_files`` / ``rows_by_file``: a lake (local or S3) read file by file for comparison.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pyarrow.parquet as pq

from tests.scripts import airflow_stack
from tiktok_portability.contract import SYNC_DAG_ID
from tiktok_portability.lake.keys import user_key
from tiktok_portability.sync.load import lake_batch_id

# Rows carry their lineage: the request id is TikTok's id of the export, a fresh one every night
# and in every run, so two runs of the same night can only agree on everything else.
LINEAGE_COLUMNS = ("request_id",)
RECOVERABLE = ("up_for_retry", "failed")
# A fault that keeps a task failing after it ended is a finding, not something to clear forever.
MAX_EVENTS = 25


@dataclass
class Night:
    name: str
    run_id: str
    lake_uri: str
    state: str = ""
    tis: list[dict] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    problems: str = ""

    def note(self, text: str) -> None:
        self.events.append(text)

    def tries(self) -> dict[str, int]:
        """``task[map_index]`` -> tries, for the task instances that needed more than one."""
        return {f"{t['task_id']}[{t['map_index']}]": t["try_number"] for t in self.tis if t["try_number"] > 1}


Injection = Callable[[Night, dict[tuple[str, int], dict]], bool]
"""Called on every poll with the run's task instances by (task_id, map_index); True when done."""


def set_lake(stack: Any, uri: str) -> None:
    """Point the sync at ``uri`` (the Airflow Variable ``tiktok_lake_uri``, read by every task)."""
    body = {"key": "tiktok_lake_uri", "value": uri}
    resp = stack.http.post("/variables", json=body)
    if resp.status_code == 409:
        resp = stack.http.patch("/variables/tiktok_lake_uri", json=body)
    assert resp.status_code < 400, resp.text


def clear(stack: Any, run_id: str, task_id: str, map_index: int) -> None:
    """The UI's *Clear* on one task instance, with *Downstream*, through the REST API."""
    stack.api(
        "POST",
        f"/dags/{SYNC_DAG_ID}/clearTaskInstances",
        json={
            "dry_run": False,
            "dag_run_id": run_id,
            "task_ids": [[task_id, map_index]],
            "only_failed": False,
            "include_downstream": True,
            "reset_dag_runs": True,
        },
    )


def by_key(tis: Iterable[dict]) -> dict[tuple[str, int], dict]:
    return {(t["task_id"], t["map_index"]): t for t in tis}


def drive(stack: Any, night: Night, injections: Iterable[Injection] = (), timeout_s: float = 420) -> Night:
    """Poll the run to its end, firing ``injections`` and recovering as the runbook says."""
    pending = list(injections)
    started = time.monotonic()
    deadline = started + timeout_s
    while True:
        _restart_dead_components(stack, night)
        try:
            tis = stack.task_instances(SYNC_DAG_ID, night.run_id)
        except (airflow_stack().StackError, httpx.HTTPError):  # the API server's DB is restarting
            time.sleep(1)
            continue
        keyed = by_key(tis)
        try:
            pending = [inject for inject in pending if not inject(night, keyed)]
        except BaseException:
            abandon(stack, night.run_id)
            raise
        try:
            state = stack.dag_run(SYNC_DAG_ID, night.run_id)["state"]
        except (airflow_stack().StackError, httpx.HTTPError):
            time.sleep(1)
            continue
        recovered = False
        for ti in tis:
            # summarize failing is the run's verdict on its users, not an infrastructure fault.
            if ti["state"] in RECOVERABLE and ti["task_id"] != "summarize":
                label = f"{ti['task_id']}[{ti['map_index']}]"
                night.note(f"{label} {ti['state']} after try {ti['try_number']}: cleared via REST")
                clear(stack, night.run_id, ti["task_id"], ti["map_index"])
                recovered = True
        if not pending and not recovered and state in ("success", "failed"):
            night.state, night.tis = state, tis
            night.wall_s = time.monotonic() - started
            night.problems = problem_logs(stack, night.run_id)
            return night
        if time.monotonic() > deadline or len(night.events) > MAX_EVENTS:
            summary = sorted((t["task_id"], t["map_index"], t["state"], t["try_number"]) for t in tis)
            abandon(stack, night.run_id)
            raise AssertionError(
                f"{night.name}: run {state} after {time.monotonic() - started:.0f} s: {summary} "
                f"{night.events[:20]}\n{problem_logs(stack, night.run_id)[-12000:]}"
            )
        time.sleep(1)


def abandon(stack: Any, run_id: str) -> None:
    """Mark a run failed so a test that gave up on it leaves nothing running into the next night."""
    with contextlib.suppress(Exception):
        stack.api("PATCH", f"/dags/{SYNC_DAG_ID}/dagRuns/{run_id}", json={"state": "failed"})
    with contextlib.suppress(Exception):
        wait_for(
            lambda: not [t for t in stack.task_instances(SYNC_DAG_ID, run_id) if t["state"] == "running"],
            60,
            "tasks to stop",
        )


def problem_logs(stack: Any, run_id: str) -> str:
    """The end of every task log that holds an error (shown when an assertion fails)."""
    out = []
    for path in sorted((stack.logs_dir / f"dag_id={SYNC_DAG_ID}" / f"run_id={run_id}").rglob("*.log")):
        text = path.read_text(errors="replace")
        if '"level":"error"' in text or "Traceback" in text:
            out.append(f"--- {path.relative_to(stack.logs_dir)}\n{text[-3000:]}")
    return "\n".join(out)


def _restart_dead_components(stack: Any, night: Night) -> None:
    for name, process in list(stack.processes.items()):
        if process.poll() is not None:
            night.note(f"airflow {name} exited ({process.returncode}): started again")
            stack._spawn(name, list(process.args[1:]), stack.env, airflow_stack().REPO)


def task_pid(stack: Any, ti_id: str) -> int | None:
    """The pid of the process running the task instance ``ti_id``.

    The task process titles itself ``airflow worker -- <ti id>``. Its environment cannot tell
    which stack it belongs to (setproctitle reuses the environment's memory for the title), so it
    must descend from this stack's scheduler.
    """
    title = f"airflow worker -- {ti_id}".encode()
    scheduler = stack.processes["scheduler"].pid
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if title in (entry / "cmdline").read_bytes() and scheduler in _ancestors(int(entry.name)):
                return int(entry.name)
        except OSError:
            continue
    return None


def _ancestors(pid: int) -> list[int]:
    out = []
    while pid > 1:
        stat = (Path("/proc") / str(pid) / "stat").read_text()
        pid = int(stat.rsplit(")", 1)[1].split()[1])
        out.append(pid)
    return out


def sigkill_task(stack: Any, ti: dict, timeout_s: float = 30) -> int:
    """SIGKILL the task process of ``ti`` (as the OOM killer would); returns its pid."""
    deadline = time.monotonic() + timeout_s
    while (pid := task_pid(stack, ti["id"])) is None:
        if time.monotonic() > deadline:
            raise AssertionError(f"no task process for {ti['task_id']}[{ti['map_index']}] ({ti['id']})")
        time.sleep(0.2)
    os.kill(pid, signal.SIGKILL)
    return pid


def restart_postgres(stack: Any, down_s: float) -> None:
    """Stop PostgreSQL (fast shutdown: clients are disconnected) and start it again after ``down_s``."""
    module = airflow_stack()
    pg = stack.postgres
    argv = list(pg.process.args)
    module._stop_group(pg.process, signal.SIGINT, wait_s=15)
    time.sleep(down_s)
    with (pg.root / "postgres.log").open("ab") as log_file:
        pg.process = subprocess.Popen(
            argv, stdout=subprocess.DEVNULL, stderr=log_file, cwd=pg.root, start_new_session=True
        )
    pg_isready = module.PG_BIN / "pg_isready"
    deadline = time.monotonic() + 30
    while subprocess.run(
        [str(pg_isready), "-h", pg.host, "-p", str(pg.port), "-U", pg.superuser], capture_output=True
    ).returncode:
        if time.monotonic() > deadline:
            raise AssertionError(f"postgres did not come back: {pg.log()[-2000:]}")
        time.sleep(0.2)


# ---- the lake, file by file ------------------------------------------------------------------


def lake_files(uri: str, s3_client: Any, into: Path) -> Path:
    """A local folder holding the lake at ``uri`` (S3 objects are downloaded, bypassing any proxy)."""
    if not uri.startswith("s3://"):
        return Path(uri)
    bucket, _, prefix = uri[len("s3://") :].partition("/")
    paginator = s3_client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix.rstrip("/") + "/"):
        for obj in page.get("Contents", []):
            target = into / obj["Key"][len(prefix.rstrip("/")) + 1 :]
            target.parent.mkdir(parents=True, exist_ok=True)
            s3_client.download_file(bucket, obj["Key"], str(target))
    return into


def _hashable(value: Any) -> Any:
    if isinstance(value, (list, dict)):
        return json.dumps(value, sort_keys=True, default=str)
    return value


def rows_by_file(
    lake: Path, users: Iterable[str], run_id: str | None = None
) -> dict[tuple[str, str, str], Counter]:
    """(table, snapshot folder, batch number) -> the multiset of its rows of ``users``.

    File names are ``batch-r<sha256(run id)[:12]>-b<batch>.parquet``: two runs of the same night
    name the same batch's files alike up to the run digest, so files are matched on the batch
    number. Rows are compared without the lineage columns (``LINEAGE_COLUMNS``). ``run_id``: only
    the files that run wrote.
    """
    wanted = set(users)
    digest = lake_batch_id(run_id, 0).rsplit("-", 1)[0] if run_id else ""
    out: dict[tuple[str, str, str], Counter] = {}
    for path in sorted(lake.glob("*/snapshot_date=*/batch-*.parquet")):
        table = path.parent.parent.name
        if table.startswith("_") or table == "raw" or digest not in path.name:
            continue
        batch = path.stem.rsplit("-", 1)[-1]
        rows = Counter()
        for row in pq.read_table(path).to_pylist():
            if row.get("open_id") not in wanted:
                continue
            rows[tuple(sorted((k, _hashable(v)) for k, v in row.items() if k not in LINEAGE_COLUMNS))] += 1
        key = (table, path.parent.name, batch)
        if key in out:
            raise AssertionError(f"two files of {key} in {lake}: a batch was written twice")
        if rows:
            out[key] = rows
    return out


def raw_archives(lake: Path, users: Iterable[str]) -> dict[str, list[str]]:
    """open_id -> the sha256 of each raw archive kept for it (from the manifests)."""
    out: dict[str, list[str]] = {u: [] for u in users}
    by_hash = {user_key(u): u for u in out}
    for manifest in sorted(lake.glob("raw/snapshot_date=*/user=*/*.json")):
        owner = by_hash.get(manifest.parent.name.removeprefix("user="))
        if owner is not None:
            out[owner].append(json.loads(manifest.read_text())["sha256"])
    return out


def diff(expected: dict, got: dict) -> list[str]:
    """Per file: the rows missing from ``got`` and the rows it has too often (lost / duplicated)."""
    problems = []
    for key in sorted(set(expected) | set(got)):
        lost = expected.get(key, Counter()) - got.get(key, Counter())
        extra = got.get(key, Counter()) - expected.get(key, Counter())
        if lost or extra:
            problems.append(f"{key}: {sum(lost.values())} lost, {sum(extra.values())} extra")
    return problems


def count_rows(files: dict[tuple[str, str, str], Counter]) -> int:
    return sum(sum(c.values()) for c in files.values())


def wait_for(predicate: Callable[[], Any], timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while not (result := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.2)
    return result
