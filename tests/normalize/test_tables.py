"""The table contract: names, kinds, keys and schemas are what analysts were promised."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from tiktok_portability.normalize import TABLES
from tiktok_portability.normalize.docs import render
from tiktok_portability.normalize.tables import METADATA_VERSION, TS

PUBLIC = {
    "profile", "posts", "followers", "following", "watch_history", "likes", "favorites", "searches",
    "shares", "logins", "comments", "dm_messages", "blocked_users", "other_records", "sections_seen",
}  # fmt: skip


def test_table_names_are_the_public_contract():
    assert set(TABLES) == PUBLIC


def test_every_table_has_lineage_keys_and_version():
    for spec in TABLES.values():
        assert spec.schema.names[:3] == ["open_id", "request_id", "snapshot_date"]
        assert spec.schema.field("request_id").type == pa.int64()
        assert spec.schema.field("snapshot_date").type == pa.date32()
        assert set(spec.key) <= set(spec.schema.names), spec.name
        assert spec.schema.metadata[METADATA_VERSION] == str(spec.schema_version).encode()


def test_event_tables_key_on_a_timestamp_and_occurrence():
    for spec in TABLES.values():
        if spec.kind == "event":
            assert spec.key[-1] == "occurrence"
            # other_records holds records of every shape: it has no common time to key on.
            timed = any(spec.schema.field(c).type == TS for c in spec.key)
            assert timed == (spec.name != "other_records"), spec.name
            assert spec.schema.field("occurrence").type == pa.int32()
    kinds = {name: spec.kind for name, spec in TABLES.items()}
    assert kinds["profile"] == kinds["followers"] == kinds["following"] == "snapshot"
    assert kinds["sections_seen"] == "report"


def test_timestamps_keep_their_raw_text_and_video_ids_are_int64():
    for spec in TABLES.values():
        for field in spec.schema:
            if field.type == TS:
                assert spec.schema.field(f"{field.name}_raw").type == pa.string()
            if field.name == "video_id":
                assert field.type == pa.int64()


def test_docs_tables_md_is_up_to_date():
    committed = Path(__file__).resolve().parents[2] / "docs" / "tables.md"
    assert committed.read_text() == render(), (
        "run: python -m tiktok_portability.normalize.docs > docs/tables.md"
    )
