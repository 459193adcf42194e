"""Spent OAuth ``state`` values, so a sign-in link's state completes at most one callback.

Revision ID: 0007_oauth_states
Revises: 0006_webhook_routing
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tiktok_portability.state.tables import UTCDateTime

revision = "0007_oauth_states"
down_revision = "0006_webhook_routing"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "oauth_states",
        sa.Column("nonce_hash", sa.String(64), primary_key=True),
        sa.Column("expires_at", UTCDateTime, nullable=False),
        sa.Column("spent_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_oauth_states_expires_at", "oauth_states", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_oauth_states_expires_at", table_name="oauth_states")
    op.drop_table("oauth_states")
