"""What the client needs from a quota limiter (``tiktok_portability.quota.QuotaLimiter`` fits)."""

from __future__ import annotations

import asyncio
from typing import Protocol, runtime_checkable

#: Limiter bucket names, one per TikTok endpoint plus the OAuth token endpoint.
ENDPOINTS = ("add", "check", "cancel", "download", "oauth")


@runtime_checkable
class Limiter(Protocol):
    """Paces calls across every worker of the app.

    ``acquire`` blocks until one call to ``endpoint`` may be made; the client calls it before every
    attempt, retries included, with a ``timeout`` only when the call has a deadline (a
    ``TimeoutError`` then says the wait would pass it). ``report_rate_limited`` tells it TikTok
    answered 429 so the pause is shared by everyone, not just by the caller who saw it.
    """

    def acquire(self, endpoint: str, timeout: float | None = None) -> None: ...

    def report_rate_limited(self, endpoint: str, retry_after_s: float | None) -> None: ...


async def acquire_async(limiter: Limiter, endpoint: str, timeout: float | None = None) -> None:
    """Use the limiter's ``acquire_async`` when it has one, else its blocking ``acquire`` in a thread.

    ``timeout`` is passed only when given (limiters without a deadline need not take one).
    """
    native = getattr(limiter, "acquire_async", None)
    args = (endpoint,) if timeout is None else (endpoint, timeout)
    if native is not None:
        await native(*args)
    else:
        await asyncio.to_thread(limiter.acquire, *args)
