"""Sync run plans: sync_runs and sync_batches.

Revision ID: 0002_sync_runs
Revises: 0001_initial
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tiktok_portability.state.tables import UTCDateTime

revision = "0002_sync_runs"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sync_runs",
        sa.Column("run_id", sa.String(250), primary_key=True),
        sa.Column("snapshot_date", sa.String(10), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("users", sa.Integer, nullable=False),
        sa.Column("batches", sa.Integer, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "sync_batches",
        sa.Column("run_id", sa.String(250), primary_key=True),
        sa.Column("batch", sa.Integer, primary_key=True),
        sa.Column("open_ids", sa.JSON, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("sync_batches")
    op.drop_table("sync_runs")
