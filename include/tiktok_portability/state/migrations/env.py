"""Alembic environment: always run online, on the connection StateStore.migrate() hands over."""

from __future__ import annotations

from alembic import context

from tiktok_portability.state.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "run state migrations through StateStore.migrate() or `tiktok-portability state migrate`"
    )

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
