"""Helpers and store fixtures shared by the state, quota and tokens tests (imported by their conftest)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from tiktok_portability.clock import utcnow
from tiktok_portability.redact import Secret
from tiktok_portability.state import StateStore
from tiktok_portability.state.tables import metadata

# Fixed test keys (generated once with Fernet.generate_key()).
KEY_A = "cw_0x689RpI-jtRR7oFWhqXoSdYLzMkG5Wzg8o6nq8A="
KEY_B = "9eaq8yRmODcMS3k_dfJqbVmVcBN5cBhmnzYV1K5T08g="


@dataclass
class Tokens:
    """A token pair shaped like the client's TokenSet."""

    access_token: Secret
    refresh_token: Secret
    expires_at: datetime
    refresh_expires_at: datetime
    token_type: str = "Bearer"
    open_id: str = ""
    scopes: tuple[str, ...] = ()


def tokens(tag: str = "1", expires_in: timedelta = timedelta(hours=2)) -> Tokens:
    now = utcnow()
    return Tokens(
        access_token=Secret(f"act.PLAINTEXT-ACCESS-{tag}"),
        refresh_token=Secret(f"rft.PLAINTEXT-REFRESH-{tag}"),
        expires_at=now + expires_in,
        refresh_expires_at=now + timedelta(days=180),
    )


BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(scope="session")
def _shared_pg_state_url(postgres_server) -> str:
    url = postgres_server.create_database()
    StateStore.from_url(url, fernet_keys=[KEY_A]).close()
    return url


@pytest.fixture(params=BACKENDS)
def fresh_store_url(request, tmp_path) -> str:
    """An empty database: a SQLite temp file, or a new database on the session's PostgreSQL 15."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.db'}"
    return request.getfixturevalue("postgres_server").create_database()


@pytest.fixture(params=BACKENDS)
def store_url(request, tmp_path) -> str:
    """A migrated, empty state database (PostgreSQL: one shared database, truncated per test)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.db'}"
    url = request.getfixturevalue("_shared_pg_state_url")
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):  # DELETE: far cheaper than TRUNCATE on tiny tables
            conn.execute(table.delete())
    engine.dispose()
    return url


@pytest.fixture
def store(store_url) -> Iterator[StateStore]:
    s = StateStore.from_url(store_url, fernet_keys=[KEY_A])
    yield s
    s.close()
