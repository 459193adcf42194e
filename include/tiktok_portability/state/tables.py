"""The schema as SQLAlchemy Core tables (what queries use).

Migrations under ``migrations/versions`` create the same schema; a test compares the two on SQLite
and PostgreSQL so they cannot drift.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator

metadata = sa.MetaData()


class UTCDateTime(TypeDecorator):
    """Stores naive UTC, returns aware UTC: SQLite has no time zones, PostgreSQL gets timestamptz."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given to the state store; use clock.utcnow()")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# BIGINT primary keys autoincrement on PostgreSQL; SQLite only autoincrements INTEGER PRIMARY KEY.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

grants = sa.Table(
    "grants",
    metadata,
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
    # The export format this user's requests ask for ("json" / "text"); NULL: the run's default.
    sa.Column("data_format", sa.String(8)),
    # When the user last consented (OAuth callback or import): an authorization.removed event
    # created before it is late and must not revoke the renewed grant. NULL: unknown (older rows).
    sa.Column("consented_at", UTCDateTime),
    sa.Index("ix_grants_due", "status", "has_ongoing", "open_id"),
    sa.Index("ix_grants_access_expires_at", "access_expires_at"),
)

transfers = sa.Table(
    "transfers",
    metadata,
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
    # {"other_records": {section: n}, "record_errors": {section: n}} of the normalized archive.
    sa.Column("normalize_counts", sa.JSON),
    sa.Index("ix_transfers_open_id_status", "open_id", "status"),
    sa.Index("ix_transfers_run", "run_id", "batch"),
    sa.Index("ix_transfers_status", "status"),
)

webhook_events = sa.Table(
    "webhook_events",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("dedupe_key", sa.String(64), nullable=False, unique=True),
    sa.Column("event", sa.String(64), nullable=False),
    # TikTok's portability.download.ready carries no user_openid: filled from the transfer, if any.
    sa.Column("user_openid", sa.String(128)),
    sa.Column("create_time", sa.BigInteger, nullable=False),
    sa.Column("content", sa.Text, nullable=False),
    sa.Column("request_id", sa.BigInteger),
    sa.Column("transfer_id", sa.BigInteger),
    sa.Column("applied", sa.Boolean, nullable=False),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Index("ix_webhook_events_request_id", "request_id"),
    # Finding a user's ready export whose Add Data Request answer was lost.
    sa.Index("ix_webhook_events_user_event", "user_openid", "event"),
)

# Signed webhook deliveries that changed nothing, by reason (duplicate, unknown_request, ...):
# answered 200 so TikTok stops retrying, counted here so ops can see them (``webhooks counts``).
webhook_counters = sa.Table(
    "webhook_counters",
    metadata,
    sa.Column("reason", sa.String(64), primary_key=True),
    sa.Column("count", sa.BigInteger, nullable=False),
    sa.Column("last_at", UTCDateTime, nullable=False),
)

watermarks = sa.Table(
    "watermarks",
    metadata,
    sa.Column("open_id", sa.String(128), primary_key=True),
    sa.Column("table_name", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

quota_buckets = sa.Table(
    "quota_buckets",
    metadata,
    sa.Column("bucket", sa.String(32), primary_key=True),
    sa.Column("paused_until", sa.Float, nullable=False, server_default="0"),
)

# The sliding-window log: one row per granted call, pruned once older than the window.
quota_calls = sa.Table(
    "quota_calls",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("bucket", sa.String(32), nullable=False),
    sa.Column("ts", sa.Float, nullable=False),
    sa.Index("ix_quota_calls_bucket_ts", "bucket", "ts"),
)

quota_usage = sa.Table(
    "quota_usage",
    metadata,
    sa.Column("bucket", sa.String(32), primary_key=True),
    sa.Column("minute", sa.BigInteger, primary_key=True),
    sa.Column("calls", sa.Integer, nullable=False),
)

# A sync run's plan: which users each batch holds. Saved once by the plan task so every task of
# the run (and every retry) sees the same membership; XCom carries only the batch numbers.
sync_runs = sa.Table(
    "sync_runs",
    metadata,
    sa.Column("run_id", sa.String(250), primary_key=True),
    sa.Column("snapshot_date", sa.String(10), nullable=False),
    sa.Column("mode", sa.String(16), nullable=False),
    sa.Column("users", sa.Integer, nullable=False),
    sa.Column("batches", sa.Integer, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    # Requested users the plan left out: [{"fingerprint", "index", "reason"}] (no open_ids).
    sa.Column("left_out", sa.JSON),
)

sync_batches = sa.Table(
    "sync_batches",
    metadata,
    sa.Column("run_id", sa.String(250), primary_key=True),
    sa.Column("batch", sa.Integer, primary_key=True),
    sa.Column("open_ids", sa.JSON, nullable=False),
)

# OAuth ``state`` nonces already used by a callback (hashed: the nonce is the browser's cookie).
# Kept until the state would have expired anyway; a second callback with one is refused.
oauth_states = sa.Table(
    "oauth_states",
    metadata,
    sa.Column("nonce_hash", sa.String(64), primary_key=True),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Column("spent_at", UTCDateTime, nullable=False),
    sa.Index("ix_oauth_states_expires_at", "expires_at"),
)
