"""Per-grant export format preference.

Revision ID: 0003_grant_data_format
Revises: 0002_sync_runs
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_grant_data_format"
down_revision = "0002_sync_runs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("grants") as batch:
        batch.add_column(sa.Column("data_format", sa.String(8)))


def downgrade() -> None:
    with op.batch_alter_table("grants") as batch:
        batch.drop_column("data_format")
