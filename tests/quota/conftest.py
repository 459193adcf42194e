"""Store fixtures (SQLite and PostgreSQL) shared with tests/state."""

from __future__ import annotations

from tests.state.stores import _shared_pg_state_url, fresh_store_url, store, store_url  # noqa: F401 - pytest fixtures
