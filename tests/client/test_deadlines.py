"""A call's deadline bounds every wait, the same in the sync and async clients (one Attempts)."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.client import fakes
from tiktok_portability.client import AsyncTikTokClient, TikTokClient
from tiktok_portability.client.errors import RateLimited, TransportError


class SlowQuota(fakes.RecordingLimiter):
    """A limiter that would make the caller wait ``wait_s`` for a slot (TimeoutError past a timeout)."""

    def __init__(self, wait_s: float) -> None:
        super().__init__()
        self.wait_s = wait_s
        self.timeouts: list[float | None] = []

    def acquire(self, endpoint: str, timeout: float | None = None) -> None:
        self.timeouts.append(timeout)
        if timeout is not None and timeout < self.wait_s:
            raise TimeoutError(f"no slot within {timeout}")
        self.acquired.append(endpoint)

    async def acquire_async(self, endpoint: str, timeout: float | None = None) -> None:
        self.acquire(endpoint, timeout)


def _sync(script: fakes.Script, sleeps: fakes.Sleeps, limiter=None) -> TikTokClient:
    return TikTokClient(fakes.config(), limiter, transport=script.transport(), sleep=sleeps)


def _async(script: fakes.Script, sleeps: fakes.Sleeps, limiter=None) -> AsyncTikTokClient:
    return AsyncTikTokClient(
        fakes.config(), limiter, transport=httpx.MockTransport(script), sleep=sleeps.async_sleep
    )


def test_a_retry_pause_past_the_deadline_is_not_taken():
    # A refused connection (never sent: safe to retry) then success; a 2 s pause passes a 0.5 s deadline.
    script = fakes.Script(httpx.ConnectError("refused"), fakes.ok(fakes.token_body()))
    sleeps = fakes.Sleeps()
    client = _sync(script, sleeps)
    client.policy.backoff = lambda retry: 2.0
    with pytest.raises(TransportError):
        client.refresh(fakes.REFRESH_TOKEN, open_id=fakes.OPEN_ID, deadline=time.monotonic() + 0.5)
    assert sleeps.delays == []
    assert len(script.requests) == 1
    # Without a deadline the same failure is retried after the pause.
    script = fakes.Script(httpx.ConnectError("refused"), fakes.ok(fakes.token_body()))
    client = _sync(script, sleeps)
    client.policy.backoff = lambda retry: 2.0
    assert client.refresh(fakes.REFRESH_TOKEN, open_id=fakes.OPEN_ID).open_id == fakes.OPEN_ID
    assert sleeps.delays == [2.0]


def test_a_quota_wait_past_the_deadline_sends_nothing():
    script = fakes.Script()
    limiter = SlowQuota(wait_s=30)
    with pytest.raises(RateLimited, match="outlast the caller's deadline"):
        _sync(script, fakes.Sleeps(), limiter).refresh(
            fakes.REFRESH_TOKEN, open_id=fakes.OPEN_ID, deadline=time.monotonic() + 1
        )
    assert script.requests == []
    assert 0 < limiter.timeouts[0] <= 1


def test_without_a_deadline_the_limiter_is_asked_as_before():
    script = fakes.Script(fakes.ok(fakes.token_body()))
    limiter = SlowQuota(wait_s=30)
    _sync(script, fakes.Sleeps(), limiter).refresh(fakes.REFRESH_TOKEN, open_id=fakes.OPEN_ID)
    assert limiter.timeouts == [None]
    assert limiter.acquired == ["oauth"]


async def test_the_async_client_keeps_the_same_deadline_rules():
    script = fakes.Script(httpx.ConnectError("refused"), fakes.ok(fakes.token_body()))
    sleeps = fakes.Sleeps()
    client = _async(script, sleeps)
    client.policy.backoff = lambda retry: 2.0
    with pytest.raises(TransportError):
        await client.refresh(fakes.REFRESH_TOKEN, open_id=fakes.OPEN_ID, deadline=time.monotonic() + 0.5)
    assert sleeps.delays == []
    limiter = SlowQuota(wait_s=30)
    with pytest.raises(RateLimited, match="outlast"):
        await _async(fakes.Script(), sleeps, limiter).refresh(
            fakes.REFRESH_TOKEN, open_id=fakes.OPEN_ID, deadline=time.monotonic() + 1
        )
    await client.aclose()
