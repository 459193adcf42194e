"""Messages met before the profile are held, then go out a few at a time between other batches."""

from __future__ import annotations

import datetime as dt
import functools
import glob
import json
import os
import tempfile

from tests.normalize.test_message_groups import conversation
from tests.normalize.zips import zip_members
from tiktok_portability.normalize import NormalizeContext, normalize_archive, pipeline
from tiktok_portability.spill import HeldBatches

CTX = NormalizeContext(open_id="u1", request_id=1, snapshot_date=dt.date(2026, 1, 1))


def dms_then_profile_then_watch(tmp_path):
    chats = {f"Chat History with p{i}:": conversation(f"p{i}", 9, start=i) for i in range(6)}
    watch = [
        {
            "Date": f"2025-01-01 10:{i // 60:02d}:{i % 60:02d}",
            "Link": f"https://www.tiktokv.com/share/video/7{i:018d}/",
        }
        for i in range(60)
    ]
    doc = {
        "Direct Message": {"Direct Messages": {"ChatHistory": chats}},
        "Profile": {"Profile Information": {"ProfileMap": {"userName": "me.user"}}},
        "Your Activity": {"Watch History": {"VideoList": watch}},
    }
    return zip_members(tmp_path, {"user_data_tiktok.json": json.dumps(doc, indent=2).encode()}), chats


def spilled(monkeypatch) -> None:
    """Hold at most 16 bytes in memory: everything held goes through the spill file."""
    monkeypatch.setattr(pipeline, "HeldBatches", functools.partial(HeldBatches, memory_bytes=16))
    monkeypatch.setattr(pipeline, "MESSAGE_GROUP_ROWS", 1)


def spill_files() -> set[str]:
    return set(glob.glob(os.path.join(tempfile.gettempdir(), "tiktok-held-*")))


def test_held_messages_go_out_two_per_other_batch_in_document_order(tmp_path, monkeypatch):
    spilled(monkeypatch)
    source, chats = dms_then_profile_then_watch(tmp_path)
    before = spill_files()
    out = list(normalize_archive(source, CTX, batch_rows=5))
    order = [table for table, _ in out if table in ("dm_messages", "watch_history")]
    # No message before the first watch batch (they wait for the profile), then two at a time.
    runs = "".join("d" if t == "dm_messages" else "w" for t in order)
    assert runs.startswith("wddwddw")
    assert "ddd" not in runs
    messages = [r for table, b in out if table == "dm_messages" for r in b.to_pylist()]
    expected = [
        (f"p{i}", m["From"], m["Content"]) for i in range(6) for m in chats[f"Chat History with p{i}:"]
    ]
    assert [(r["conversation"], r["sender"], r["content"]) for r in messages] == expected
    assert {r["direction"] for r in messages if r["sender"] == "me.user"} == {"sent"}
    assert {r["direction"] for r in messages if r["sender"] != "me.user"} == {"received"}
    assert spill_files() == before


def test_stopping_while_messages_are_going_out_removes_the_spill_file(tmp_path, monkeypatch):
    spilled(monkeypatch)
    source, _ = dms_then_profile_then_watch(tmp_path)
    before = spill_files()
    batches = normalize_archive(source, CTX, batch_rows=5)
    for table, _ in batches:
        if table == "dm_messages":
            assert spill_files() - before  # still being read
            break
    batches.close()
    assert spill_files() == before
