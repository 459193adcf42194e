"""Caching what is worked out from one long-lived object (a table's spec) by its identity.

``functools.lru_cache`` hashes its argument: a table spec hashes its Arrow schema, ~8 us a call,
which a small archive pays a few dozen times. These caches look the object up by ``id`` and keep
it alive, so an id is never reused for another object while its entry exists.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")


def cached_per_object(fn: Callable[[K], V]) -> Callable[[K], V]:
    """``fn(obj)`` computed once per object (by identity), for objects that live long."""
    cache: dict[int, tuple[K, V]] = {}

    @wraps(fn)
    def cached(obj: K) -> V:
        hit = cache.get(id(obj))
        if hit is None or hit[0] is not obj:
            hit = cache[id(obj)] = (obj, fn(obj))
        return hit[1]

    return cached
