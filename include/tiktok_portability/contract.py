"""Names that are public contracts and must stay cheap to import (DAG files read them at parse time).

The schemas live in ``tiktok_portability.normalize.tables``; a test keeps this list equal to them.
"""

from __future__ import annotations

PUBLIC_TABLES: tuple[str, ...] = (
    "profile",
    "posts",
    "followers",
    "following",
    "blocked_users",
    "watch_history",
    "likes",
    "favorites",
    "searches",
    "shares",
    "logins",
    "comments",
    "dm_messages",
    "other_records",
    "sections_seen",
)

SYNC_DAG_ID = "tiktok_ongoing_sync"
# The Airflow connections a deployment creates: the TikTok app and the state store.
TIKTOK_CONN_ID = "tiktok_default"
STATE_CONN_ID = "tiktok_state"
# The one environment variable naming the lake (Airflow tasks, the CLI, the demo and the stack).
LAKE_URI_ENV = "TIKTOK_LAKE_URI"
ASSET_URI_PREFIX = "x-tiktok-portability://lake/"


def asset_uri(table: str) -> str:
    """The Airflow Asset URI of a lake table (an ``x-`` scheme: Airflow leaves it as is)."""
    return f"{ASSET_URI_PREFIX}{table}"
