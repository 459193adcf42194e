"""Users a run was asked for but did not plan, with the reason (shown by the run summary).

Revision ID: 0005_run_left_out
Revises: 0004_webhook_user_index
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_run_left_out"
down_revision = "0004_webhook_user_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sync_runs") as batch:
        batch.add_column(sa.Column("left_out", sa.JSON))


def downgrade() -> None:
    with op.batch_alter_table("sync_runs") as batch:
        batch.drop_column("left_out")
