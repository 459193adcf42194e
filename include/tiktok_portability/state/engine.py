"""Engines tuned for concurrent writers on SQLite and PostgreSQL.

SQLite: WAL (readers never block the writer), a busy timeout, and transactions begun by us so that a
write transaction can start with ``BEGIN IMMEDIATE``: it takes the write lock before reading, so a
read-then-write can never be overtaken by another process (the classic lost update on SQLite's
default deferred BEGIN). PostgreSQL: the same code takes row locks with ``SELECT ... FOR UPDATE``.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.pool import StaticPool

from tiktok_portability.state.errors import StateConfigError

log = logging.getLogger(__name__)

# Execution option that marks a connection's transaction as a write transaction.
WRITE_OPTION = "tiktok_write"
SQLITE_BUSY_TIMEOUT_MS = 30_000


def normalize_url(url: str) -> str:
    """Accept Airflow-style ``postgres://`` and bare ``postgresql://`` URLs; pin the psycopg2 driver."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg2://" + url[len("postgresql://") :]
    return url


def create_engine(url: str) -> sa.Engine:
    """An engine whose errors never carry statement parameters (open_ids, encrypted tokens)."""
    try:
        parsed = sa.make_url(normalize_url(url))
    except sa.exc.ArgumentError:
        raise StateConfigError("state store URL is not a valid SQLAlchemy URL") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(parsed)
    if backend == "postgresql":
        return sa.create_engine(parsed, pool_pre_ping=True, pool_size=5, max_overflow=5, hide_parameters=True)
    raise StateConfigError(f"state store backend {backend!r} is not supported (use sqlite or postgresql)")


def _create_private(path: Path) -> None:
    """Create the database file owner-only (0600) before SQLite does with the umask's mode.

    It holds encrypted tokens and every user's open_id; SQLite gives its ``-wal`` and ``-shm``
    files the database file's mode. An existing file keeps the mode its owner chose.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return
    os.close(fd)


def _sqlite_engine(url: sa.URL) -> sa.Engine:
    database = url.database
    in_memory = not database or database == ":memory:"
    if in_memory:
        engine = sa.create_engine(
            url, poolclass=StaticPool, connect_args={"check_same_thread": False}, hide_parameters=True
        )
    else:
        _create_private(Path(database).expanduser())
        engine = sa.create_engine(
            url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, hide_parameters=True
        )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        # Let SQLAlchemy's "begin" event below issue BEGIN instead of the driver's implicit one.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if not in_memory:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        mode = "IMMEDIATE" if connection.get_execution_options().get(WRITE_OPTION) else "DEFERRED"
        connection.exec_driver_sql(f"BEGIN {mode}")

    return engine
