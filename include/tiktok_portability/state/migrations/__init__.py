"""Alembic migrations for the state store, shipped inside the package and run by StateStore.migrate()."""

from __future__ import annotations

# The newest revision in versions/: lets a store check "schema up to date" with one query instead of
# loading Alembic on every construction. A test asserts it equals Alembic's head.
HEAD_REVISION = "0008_transfer_normalize_counts"
