"""Conversations are built into columns in groups: the output must be what one-by-one gives."""

from __future__ import annotations

import json

import pytest

from tests.normalize.test_json_generations import load
from tests.normalize.zips import ARCHIVES, zip_members, zip_txt
from tiktok_portability.normalize import pipeline


def conversation(partner: str, n: int, *, start: int = 0, extra: dict | None = None) -> list:
    return [
        {
            "Date": f"2025-03-0{1 + (start + i) % 9} 10:00:{(start + i) % 60:02d}",
            "From": partner if i % 3 else "me.user",
            "Content": f"message {i} https://www.tiktokv.com/share/video/7{i:018d}/"
            if i % 4 == 0
            else f"hi {i}",
            **(extra or {}),
        }
        for i in range(n)
    ]


def messages_archive(tmp_path, profile_first: bool):
    chats = {
        "Chat History with ann:": conversation("ann", 40),
        "Chat History with bob:": conversation("bob", 3, start=5),
        "Chat History with empty:": [],
        # A new key widens the learned struct: these come back as dicts, then a new struct.
        "Chat History with cy:": conversation("cy", 25, extra={"Reaction": "👍"}),
        "Chat History with dee:": [*conversation("dee", 5), "not an object", {"Date": "soon", "From": "dee"}],
        "Chat History with eve:": conversation("eve", 90, start=7),
        "Chat History with fin:": conversation("fin", 2),
    }
    sections = {
        "Direct Message": {"Direct Messages": {"ChatHistory": chats}},
        "Profile": {"Profile Information": {"ProfileMap": {"userName": "me.user", "bio": "x"}}},
    }
    order = ["Profile", "Direct Message"] if profile_first else ["Direct Message", "Profile"]
    doc = {key: sections[key] for key in order}
    return zip_members(tmp_path, {"user_data_tiktok.json": json.dumps(doc, indent=2).encode()})


def outputs(source, monkeypatch, group_rows: int, batch_rows: int):
    monkeypatch.setattr(pipeline, "MESSAGE_GROUP_ROWS", group_rows)
    tables, report = load(source, batch_rows=batch_rows)
    return (
        {name: table.to_pylist() for name, table in tables.items()},
        report.record_errors,
        report.record_error_count,
        report.sections,
        report.rows,
    )


@pytest.mark.parametrize("profile_first", [True, False])
@pytest.mark.parametrize("batch_rows", [7, 65_536])
def test_grouped_conversations_give_the_one_by_one_output(tmp_path, monkeypatch, profile_first, batch_rows):
    source = messages_archive(tmp_path, profile_first)
    one_by_one = outputs(source, monkeypatch, 1, batch_rows)
    for group_rows in (4, 50, 8_192):
        assert outputs(source, monkeypatch, group_rows, batch_rows) == one_by_one, group_rows
    dms, errors = one_by_one[0]["dm_messages"], one_by_one[1]
    assert [r["conversation"] for r in dms[:41]] == ["ann"] * 40 + ["bob"]
    assert {r["direction"] for r in dms} == {"sent", "received"}
    assert len(dms) == 40 + 3 + 25 + 6 + 90 + 2
    assert [(e.index, e.reason) for e in errors] == [
        (73, "expected an object, got str"),
        (74, "unparseable timestamp 'soon'"),
    ]


def test_grouped_txt_transcripts_give_the_one_by_one_output(tmp_path, monkeypatch):
    for variant in sorted(p.name for p in (ARCHIVES / "txt").iterdir()):
        source = zip_txt(tmp_path, variant)
        assert outputs(source, monkeypatch, 3, 5) == outputs(source, monkeypatch, 1, 5), variant


def test_many_short_conversations_are_built_in_few_groups(tmp_path, monkeypatch):
    chats = {f"Chat History with u{i}:": conversation(f"u{i}", 3) for i in range(500)}
    doc = {"Direct Message": {"Direct Messages": {"ChatHistory": chats}}}
    source = zip_members(tmp_path, {"user_data_tiktok.json": json.dumps(doc).encode()})
    builds = []
    real = pipeline.build_columns

    def counting(items, *args, **kwargs):
        builds.append(len(items))
        return real(items, *args, **kwargs)

    monkeypatch.setattr(pipeline, "build_columns", counting)
    tables, _ = load(source)
    assert tables["dm_messages"].num_rows == 1500
    assert len(builds) <= 3  # the first list is read as dicts, the rest as one learned struct
