"""Webhooks routed by request_id and late removals: user_openid optional, consent time, counters.

TikTok's ``portability.download.ready`` has no ``user_openid``, so ``webhook_events.user_openid``
may be NULL; ``grants.consented_at`` lets an ``authorization.removed`` older than the latest consent
be recorded without revoking; ``webhook_counters`` counts signed deliveries that changed nothing.

Revision ID: 0006_webhook_routing
Revises: 0005_run_left_out
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tiktok_portability.state.tables import UTCDateTime

revision = "0006_webhook_routing"
down_revision = "0005_run_left_out"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("grants") as batch:
        batch.add_column(sa.Column("consented_at", UTCDateTime))
    with op.batch_alter_table("webhook_events") as batch:
        batch.alter_column("user_openid", existing_type=sa.String(128), nullable=True)
    op.create_table(
        "webhook_counters",
        sa.Column("reason", sa.String(64), primary_key=True),
        sa.Column("count", sa.BigInteger, nullable=False),
        sa.Column("last_at", UTCDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("webhook_counters")
    op.execute("DELETE FROM webhook_events WHERE user_openid IS NULL")
    with op.batch_alter_table("webhook_events") as batch:
        batch.alter_column("user_openid", existing_type=sa.String(128), nullable=False)
    with op.batch_alter_table("grants") as batch:
        batch.drop_column("consented_at")
