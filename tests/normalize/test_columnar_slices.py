"""Big slices decoded straight into columns give exactly the rows, errors and sections of the
struct path, whatever mix of slice kinds a list or a group of conversations holds."""

from __future__ import annotations

import functools
import json

import pytest

from tests.normalize.test_json_generations import load
from tests.normalize.zips import zip_members
from tiktok_portability.archive import JsonStream
from tiktok_portability.archive.string_records import MIN_BYTES
from tiktok_portability.normalize import pipeline, shapes

ODD_VALUES = [
    "",
    " None ",
    "N/A",
    "2025-01-01T10:00:00 UTC",
    "not a time",
    "https://example.com/x",
    'say "hi"\n',
]


def watch(n: int) -> list[dict[str, str]]:
    out = []
    for i in range(n):
        date = f"2025-02-{1 + i % 28:02d} {i % 24:02d}:{i % 60:02d}:00"
        link = f"https://www.tiktokv.com/share/video/7{i % 5000:018d}/"
        if i % 997 == 0:
            date, link = ODD_VALUES[i % len(ODD_VALUES)], ODD_VALUES[(i + 3) % len(ODD_VALUES)]
        out.append({"Date": date, "Link": link})
    return out


def messages(partner: str, n: int, start: int = 0) -> list[dict[str, str]]:
    texts = [
        "hi",
        'a "quote"',
        "back\\slash",
        "emoji 😂",
        "tab\tin",
        "https://www.tiktokv.com/share/video/7123456789012345678/",
    ]
    return [
        {
            "Date": f"2025-03-{1 + (start + i) % 28:02d} 10:{i % 60:02d}:00",
            "From": partner if i % 3 else "me.user",
            "Content": texts[(start + i) % len(texts)],
        }
        for i in range(n)
    ]


def export(tmp_path):
    reordered = messages("cy", 1500)
    reordered[700] = {"From": "cy", "Date": "2025-03-01 10:00:00", "Content": "keys in another order"}
    bracketed = messages("eve", 3000, start=5)
    bracketed[10]["Content"] = "a list [1] in text"  # the list's first "]" is inside a string
    chats = {
        "Chat History with ann:": messages("ann", 2500),
        "Chat History with bob:": messages("bob", 4, start=2),  # small: struct path
        "Chat History with cy:": reordered,  # big, but not one key order: struct path
        "Chat History with dee:": [*messages("dee", 900), {"Date": "2025-03-02 10:00:00", "From": "dee"}],
        "Chat History with eve:": bracketed,
    }
    doc = {
        "Direct Message": {"Direct Messages": {"ChatHistory": chats}},
        "Profile": {"Profile Information": {"ProfileMap": {"userName": "me.user"}}},
        "Your Activity": {"Watch History": {"VideoList": watch(40_000)}},
    }
    data = json.dumps(doc, indent=2, ensure_ascii=False).encode()
    assert len(data) > 4 << 20  # watch history spans several 1 MB slices
    return zip_members(tmp_path, {"user_data_tiktok.json": data})


def outputs(source, monkeypatch, min_bytes: int):
    # Sections above 64 KB are walked (not decoded whole), as multi-MB ones are in real exports.
    monkeypatch.setattr(pipeline, "JsonStream", functools.partial(JsonStream, whole_limit=64 << 10))
    monkeypatch.setattr(shapes, "MIN_BYTES", min_bytes)
    calls = []
    decode = shapes.decode_string_records

    def counted(data, keys):
        got = decode(data, keys)
        calls.append(got is not None)
        return got

    monkeypatch.setattr(shapes, "decode_string_records", counted)
    shapes._decoder_for.cache_clear()  # decoders are shared between archives
    tables, report = load(source, batch_rows=4_096)
    shapes._decoder_for.cache_clear()
    result = (
        {name: table.to_pylist() for name, table in tables.items()},
        report.record_errors,
        report.record_error_count,
        report.sections,
        report.rows,
    )
    return result, calls


def test_columns_and_structs_give_the_same_tables_errors_and_sections(tmp_path, monkeypatch):
    source = export(tmp_path)
    columnar, calls = outputs(source, monkeypatch, MIN_BYTES)
    assert calls.count(True) >= 4  # watch history slices and the big conversations
    assert False in calls  # the reordered conversation fell back
    structs, calls = outputs(source, monkeypatch, 1 << 40)
    assert not calls
    assert columnar == structs
    tables, errors = columnar[0], columnar[1]
    assert len(tables["watch_history"]) == 40_000
    assert len(tables["dm_messages"]) == 2500 + 4 + 1500 + 901 + 3000
    assert any("not a time" in e.reason for e in errors)


@pytest.mark.parametrize("ensure_ascii", [True, False])
def test_escaped_text_reads_the_same(tmp_path, monkeypatch, ensure_ascii):
    # The first conversation teaches the keys (dicts); the next ones are typed. Over 1 MB in
    # all, so the document is walked rather than decoded whole.
    chats = {f"Chat History with {p}:": messages(p, 5000) for p in ("ann", "bob", "cy", "dee")}
    doc = {"Direct Message": {"Direct Messages": {"ChatHistory": chats}}}
    source = zip_members(
        tmp_path, {"user_data_tiktok.json": json.dumps(doc, indent=1, ensure_ascii=ensure_ascii).encode()}
    )
    columnar, calls = outputs(source, monkeypatch, MIN_BYTES)
    assert calls
    assert all(calls)
    assert columnar == outputs(source, monkeypatch, 1 << 40)[0]
    contents = {row["content"] for row in columnar[0]["dm_messages"]}
    assert {'a "quote"', "back\\slash", "emoji 😂", "tab\tin"} <= contents


def test_columns_pick_between_spellings_as_records_do():
    """Records holding two spellings of a key take the first non-empty one, column or dict."""
    import itertools

    import pyarrow as pa

    from tiktok_portability.archive.string_records import RecordColumns
    from tiktok_portability.normalize import fields
    from tiktok_portability.normalize.columns import build_columns
    from tiktok_portability.normalize.report import NormalizeReport

    values = ["", "2025-01-01 00:00:00", " ", "None", "2024-02-02 10:00:00"]
    rows = [
        {"Date": d, "date": e, "Link": f"https://www.tiktokv.com/share/video/7{i:018d}/"}
        for i, (d, e) in enumerate(itertools.product(values, repeat=2))
    ] * 20  # long enough for the kernels rather than the small-slice loops
    columns = RecordColumns(len(rows), {k: pa.array([r[k] for r in rows], pa.string()) for k in rows[0]})
    got = build_columns(columns, fields.WATCH, "p", NormalizeReport())
    want = build_columns(rows, fields.WATCH, "p", NormalizeReport())
    assert got.fields_seen == want.fields_seen
    assert {k: v.to_pylist() for k, v in got.arrays.items()} == {
        k: v.to_pylist() for k, v in want.arrays.items()
    }
