"""Initial schema: grants, transfers, webhook events, watermarks, quota.

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tiktok_portability.state.tables import UTCDateTime

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "grants",
        sa.Column("open_id", sa.String(128), primary_key=True),
        sa.Column("scopes", sa.JSON, nullable=False),
        sa.Column("has_ongoing", sa.Boolean, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_reason", sa.Text),
        sa.Column("access_token_enc", sa.Text),
        sa.Column("access_expires_at", UTCDateTime),
        sa.Column("refresh_token_enc", sa.Text),
        sa.Column("refresh_expires_at", UTCDateTime),
        sa.Column("token_type", sa.String(32)),
        sa.Column("refresh_started_at", UTCDateTime),
        sa.Column("lock_owner", sa.String(128)),
        sa.Column("lock_expires_at", UTCDateTime),
        sa.Column("last_refreshed_at", UTCDateTime),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_grants_due", "grants", ["status", "has_ongoing", "open_id"])
    op.create_index("ix_grants_access_expires_at", "grants", ["access_expires_at"])

    op.create_table(
        "transfers",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("open_id", sa.String(128), nullable=False),
        sa.Column("run_id", sa.String(250), nullable=False),
        sa.Column("batch", sa.Integer),
        sa.Column("categories", sa.JSON, nullable=False),
        sa.Column("data_format", sa.String(8), nullable=False),
        sa.Column("request_id", sa.BigInteger, unique=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("failure_reason", sa.Text),
        sa.Column("raw_location", sa.Text),
        sa.Column("raw_size", sa.BigInteger),
        sa.Column("raw_sha256", sa.String(64)),
        sa.Column("requested_at", UTCDateTime),
        sa.Column("ready_at", UTCDateTime),
        sa.Column("downloaded_at", UTCDateTime),
        sa.Column("normalized_at", UTCDateTime),
        sa.Column("failed_at", UTCDateTime),
        sa.Column("expired_at", UTCDateTime),
        sa.Column("cancelled_at", UTCDateTime),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_transfers_open_id_status", "transfers", ["open_id", "status"])
    op.create_index("ix_transfers_run", "transfers", ["run_id", "batch"])
    op.create_index("ix_transfers_status", "transfers", ["status"])

    op.create_table(
        "webhook_events",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("dedupe_key", sa.String(64), nullable=False, unique=True),
        sa.Column("event", sa.String(64), nullable=False),
        sa.Column("user_openid", sa.String(128), nullable=False),
        sa.Column("create_time", sa.BigInteger, nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("request_id", sa.BigInteger),
        sa.Column("transfer_id", sa.BigInteger),
        sa.Column("applied", sa.Boolean, nullable=False),
        sa.Column("received_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_webhook_events_request_id", "webhook_events", ["request_id"])

    op.create_table(
        "watermarks",
        sa.Column("open_id", sa.String(128), primary_key=True),
        sa.Column("table_name", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )

    op.create_table(
        "quota_buckets",
        sa.Column("bucket", sa.String(32), primary_key=True),
        sa.Column("paused_until", sa.Float, nullable=False, server_default="0"),
    )
    op.create_table(
        "quota_calls",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("bucket", sa.String(32), nullable=False),
        sa.Column("ts", sa.Float, nullable=False),
    )
    op.create_index("ix_quota_calls_bucket_ts", "quota_calls", ["bucket", "ts"])
    op.create_table(
        "quota_usage",
        sa.Column("bucket", sa.String(32), primary_key=True),
        sa.Column("minute", sa.BigInteger, primary_key=True),
        sa.Column("calls", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    for table in ("quota_usage", "quota_calls", "quota_buckets", "watermarks", "webhook_events", "transfers"):
        op.drop_table(table)
    op.drop_table("grants")
