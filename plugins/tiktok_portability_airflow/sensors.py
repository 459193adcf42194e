"""TikTokBatchReadySensor: wait until a sync batch's exports are ready to download.

``deferrable=True`` (the default) hands the wait to :class:`BatchReadyTrigger` so no worker slot is
held for the minutes or hours TikTok takes; ``deferrable=False`` polls in the worker like any
sensor. Either way readiness comes from webhook events in the state store first and from Check
Status (through the global quota limiter) as the fallback.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from typing import Any

from airflow.sdk import BaseSensorOperator, Context
from airflow.sdk.exceptions import AirflowException

from tiktok_portability.contract import STATE_CONN_ID, TIKTOK_CONN_ID
from tiktok_portability.sync.options import WaitSettings
from tiktok_portability_airflow.triggers import BatchReadyTrigger


class TikTokBatchReadySensor(BaseSensorOperator):
    """Wait for batch ``batch`` of the current run (``sync_run_id`` defaults to the Airflow run id).

    ``wait`` sets how (webhook grace, poll intervals, concurrency); ``webhooks_enabled`` None
    reads it from the connection. The run's ``wait_deadline_minutes`` and ``poll_interval_s``
    params override ``wait_deadline`` and the longest poll interval.
    """

    template_fields = ("batch", "sync_run_id")

    def __init__(
        self,
        *,
        batch: int | Any,
        sync_run_id: str = "{{ run_id }}",
        wait_deadline: timedelta = timedelta(hours=6),
        wait: WaitSettings | None = None,
        webhooks_enabled: bool | None = None,
        tiktok_conn_id: str = TIKTOK_CONN_ID,
        state_conn_id: str = STATE_CONN_ID,
        deferrable: bool = True,
        **kwargs: Any,
    ) -> None:
        wait = wait or WaitSettings()
        kwargs.setdefault("poke_interval", wait.max_interval_s)
        kwargs.setdefault("timeout", wait_deadline.total_seconds() + 600)
        super().__init__(**kwargs)
        self.batch = batch
        self.sync_run_id = sync_run_id
        self.wait_deadline = wait_deadline
        self.wait = wait
        self.webhooks_enabled = webhooks_enabled
        self.tiktok_conn_id = tiktok_conn_id
        self.state_conn_id = state_conn_id
        self.deferrable = deferrable

    def _settings(self, context: Context) -> tuple[float, WaitSettings]:
        """The deadline (seconds from now) and the wait, run params over the operator's defaults."""
        from tiktok_portability_airflow.runtime import webhooks_configured

        params = context.get("params") or {}
        webhooks = self.webhooks_enabled
        if webhooks is None:
            webhooks = webhooks_configured(self.tiktok_conn_id)
        deadline = params.get("wait_deadline_minutes")
        longest = float(params.get("poll_interval_s") or self.wait.max_interval_s)
        wait = replace(
            self.wait,
            webhooks_enabled=bool(webhooks),
            min_interval_s=min(self.wait.min_interval_s, longest),
            max_interval_s=longest,
        )
        return (float(deadline) * 60 if deadline else self.wait_deadline.total_seconds()), wait

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        from tiktok_portability.clock import now_ts

        deadline_s, wait = self._settings(context)
        self.defer(
            trigger=BatchReadyTrigger(
                run_id=self.sync_run_id,
                batch=int(self.batch),
                deadline_ts=now_ts() + deadline_s,
                tiktok_conn_id=self.tiktok_conn_id,
                state_conn_id=self.state_conn_id,
                **wait.to_dict(),
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=deadline_s + 600),
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        # Under dag.test() the defer() kwargs are dropped on resume: everything comes from the event.
        if not event or event.get("status") == "error":
            raise AirflowException(f"waiting for batch failed: {(event or {}).get('message', 'no event')}")
        self.log.info(
            "batch %s: %s (ready=%s waiting=%s closed=%s)",
            event.get("batch"),
            event.get("status"),
            event.get("ready"),
            event.get("waiting"),
            event.get("closed"),
        )
        return {k: event[k] for k in ("status", "batch", "ready", "waiting", "closed") if k in event}

    def poke(self, context: Context) -> bool:
        from tiktok_portability.sync.readiness import poll_round
        from tiktok_portability_airflow.runtime import build_runtime

        _, wait = self._settings(context)
        runtime = build_runtime(self.tiktok_conn_id, self.state_conn_id, with_lake=False)

        async def one_round():
            async with runtime.async_client() as client:
                return await poll_round(runtime, client, self.sync_run_id, int(self.batch), wait)

        return asyncio.run(one_round()).done
