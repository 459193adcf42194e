"""Index webhook events by user, to find a ready export whose Add Data Request answer was lost.

Revision ID: 0004_webhook_user_index
Revises: 0003_grant_data_format
Create Date: 2026-11-23
"""

from __future__ import annotations

from alembic import op

revision = "0004_webhook_user_index"
down_revision = "0003_grant_data_format"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_webhook_events_user_event", "webhook_events", ["user_openid", "event"])


def downgrade() -> None:
    op.drop_index("ix_webhook_events_user_event", table_name="webhook_events")
