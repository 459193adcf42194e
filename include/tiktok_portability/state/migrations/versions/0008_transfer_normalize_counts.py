"""What the normalizer could not type, per transfer: records kept in other_records and records
that failed to parse, by section (shown by ``transfers list``).

Revision ID: 0008_transfer_normalize_counts
Revises: 0007_oauth_states
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_transfer_normalize_counts"
down_revision = "0007_oauth_states"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("transfers") as batch:
        batch.add_column(sa.Column("normalize_counts", sa.JSON))


def downgrade() -> None:
    with op.batch_alter_table("transfers") as batch:
        batch.drop_column("normalize_counts")
