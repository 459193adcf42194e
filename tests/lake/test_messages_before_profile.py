"""Direct messages listed before the profile wait for it and land with their direction."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from tests.normalize.test_message_groups import conversation
from tests.normalize.zips import zip_members
from tiktok_portability.lake import Lake
from tiktok_portability.lake.normalizer import DefaultNormalizer
from tiktok_portability.normalize import NormalizeContext, normalize_archive

DAY = "2026-02-01"
ROWS = 5  # batch rows: messages fill batches long before the profile is read


def export(folder: Path, profile_name: str | None) -> Path:
    """Messages first (exports sort sections alphabetically), then the profile, then watch history."""
    chats = {f"Chat History with {p}:": conversation(p, 12, start=n) for n, p in enumerate(("ann", "bob"))}
    doc: dict = {"Direct Message": {"Direct Messages": {"ChatHistory": chats}}}
    if profile_name is not None:
        doc["Profile"] = {"Profile Information": {"ProfileMap": {"userName": profile_name}}}
    links = [{"Date": f"2025-01-01 10:00:{i:02d}", "Link": f"/video/7{i:018d}/"} for i in range(12)]
    doc["Your Activity"] = {"Watch History": {"VideoList": links}}
    folder.mkdir()
    return zip_members(folder, {"user_data_tiktok.json": json.dumps(doc).encode()})


def test_messages_before_the_profile_land_once_with_the_profiles_direction(tmp_path: Path):
    archives = {"u1": export(tmp_path / "u1", "me.user"), "u2": export(tmp_path / "u2", None)}
    lake = Lake.from_uri(str(tmp_path / "lake"), normalizer=DefaultNormalizer(batch_rows=ROWS))
    refs = [lake.raw.put_archive(oid, DAY, n, path) for n, (oid, path) in enumerate(archives.items())]
    result = lake.normalize_batch(refs, DAY)
    assert result.errors == []

    landed = lake.read_table("dm_messages").to_pylist()
    for n, (open_id, path) in enumerate(archives.items()):
        ctx = NormalizeContext(open_id=open_id, request_id=n, snapshot_date=dt.date.fromisoformat(DAY))
        direct = [
            row
            for table, batch in normalize_archive(path, ctx, batch_rows=ROWS)
            if table == "dm_messages"
            for row in batch.to_pylist()
        ]
        assert [r for r in landed if r["open_id"] == open_id] == direct
    directions = {(r["open_id"], r["direction"]) for r in landed}
    assert directions == {("u1", "sent"), ("u1", "received"), ("u2", None)}
