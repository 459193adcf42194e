"""The executor options of ``airflow_stack.py``: what is refused, the broker, the worker hostname."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import redis

from tests.scripts import airflow_stack


def test_an_unknown_executor_is_refused_before_anything_starts(tmp_path: Path):
    stack = airflow_stack()
    with pytest.raises(stack.StackError, match="executor must be one of"):
        stack.AirflowStack(executor="SequentialExecutor", root=tmp_path / "stack")
    with pytest.raises(stack.StackError, match="at least one worker"):
        stack.AirflowStack(executor="celery", celery_workers=0, root=tmp_path / "stack")


def test_celery_workers_share_out_the_parallelism_and_get_their_own_queues(tmp_path: Path):
    stack = airflow_stack().AirflowStack(
        executor="celery", celery_workers=2, parallelism=8, worker_queues=[["a"], ["b"]], root=tmp_path
    )
    assert stack.executor == "CeleryExecutor"
    assert stack.worker_names == ["worker1", "worker2"]
    assert stack.worker_concurrency == 4
    assert stack.redis is not None
    assert airflow_stack().AirflowStack(root=tmp_path / "local").worker_names == []


def test_the_broker_is_a_real_redis_server_that_stops_with_nothing_left(tmp_path: Path):
    server = airflow_stack().Redis(tmp_path / "redis").start()
    try:
        client = redis.Redis.from_url(server.url())
        client.lpush("default", b"a task message")
        assert client.rpop("default") == b"a task message"
        assert client.info("server")["redis_version"]
        client.close()
    finally:
        server.stop()
    assert server.process.poll() is not None
    with pytest.raises(ProcessLookupError):
        os.kill(server.process.pid, 0)  # signal 0: does the process still exist?


def test_a_worker_names_itself_in_task_instances_through_its_environment(monkeypatch: pytest.MonkeyPatch):
    stack = airflow_stack()
    monkeypatch.setenv(stack.HOSTNAME_ENV, "worker2")
    assert stack.worker_hostname() == "worker2"
    monkeypatch.delenv(stack.HOSTNAME_ENV)
    assert stack.worker_hostname()
