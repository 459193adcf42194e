"""The global quota limiter: every process and worker of the app shares it through the state store.

Algorithm: a sliding-window log. Each granted call is a row ``(bucket, ts)``; a call is granted only
when fewer than ``limit`` rows of its bucket fall within the last ``window``, checked and recorded
in one write transaction that holds the bucket's lock. Hence no window of length ``window``
positioned anywhere in time ever contains more than ``limit`` grants - the guarantee TikTok's
"per minute" quota needs. A token bucket does not give it: a full bucket plus its refill lets
up to twice the rate through one rolling minute.

Two margins absorb what happens between the grant and TikTok counting the call:
``safety_margin`` (a fraction of the quota kept unused) and ``window_padding_s`` (the window we
enforce is that much longer than TikTok's, covering network jitter and small clock differences
between hosts).

When a slot is not free, the store says exactly when the blocking call leaves the window; the
waiter sleeps until then plus a random jitter. Because every waiter re-competes after a random
short sleep, the order of service is randomized rather than "whoever polls fastest", so one busy
batch cannot starve the others. A 429 from TikTok pauses the whole bucket for every process
(``report_rate_limited``), for Retry-After when given, else one full window.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from tiktok_portability.state.models import QuotaDecision
from tiktok_portability.state.store import StateStore

log = logging.getLogger(__name__)

PORTABILITY_ENDPOINTS: tuple[str, ...] = ("add", "check", "cancel", "download")
OAUTH_BUCKET = "oauth"
SHARED_BUCKET = "shared"


class QuotaError(Exception):
    """Base class for limiter errors."""


class QuotaTimeout(QuotaError, TimeoutError):
    """No slot became free within the caller's timeout."""


@dataclass(frozen=True)
class QuotaConfig:
    """Quota settings. TikTok's documented quota is 1,000 calls per minute per endpoint."""

    per_window: int = 1000
    window_s: float = 60.0
    mode: Literal["per_endpoint", "shared"] = "per_endpoint"
    safety_margin: float = 0.05
    oauth_per_window: int = 600
    window_padding_s: float = 0.5
    jitter_s: float | None = None
    namespace: str = ""

    def __post_init__(self) -> None:
        if self.per_window < 1 or self.oauth_per_window < 1:
            raise ValueError(f"quota per_window must be >= 1, got {self.per_window}/{self.oauth_per_window}")
        if self.window_s <= 0:
            raise ValueError(f"quota window_s must be > 0, got {self.window_s}")
        if not 0 <= self.safety_margin < 1:
            raise ValueError(f"quota safety_margin must be in [0, 1), got {self.safety_margin}")
        if self.mode not in ("per_endpoint", "shared"):
            raise ValueError(f"quota mode must be per_endpoint or shared, got {self.mode!r}")
        if self.window_padding_s < 0:
            raise ValueError(f"quota window_padding_s must be >= 0, got {self.window_padding_s}")

    def bucket_for(self, endpoint: str) -> str:
        """The bucket an endpoint's calls count against."""
        if endpoint == OAUTH_BUCKET:
            name = OAUTH_BUCKET
        elif self.mode == "shared":
            name = SHARED_BUCKET
        else:
            name = endpoint
        return f"{self.namespace}:{name}" if self.namespace else name

    def limit_for(self, endpoint: str) -> int:
        """Calls we allow ourselves per window: the quota minus the safety margin, at least 1."""
        quota = self.oauth_per_window if endpoint == OAUTH_BUCKET else self.per_window
        return max(1, math.floor(quota * (1 - self.safety_margin) + 1e-9))

    @property
    def enforced_window_s(self) -> float:
        return self.window_s + self.window_padding_s

    @property
    def effective_jitter_s(self) -> float:
        if self.jitter_s is not None:
            return self.jitter_s
        return min(0.25, self.window_s * 0.02)


class QuotaLimiter:
    """Blocks (or awaits) until a call may be made; satisfies the client's ``Limiter`` protocol."""

    def __init__(self, store: StateStore, config: QuotaConfig | None = None) -> None:
        self.store = store
        self.config = config or QuotaConfig()

    def __repr__(self) -> str:
        c = self.config
        return f"QuotaLimiter(per_window={c.per_window}, window_s={c.window_s}, mode={c.mode})"

    def _try(self, endpoint: str) -> QuotaDecision:
        return self.store.quota_try_acquire(
            self.config.bucket_for(endpoint), self.config.limit_for(endpoint), self.config.enforced_window_s
        )

    def _sleep_for(self, decision: QuotaDecision, endpoint: str, deadline: float | None) -> float:
        delay = decision.wait_s + random.uniform(0, self.config.effective_jitter_s)
        if deadline is not None and time.monotonic() + delay > deadline:
            raise QuotaTimeout(
                f"no {endpoint!r} slot in bucket {self.config.bucket_for(endpoint)!r} "
                f"within the timeout (next in {decision.wait_s:.2f}s, paused={decision.paused})"
            )
        return delay

    def acquire(self, endpoint: str, timeout: float | None = None) -> float:
        """Wait for one slot for ``endpoint``; returns the seconds waited. QuotaTimeout after ``timeout``."""
        start = time.monotonic()
        deadline = None if timeout is None else start + timeout
        while True:
            decision = self._try(endpoint)
            if decision.granted:
                return time.monotonic() - start
            time.sleep(self._sleep_for(decision, endpoint, deadline))

    async def acquire_async(self, endpoint: str, timeout: float | None = None) -> float:
        """``acquire`` for event loops: the transaction runs in a thread, the waiting is ``asyncio.sleep``."""
        start = time.monotonic()
        deadline = None if timeout is None else start + timeout
        while True:
            decision = await asyncio.to_thread(self._try, endpoint)
            if decision.granted:
                return time.monotonic() - start
            await asyncio.sleep(self._sleep_for(decision, endpoint, deadline))

    def report_rate_limited(self, endpoint: str, retry_after_s: float | None = None) -> None:
        """TikTok answered 429: pause the bucket for every process (Retry-After, else one window)."""
        pause = retry_after_s if retry_after_s is not None and retry_after_s > 0 else self.config.window_s
        bucket = self.config.bucket_for(endpoint)
        until = self.store.quota_pause(bucket, time.time() + pause)
        log.warning(
            "rate limited by TikTok; bucket paused bucket=%s pause_s=%.1f until=%.0f", bucket, pause, until
        )

    def usage(self, since: datetime | None = None) -> dict[str, int]:
        """Calls granted per bucket since ``since`` (minute resolution), for run summaries."""
        return self.store.quota_usage(since)
