"""When to retry and how long to wait: exponential backoff with full jitter, Retry-After, windows."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC
from email.utils import parsedate_to_datetime

from tiktok_portability import clock
from tiktok_portability.client.config import ClientConfig
from tiktok_portability.client.errors import RateLimited, TikTokError

# A little spread after a Retry-After or window boundary so that workers released by the same
# 429 do not all hit the API in the same instant.
RATE_LIMIT_SPREAD_S = 1.0


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), or None."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = clock.now_ts() if now is None else now
    return max(0.0, when.timestamp() - current)


def seconds_to_next_window(window_s: float, now: float | None = None) -> float:
    """Time until the next multiple of ``window_s`` since the epoch (TikTok counts per minute)."""
    current = clock.now_ts() if now is None else now
    return window_s - (current % window_s)


@dataclass
class RetryPolicy:
    max_retries: int = 4
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0
    max_retry_after_s: float = 120.0
    rate_limit_window_s: float = 60.0
    rng: random.Random = field(default_factory=random.Random)

    @classmethod
    def from_config(cls, config: ClientConfig, rng: random.Random | None = None) -> RetryPolicy:
        return cls(
            max_retries=config.max_retries,
            backoff_base_s=config.backoff_base_s,
            backoff_max_s=config.backoff_max_s,
            max_retry_after_s=config.max_retry_after_s,
            rate_limit_window_s=config.rate_limit_window_s,
            rng=rng or random.Random(),
        )

    def backoff(self, retry_number: int) -> float:
        """Full jitter: uniform over [0, min(cap, base * 2**n)] for the n-th retry (from 0)."""
        ceiling = min(self.backoff_max_s, self.backoff_base_s * (2**retry_number))
        return self.rng.uniform(0.0, ceiling)

    def delay(self, error: TikTokError, retry_number: int, now: float | None = None) -> float | None:
        """Seconds to sleep before retry number ``retry_number`` (0-based), or None to give up."""
        if not error.retryable or retry_number >= self.max_retries:
            return None
        if isinstance(error, RateLimited):
            spread = self.rng.uniform(0.0, min(RATE_LIMIT_SPREAD_S, self.backoff_base_s))
            if error.retry_after_s is not None:
                if error.retry_after_s > self.max_retry_after_s:
                    return None
                return error.retry_after_s + spread
            return seconds_to_next_window(self.rate_limit_window_s, now) + spread
        return self.backoff(retry_number)
