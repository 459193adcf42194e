"""TikTok's per-app quota: N calls per sliding window, per endpoint or shared across endpoints."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

SHARED_BUCKET = "shared"


@dataclass(frozen=True)
class QuotaDecision:
    allowed: bool
    bucket: str
    used: int
    retry_after_s: float


class SlidingWindowQuota:
    """Counts admitted calls per bucket over the last ``window_s`` seconds of emulator time.

    Calls refused with 429 are not counted, so a client that backs off recovers once the
    window has slid past its earlier calls.
    """

    def __init__(self) -> None:
        self._calls: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def admit(self, endpoint: str, now: float, *, limit: int, window_s: float, mode: str) -> QuotaDecision:
        bucket = SHARED_BUCKET if mode == "shared" else endpoint
        with self._lock:
            calls = self._calls.setdefault(bucket, deque())
            horizon = now - window_s
            while calls and calls[0] <= horizon:
                calls.popleft()
            if len(calls) >= limit:
                return QuotaDecision(False, bucket, len(calls), max(0.0, calls[0] + window_s - now))
            calls.append(now)
            return QuotaDecision(True, bucket, len(calls), 0.0)

    def reset(self) -> None:
        with self._lock:
            self._calls.clear()
