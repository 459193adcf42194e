"""BatchReadyTrigger: waits in the triggerer until a batch's exports are ready.

Holds only serializable arguments and rebuilds its hook, store and async client inside ``run()``:
a trigger is serialized to the triggerer and may be rebuilt there at any time. A trigger may run
more than once; each round only moves transfers forward (requested -> ready/expired), which the
webhook receiver may also do, so repeats are harmless.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

log = logging.getLogger(__name__)


class BatchReadyTrigger(BaseTrigger):
    """Fires once nothing in ``(run_id, batch)`` is waiting, or at ``deadline_ts`` (unix seconds)."""

    def __init__(
        self,
        *,
        run_id: str,
        batch: int,
        deadline_ts: float,
        webhooks_enabled: bool = False,
        webhook_grace_s: float = 300.0,
        min_interval_s: float = 5.0,
        max_interval_s: float = 60.0,
        concurrency: int = 8,
        tiktok_conn_id: str = "tiktok_default",
        state_conn_id: str = "tiktok_state",
    ) -> None:
        super().__init__()
        self.run_id = run_id
        self.batch = int(batch)
        self.deadline_ts = float(deadline_ts)
        self.webhooks_enabled = bool(webhooks_enabled)
        self.webhook_grace_s = float(webhook_grace_s)
        self.min_interval_s = float(min_interval_s)
        self.max_interval_s = float(max_interval_s)
        self.concurrency = int(concurrency)
        self.tiktok_conn_id = tiktok_conn_id
        self.state_conn_id = state_conn_id

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "run_id": self.run_id,
                "batch": self.batch,
                "deadline_ts": self.deadline_ts,
                "webhooks_enabled": self.webhooks_enabled,
                "webhook_grace_s": self.webhook_grace_s,
                "min_interval_s": self.min_interval_s,
                "max_interval_s": self.max_interval_s,
                "concurrency": self.concurrency,
                "tiktok_conn_id": self.tiktok_conn_id,
                "state_conn_id": self.state_conn_id,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from tiktok_portability.sync.readiness import wait_for_batch
        from tiktok_portability_airflow.runtime import shared_runtime

        try:
            # Connections are read through the Task SDK (blocking): off the event loop.
            runtime = await asyncio.to_thread(shared_runtime, self.tiktok_conn_id, self.state_conn_id)
            outcome, state = await wait_for_batch(
                runtime,
                self.run_id,
                self.batch,
                deadline_ts=self.deadline_ts,
                webhooks_enabled=self.webhooks_enabled,
                webhook_grace_s=self.webhook_grace_s,
                min_interval_s=self.min_interval_s,
                max_interval_s=self.max_interval_s,
                concurrency=self.concurrency,
            )
        except Exception as exc:  # the task decides (and logs) what a broken wait means
            log.exception("batch wait failed run_id=%s batch=%d", self.run_id, self.batch)
            yield TriggerEvent(
                {
                    "status": "error",
                    "run_id": self.run_id,
                    "batch": self.batch,
                    "message": f"{type(exc).__name__}: {exc}",
                }
            )
            return
        yield TriggerEvent({"status": outcome, "run_id": self.run_id, "batch": self.batch, **state.to_dict()})
