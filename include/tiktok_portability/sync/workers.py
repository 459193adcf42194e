"""Run one function per user of a batch on a small thread pool.

The API calls of a batch are I/O bound and paced by the global limiter, so a few threads keep the
quota busy even at real TikTok latencies; results come back in input order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def map_users(fn: Callable[[T], R], items: Sequence[T], concurrency: int) -> list[R]:
    if concurrency <= 1 or len(items) <= 1:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(concurrency, len(items)), thread_name_prefix="sync") as pool:
        return list(pool.map(fn, items))
