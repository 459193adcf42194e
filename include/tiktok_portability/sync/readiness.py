"""Wait step: learn when a batch's exports are ready.

Webhooks first: the receiver marks transfers ready in the state store, so a poll round that finds
them ready costs no API call. Transfers still ``requested`` are checked with Check Status only
when webhooks are off, or when the webhook has not come within ``webhook_grace_s``. Every check
goes through the global limiter. The round is idempotent (status moves only forward), so a trigger
that runs twice, or next to the webhook receiver, is harmless.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict, dataclass
from datetime import timedelta

from tiktok_portability.client import AsyncTikTokClient, TikTokClient
from tiktok_portability.client.errors import AuthError, InvalidRequest, TikTokError
from tiktok_portability.clock import utcnow
from tiktok_portability.redact import fingerprint
from tiktok_portability.runtime import SyncRuntime
from tiktok_portability.state.models import Transfer
from tiktok_portability.sync import outcomes as oc
from tiktok_portability.sync.options import WaitSettings
from tiktok_portability.tokens import TokenError, ensure_fresh

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Readiness:
    """A batch's position after one round: ``waiting`` transfers still have no answer."""

    waiting: int
    ready: int
    closed: int
    checked: int

    @property
    def done(self) -> bool:
        return self.waiting == 0

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def latest_per_user(transfers: list[Transfer]) -> list[Transfer]:
    latest: dict[str, Transfer] = {}
    for t in sorted(transfers, key=lambda t: t.id):
        latest[t.open_id] = t
    return list(latest.values())


async def poll_round(
    runtime: SyncRuntime,
    client: AsyncTikTokClient,
    run_id: str,
    batch: int,
    wait: WaitSettings,
) -> Readiness:
    """One round: re-read the batch from the store, check what is due, record what changed."""
    store = runtime.store
    transfers = latest_per_user(await asyncio.to_thread(store.transfers_for_run, run_id, batch))
    requested = [t for t in transfers if t.status == "requested" and t.request_id is not None]
    now = utcnow()
    due = [
        t
        for t in requested
        if not wait.webhooks_enabled
        or t.requested_at is None
        or now - t.requested_at >= timedelta(seconds=wait.webhook_grace_s)
    ]
    gate = asyncio.Semaphore(wait.concurrency)

    with runtime.client() as refresher:

        async def check(t: Transfer) -> str:
            async with gate:
                return await _check_one(runtime, client, refresher, t)

        results = await asyncio.gather(*(check(t) for t in due))
    newly_ready = results.count("ready")
    newly_closed = sum(1 for r in results if r in ("expired", "cancelled", "failed"))
    ready = sum(1 for t in transfers if t.status in ("ready", "downloaded", "normalized")) + newly_ready
    waiting = len(requested) - newly_ready - newly_closed
    closed = len(transfers) - ready - waiting
    state = Readiness(waiting=waiting, ready=ready, closed=closed, checked=len(due))
    log.info("poll round run_id=%s batch=%d %s", run_id, batch, state.to_dict())
    return state


async def _check_one(
    runtime: SyncRuntime, client: AsyncTikTokClient, refresher: TikTokClient, t: Transfer
) -> str:
    store = runtime.store
    try:
        token = await asyncio.to_thread(ensure_fresh, store, refresher, t.open_id)
        status = await client.check_status(token, t.request_id, open_id=t.open_id)
    except (TokenError, AuthError) as exc:
        # The export stays in flight; the download step refreshes or records the grant's state.
        log.warning("check skipped open_id=%s reason=%s", fingerprint(t.open_id), exc)
        return "waiting"
    except InvalidRequest as exc:
        await asyncio.to_thread(store.transition, t.id, "failed", reason=oc.reason(oc.INVALID_REQUEST, exc))
        return "failed"
    except TikTokError as exc:  # transient (429/5xx/network): try again next round
        log.warning(
            "check failed open_id=%s request_id=%s error=%s", fingerprint(t.open_id), t.request_id, exc
        )
        return "waiting"
    if status.status == "downloading":
        await asyncio.to_thread(store.transition, t.id, "ready")
        return "ready"
    if status.status in ("expired", "cancelled"):
        await asyncio.to_thread(store.transition, t.id, status.status)
        return status.status
    return "waiting"


def next_interval(previous_s: float, minimum_s: float, maximum_s: float) -> float:
    """Polling backs off by half again each round without news, within [minimum, maximum]."""
    if previous_s <= 0:
        return minimum_s
    return max(minimum_s, min(maximum_s, previous_s * 1.5))


async def wait_for_batch(
    runtime: SyncRuntime,
    run_id: str,
    batch: int,
    *,
    deadline_ts: float,
    wait: WaitSettings,
    sleep=asyncio.sleep,
) -> tuple[str, Readiness]:
    """Poll rounds until nothing is waiting (``"done"``) or the deadline passes (``"deadline"``).

    Transfers still waiting at the deadline stay ``requested``: the download step skips them and
    the next night's run adopts them instead of submitting a second request.
    """
    from tiktok_portability.clock import now_ts

    interval = 0.0
    async with runtime.async_client() as client:
        while True:
            state = await poll_round(runtime, client, run_id, batch, wait)
            if state.done:
                return "done", state
            if now_ts() >= deadline_ts:
                return "deadline", state
            interval = next_interval(interval, wait.min_interval_s, wait.max_interval_s)
            await sleep(min(interval, max(0.0, deadline_ts - now_ts())))
