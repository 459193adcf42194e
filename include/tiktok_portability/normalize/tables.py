"""The public table contract: names, kinds, natural keys and explicit Arrow schemas.

Every table starts with the same three lineage columns (``open_id``, ``request_id``,
``snapshot_date``). ``schema_version`` is per table: bump it when a column is added, removed or
retyped; it travels in ``TableSpec`` and in the schema metadata (and so in every Parquet footer).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pyarrow as pa

TableKind = Literal["event", "snapshot", "report"]

TS = pa.timestamp("s", tz="UTC")
METADATA_TABLE = b"tiktok_portability.table"
METADATA_VERSION = b"tiktok_portability.schema_version"


@dataclass(frozen=True)
class TableSpec:
    """One table: its Arrow schema (with metadata), kind and natural key."""

    name: str
    schema: pa.Schema
    kind: TableKind
    key: tuple[str, ...]
    description: str
    schema_version: int = 1


# column name -> (type, meaning); kept as data so docs/tables.md is generated from it.
Column = tuple[str, pa.DataType, str]

LINEAGE: tuple[Column, ...] = (
    ("open_id", pa.string(), "TikTok open_id of the user whose export this row comes from"),
    ("request_id", pa.int64(), "Data Portability request id of the export (null when unknown)"),
    ("snapshot_date", pa.date32(), "the date of the nightly snapshot the export belongs to"),
)


def _ts(name: str, what: str) -> tuple[Column, Column]:
    return (
        (name, TS, f"{what} (UTC; null when the export's value is missing or unparseable)"),
        (f"{name}_raw", pa.string(), f"{what} exactly as the export wrote it"),
    )


def _video(what: str = "link") -> Column:
    return ("video_id", pa.int64(), f"video id taken from the {what} (`/video/<digits>`), else null")


OCCURRENCE: Column = (
    "occurrence",
    pa.int32(),
    "0, 1, 2, ... among rows of this export identical in every other key column",
)
EXTRA: Column = ("extra", pa.string(), "JSON object of the record's fields this version does not map")


def _spec(
    name: str, kind: TableKind, key: tuple[str, ...], description: str, columns: tuple[Column, ...]
) -> TableSpec:
    version = 1
    fields = [pa.field(n, t, nullable=True, metadata={b"description": d.encode()}) for n, t, d in columns]
    schema = pa.schema(
        fields, metadata={METADATA_TABLE: name.encode(), METADATA_VERSION: str(version).encode()}
    )
    return TableSpec(name, schema, kind, key, description, version)


_DEFS: tuple[TableSpec, ...] = (
    _spec(
        "profile",
        "snapshot",
        ("open_id", "snapshot_date"),
        "The account's profile as of the snapshot: one row per export.",
        (
            *LINEAGE,
            ("user_name", pa.string(), "the @username (`userName`)"),
            ("display_name", pa.string(), "display name (G2+)"),
            ("bio_description", pa.string(), "profile bio"),
            ("birth_date", pa.string(), "birth date as written by TikTok (format varies, e.g. 01-Jan-2000)"),
            ("email_address", pa.string(), "e-mail address on the account"),
            ("telephone_number", pa.string(), "phone number on the account"),
            ("likes_received", pa.int64(), "likes received over all posts (`likesReceived`)"),
            ("follower_count", pa.int64(), "followers (G2+)"),
            ("following_count", pa.int64(), "accounts followed (G2+)"),
            ("profile_photo", pa.string(), "avatar URL"),
            ("profile_video", pa.string(), "profile video URL"),
            ("instagram_link", pa.string(), "linked Instagram"),
            ("youtube_link", pa.string(), "linked YouTube"),
            ("inferred_gender", pa.string(), "gender TikTok inferred"),
            EXTRA,
        ),
    ),
    _spec(
        "posts",
        "snapshot",
        ("open_id", "snapshot_date", "posted_at", "link"),
        "The user's own posts as of the snapshot. A snapshot table, not events: like counts and "
        "settings change every night and posts can be deleted.",
        (
            *LINEAGE,
            *_ts("posted_at", "when the post was published"),
            ("link", pa.string(), "media URL (photo posts: several URLs joined by newlines)"),
            _video(),
            ("likes", pa.int64(), "like count at export time (`Likes`, a string in the export)"),
            ("title", pa.string(), "caption"),
            ("who_can_view", pa.string(), "audience setting"),
            ("allow_comments", pa.string(), "comment setting"),
            ("allow_stitches", pa.string(), "stitch setting"),
            ("allow_duets", pa.string(), "duet setting"),
            ("allow_stickers", pa.string(), "sticker setting"),
            ("allow_sharing_to_story", pa.string(), "story sharing setting"),
            ("content_disclosure", pa.string(), "content disclosure label"),
            ("ai_generated_content", pa.string(), "AI-generated label"),
            ("sound", pa.string(), "sound used"),
            ("location", pa.string(), "tagged location"),
            ("add_yours_text", pa.string(), "'Add Yours' prompt"),
            ("alternate_text", pa.string(), "alt text"),
            ("cover_image", pa.string(), "cover image URL"),
            EXTRA,
        ),
    ),
    _spec(
        "followers",
        "snapshot",
        ("open_id", "snapshot_date", "user_name"),
        "Accounts following the user as of the snapshot.",
        (
            *LINEAGE,
            ("user_name", pa.string(), "follower's username"),
            *_ts("followed_at", "when they followed"),
        ),
    ),
    _spec(
        "following",
        "snapshot",
        ("open_id", "snapshot_date", "user_name"),
        "Accounts the user follows as of the snapshot.",
        (*LINEAGE, ("user_name", pa.string(), "followed username"), *_ts("followed_at", "when followed")),
    ),
    _spec(
        "blocked_users",
        "snapshot",
        ("open_id", "snapshot_date", "user_name"),
        "Accounts the user has blocked as of the snapshot (blocks can be lifted, hence a snapshot).",
        (*LINEAGE, ("user_name", pa.string(), "blocked username"), *_ts("blocked_at", "when blocked")),
    ),
    _spec(
        "watch_history",
        "event",
        ("open_id", "watched_at", "video_id", "link", "occurrence"),
        "Videos watched.",
        (
            *LINEAGE,
            *_ts("watched_at", "when watched"),
            ("link", pa.string(), "video link"),
            _video(),
            OCCURRENCE,
        ),
    ),
    _spec(
        "likes",
        "event",
        ("open_id", "liked_at", "video_id", "link", "occurrence"),
        "Videos liked.",
        (*LINEAGE, *_ts("liked_at", "when liked"), ("link", pa.string(), "video link"), _video(), OCCURRENCE),
    ),
    _spec(
        "favorites",
        "event",
        ("open_id", "kind", "favorited_at", "link", "name", "occurrence"),
        "Items saved as favourites: videos, sounds, effects, hashtags and collections.",
        (
            *LINEAGE,
            ("kind", pa.string(), "video | sound | effect | hashtag | collection"),
            *_ts("favorited_at", "when saved"),
            ("link", pa.string(), "link of the item (`Link`, `EffectLink`, `HashTag Link`)"),
            _video(),
            ("name", pa.string(), "collection name (`FavoriteCollection`), for kind=collection"),
            OCCURRENCE,
        ),
    ),
    _spec(
        "searches",
        "event",
        ("open_id", "searched_at", "search_term", "occurrence"),
        "Searches made in the app.",
        (*LINEAGE, *_ts("searched_at", "when searched"), ("search_term", pa.string(), "query"), OCCURRENCE),
    ),
    _spec(
        "shares",
        "event",
        ("open_id", "shared_at", "shared_content", "link", "method", "occurrence"),
        "Content the user shared.",
        (
            *LINEAGE,
            *_ts("shared_at", "when shared"),
            ("shared_content", pa.string(), "what was shared (e.g. video)"),
            ("link", pa.string(), "link shared"),
            _video(),
            ("method", pa.string(), "how it was shared (e.g. chat_merge)"),
            OCCURRENCE,
        ),
    ),
    _spec(
        "logins",
        "event",
        ("open_id", "logged_in_at", "ip", "device_model", "occurrence"),
        "Log-ins to the account.",
        (
            *LINEAGE,
            *_ts("logged_in_at", "when"),
            ("ip", pa.string(), "IP address"),
            ("device_model", pa.string(), "device model"),
            ("device_system", pa.string(), "operating system"),
            ("network_type", pa.string(), "network type"),
            ("carrier", pa.string(), "mobile carrier"),
            OCCURRENCE,
        ),
    ),
    _spec(
        "comments",
        "event",
        ("open_id", "commented_at", "comment", "occurrence"),
        "Comments the user wrote.",
        (
            *LINEAGE,
            *_ts("commented_at", "when"),
            ("comment", pa.string(), "comment text"),
            ("photo", pa.string(), "attached photo, if any"),
            ("url", pa.string(), "link of the commented post, when the export has it"),
            _video("url"),
            OCCURRENCE,
        ),
    ),
    _spec(
        "dm_messages",
        "event",
        ("open_id", "conversation", "sent_at", "sender", "content", "occurrence"),
        "Direct messages, one row per message.",
        (
            *LINEAGE,
            ("conversation", pa.string(), "conversation partner (from 'Chat History with <name>:')"),
            *_ts("sent_at", "when sent"),
            ("sender", pa.string(), "username of the sender (`From`)"),
            ("direction", pa.string(), "sent (sender is the profile's userName) | received"),
            ("content", pa.string(), "message text (shared videos appear as links)"),
            _video("content"),
            OCCURRENCE,
        ),
    ),
    _spec(
        "other_records",
        "event",
        ("open_id", "section", "record", "occurrence"),
        "Records of every list no typed table holds (off-TikTok activity, device status, live "
        "comments, reposts, sections TikTok adds later), kept verbatim so nothing of an export is "
        "lost and a later typed table can be backfilled from them. Loaded once, the night a "
        "record first appears (matched by its key alone: these records have no common time).",
        (
            *LINEAGE,
            (
                "section",
                pa.string(),
                "where the list sits: the JSON key path joined by ' / ' (data-valued keys as '*'), "
                "or '<folder> / <file>' of a TXT file",
            ),
            ("ordinal", pa.int64(), "0-based position of the record in its list (or file) in this export"),
            ("record", pa.string(), "the record as JSON text, keys and values as the export wrote them"),
            OCCURRENCE,
        ),
    ),
    _spec(
        "sections_seen",
        "report",
        ("open_id", "request_id", "path"),
        "Every section, list and record field found in an export, and whether a table maps it.",
        (
            *LINEAGE,
            ("format", pa.string(), "json | txt"),
            (
                "generation",
                pa.string(),
                "layout generation detected (G0..G3; partial when a partial export names none) or null",
            ),
            ("member", pa.string(), "zip member the path was found in"),
            (
                "path",
                pa.string(),
                "JSON key path joined by ' / ' (list fields as '<list>[] / field'); TXT: file",
            ),
            ("node", pa.string(), "object | list | value | field | file"),
            ("mapped", pa.bool_(), "true when a table reads it"),
            ("table_name", pa.string(), "the table that reads it"),
            ("records", pa.int64(), "list items or TXT records found there"),
        ),
    ),
)

TABLES: dict[str, TableSpec] = {spec.name: spec for spec in _DEFS}
