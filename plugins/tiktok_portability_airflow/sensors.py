"""TikTokBatchReadySensor: wait until a sync batch's exports are ready to download.

``deferrable=True`` (the default) hands the wait to :class:`BatchReadyTrigger` so no worker slot is
held for the minutes or hours TikTok takes; ``deferrable=False`` polls in the worker like any
sensor. Either way readiness comes from webhook events in the state store first and from Check
Status (through the global quota limiter) as the fallback.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from airflow.sdk import BaseSensorOperator, Context
from airflow.sdk.exceptions import AirflowException

from tiktok_portability_airflow.triggers import BatchReadyTrigger


class TikTokBatchReadySensor(BaseSensorOperator):
    """Wait for batch ``batch`` of the current run (``sync_run_id`` defaults to the Airflow run id)."""

    template_fields = ("batch", "sync_run_id")

    def __init__(
        self,
        *,
        batch: int | Any,
        sync_run_id: str = "{{ run_id }}",
        wait_deadline: timedelta = timedelta(hours=6),
        webhooks_enabled: bool | None = None,
        webhook_grace_s: float = 300.0,
        min_interval_s: float = 5.0,
        max_interval_s: float = 60.0,
        concurrency: int = 8,
        tiktok_conn_id: str = "tiktok_default",
        state_conn_id: str = "tiktok_state",
        deferrable: bool = True,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("poke_interval", max_interval_s)
        kwargs.setdefault("timeout", wait_deadline.total_seconds() + 600)
        super().__init__(**kwargs)
        self.batch = batch
        self.sync_run_id = sync_run_id
        self.wait_deadline = wait_deadline
        self.webhooks_enabled = webhooks_enabled
        self.webhook_grace_s = webhook_grace_s
        self.min_interval_s = min_interval_s
        self.max_interval_s = max_interval_s
        self.concurrency = concurrency
        self.tiktok_conn_id = tiktok_conn_id
        self.state_conn_id = state_conn_id
        self.deferrable = deferrable

    def _settings(self, context: Context) -> dict[str, Any]:
        """Run params override the operator's defaults (the trigger form can shorten the wait)."""
        from tiktok_portability_airflow.runtime import webhooks_configured

        params = context.get("params") or {}
        webhooks = self.webhooks_enabled
        if webhooks is None:
            webhooks = webhooks_configured(self.tiktok_conn_id)
        deadline = params.get("wait_deadline_minutes")
        return {
            "deadline_s": float(deadline) * 60 if deadline else self.wait_deadline.total_seconds(),
            "webhooks_enabled": bool(webhooks),
            "poll_interval_s": float(params.get("poll_interval_s") or self.max_interval_s),
        }

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        from tiktok_portability.clock import now_ts

        s = self._settings(context)
        self.defer(
            trigger=BatchReadyTrigger(
                run_id=self.sync_run_id,
                batch=int(self.batch),
                deadline_ts=now_ts() + s["deadline_s"],
                webhooks_enabled=s["webhooks_enabled"],
                webhook_grace_s=self.webhook_grace_s,
                min_interval_s=min(self.min_interval_s, s["poll_interval_s"]),
                max_interval_s=s["poll_interval_s"],
                concurrency=self.concurrency,
                tiktok_conn_id=self.tiktok_conn_id,
                state_conn_id=self.state_conn_id,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=s["deadline_s"] + 600),
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

        s = self._settings(context)
        runtime = build_runtime(self.tiktok_conn_id, self.state_conn_id, with_lake=False)

        async def one_round():
            async with runtime.async_client() as client:
                return await poll_round(
                    runtime,
                    client,
                    self.sync_run_id,
                    int(self.batch),
                    webhooks_enabled=s["webhooks_enabled"],
                    webhook_grace_s=self.webhook_grace_s,
                    concurrency=self.concurrency,
                )

        return asyncio.run(one_round()).done
