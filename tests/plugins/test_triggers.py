"""BatchReadyTrigger and TikTokBatchReadySensor: serialization and the defer hand-off."""

from __future__ import annotations

import importlib
from datetime import timedelta

import pytest

from tiktok_portability_airflow.sensors import TikTokBatchReadySensor
from tiktok_portability_airflow.triggers import BatchReadyTrigger

pytestmark = pytest.mark.airflow


def _rebuild(trigger: BatchReadyTrigger) -> BatchReadyTrigger:
    path, kwargs = trigger.serialize()
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)(**kwargs)


def test_the_trigger_survives_a_serialize_round_trip() -> None:
    trigger = BatchReadyTrigger(
        run_id="scheduled__2026-11-21T02:00:00+00:00",
        batch=7,
        deadline_ts=1_795_400_000.5,
        webhooks_enabled=True,
        webhook_grace_s=120,
        min_interval_s=2,
        max_interval_s=30,
        concurrency=4,
        tiktok_conn_id="tiktok_prod",
        state_conn_id="tiktok_state_prod",
    )
    path, kwargs = trigger.serialize()
    assert path == "tiktok_portability_airflow.triggers.BatchReadyTrigger"
    rebuilt = _rebuild(trigger)
    assert rebuilt.serialize() == (path, kwargs)
    # Only plain values: the triggerer stores them as JSON.
    assert all(isinstance(v, str | int | float | bool) for v in kwargs.values())


def test_the_sensor_defers_to_the_trigger_with_the_run_params() -> None:
    from airflow.sdk.exceptions import TaskDeferred

    sensor = TikTokBatchReadySensor(
        task_id="wait_ready",
        batch=3,
        sync_run_id="run-1",
        webhooks_enabled=False,
        wait_deadline=timedelta(hours=1),
    )
    context = {"params": {"wait_deadline_minutes": 30, "poll_interval_s": 10}}
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute(context)
    trigger = deferred.value.trigger
    assert isinstance(trigger, BatchReadyTrigger)
    assert (trigger.run_id, trigger.batch, trigger.wait.max_interval_s) == ("run-1", 3, 10.0)
    assert trigger.wait.min_interval_s == 5.0
    assert trigger.wait.webhooks_enabled is False
    assert deferred.value.method_name == "execute_complete"
    assert deferred.value.timeout == timedelta(seconds=30 * 60 + 600)


def test_the_sensor_resumes_from_the_event_payload_alone() -> None:
    from airflow.sdk.exceptions import AirflowException

    sensor = TikTokBatchReadySensor(task_id="wait_ready", batch=3, webhooks_enabled=False)
    event = {"status": "deadline", "batch": 3, "ready": 8, "waiting": 2, "closed": 0, "run_id": "r"}
    assert sensor.execute_complete({}, event) == {
        "status": "deadline",
        "batch": 3,
        "ready": 8,
        "waiting": 2,
        "closed": 0,
    }
    with pytest.raises(AirflowException, match="boom"):
        sensor.execute_complete({}, {"status": "error", "message": "boom"})
