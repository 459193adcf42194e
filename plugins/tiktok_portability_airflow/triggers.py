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

from tiktok_portability.contract import STATE_CONN_ID, TIKTOK_CONN_ID
from tiktok_portability.sync.options import WaitSettings

log = logging.getLogger(__name__)


class BatchReadyTrigger(BaseTrigger):
    """Fires once nothing in ``(run_id, batch)`` is waiting, or at ``deadline_ts`` (unix seconds).

    ``wait`` keyword arguments are the fields of :class:`WaitSettings`, kept flat so the
    serialized trigger is plain JSON.
    """

    def __init__(
        self,
        *,
        run_id: str,
        batch: int,
        deadline_ts: float,
        tiktok_conn_id: str = TIKTOK_CONN_ID,
        state_conn_id: str = STATE_CONN_ID,
        **wait: Any,
    ) -> None:
        super().__init__()
        self.run_id = run_id
        self.batch = int(batch)
        self.deadline_ts = float(deadline_ts)
        self.wait = WaitSettings(**wait)
        self.tiktok_conn_id = tiktok_conn_id
        self.state_conn_id = state_conn_id

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "run_id": self.run_id,
                "batch": self.batch,
                "deadline_ts": self.deadline_ts,
                **self.wait.to_dict(),
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
                runtime, self.run_id, self.batch, deadline_ts=self.deadline_ts, wait=self.wait
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
