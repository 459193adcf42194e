"""The lake's writer lock, held in the state store's database (no tables, no keys needed)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

LAKE_LOCK_KEY = int.from_bytes(hashlib.sha256(b"tiktok_portability.lake").digest()[:8], "big", signed=True)


@contextmanager
def lake_lock(engine: sa.Engine, *, exclusive: bool) -> Iterator[None]:
    """Keeps lake rewrites apart across processes and hosts, for as long as the block runs.

    Batch commits take it shared (they run in parallel and never rewrite the same files: the
    planner sees to that); a GDPR erasure takes it exclusive, because it rewrites files any
    commit might be rewriting at the same moment (one of the two rewrites would be lost).
    PostgreSQL: a session advisory lock on a connection of its own (released if the process
    dies). SQLite: an ``flock`` on a file beside the database (SQLite is one machine's store).
    An in-memory database has no other process to wait for.
    """
    if engine.dialect.name == "postgresql":
        take, give = (
            (sa.func.pg_advisory_lock, sa.func.pg_advisory_unlock)
            if exclusive
            else (sa.func.pg_advisory_lock_shared, sa.func.pg_advisory_unlock_shared)
        )
        with engine.connect() as conn:
            conn.execute(sa.select(take(LAKE_LOCK_KEY)))
            conn.commit()
            try:
                yield
            finally:
                conn.execute(sa.select(give(LAKE_LOCK_KEY)))
                conn.commit()
        return
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield
        return
    import fcntl

    with open(f"{database}.lake.lock", "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
