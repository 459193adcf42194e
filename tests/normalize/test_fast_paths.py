"""The fast paths (vectorised ordinals, video ids, struct decoding) give the plain paths' answers."""

from __future__ import annotations

import io
import json
from collections import Counter

import msgspec
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from tiktok_portability.archive import JsonStream
from tiktok_portability.normalize import TABLES
from tiktok_portability.normalize.batches import OccurrenceCounter
from tiktok_portability.normalize.columns import VIDEO_ID, video_ids
from tiktok_portability.normalize.shapes import RecordShapes, field_values, raw_fields
from tiktok_portability.normalize.tables import TS


def expected_ordinals(rows: list[tuple]) -> list[int]:
    """The definition: count repeats of a key within the current run of equal timestamps."""
    out, counts, run = [], Counter(), object()
    for ts, link in rows:
        if ts != run:
            run, counts = ts, Counter()
        out.append(counts[(ts, link)])
        counts[(ts, link)] += 1
    return out


def watch_slice(rows: list[tuple]) -> dict[str, pa.Array]:
    ts, links = zip(*rows, strict=True)
    return {
        "watched_at": pa.array(ts, pa.int64()).cast(TS),
        "video_id": pa.array([None] * len(rows), pa.int64()),
        "link": pa.array(links, pa.string()),
    }


def test_occurrence_ordinals_match_the_definition_across_slices():
    rows = [(t // 3, f"l{t % 4}" if t % 5 else None) for t in range(200)]
    rows += [(None, "x"), (None, "x"), (None, None), (70, "a"), (70, "a"), (70, "a")] * 3
    rows += [(80, "same")] * 40  # one run spanning several slices
    for size in (1, 2, 7, 50, len(rows)):
        counter = OccurrenceCounter(TABLES["watch_history"])
        got = []
        for start in range(0, len(rows), size):
            got += counter.ordinals(watch_slice(rows[start : start + size])).to_pylist()
        assert got == expected_ordinals(rows), size


def test_video_ids_match_the_regex_on_every_kind_of_text():
    texts = [
        "https://www.tiktokv.com/share/video/7234567890123456789/",
        "https://www.tiktokv.com/share/video/7234567890123456789",
        "héllo /video/123/x",
        "x/video/abc/video/55",
        "/video/12345678901234567890123",
        "/video/9999999999999999999",
        "/video/9223372036854775807",
        "/video/٣٣",
        "/video/",
        "/VIDEO/1",
        "no link",
        "",
        None,
    ]
    for pair in ([a, b] for a in texts for b in texts):
        arr = pa.array(pair, pa.string())
        ids = pc.struct_field(pc.extract_regex(arr.fill_null(""), pattern=VIDEO_ID), "id").to_pylist()
        want = [None if i is None or int(i) >= 2**63 else int(i) for i in ids]
        assert video_ids(arr).to_pylist() == want, pair


def test_learned_structs_decode_the_same_values_and_fall_back_to_dicts():
    shapes = RecordShapes()
    first = [{"Date": "2025-01-01 00:00:00", "Link": "a"}, {"date": "x"}]
    shapes.learn("p", first)
    decode = shapes.decoder("p")
    items = decode(b'[{"Date": "d", "Link": 5}, {}, {"date": null, "Date": "z"}]')
    attrs = raw_fields(items)
    assert attrs is not None
    assert set(attrs) == {"Date", "Link", "date"}
    assert [{k: getattr(r, a) for k, a in attrs.items()} for r in items] == [
        {"Date": "d", "Link": 5, "date": None},
        {"Date": None, "Link": None, "date": None},
        {"Date": "z", "Link": None, "date": None},
    ]
    try:
        decode(b'[{"Other": 1}]')
    except msgspec.ValidationError:
        pass
    else:
        raise AssertionError("an unknown key must be rejected so the slice is read as dicts")


def test_typed_stream_yields_the_same_values_as_plain_dicts():
    records = [{"Date": f"2025-01-01 00:00:{i % 60:02d}", "Link": f"/video/{i}"} for i in range(300)]
    records[250] = {"Date": "late", "NewKey": [1, {"a": None}]}
    records[260] = "not an object"
    doc = {"A": {"L": records}, "B": {"L": records[:100]}}
    data = json.dumps(doc, indent=1).encode()
    shapes = RecordShapes()

    def typed(path):
        return shapes.decoder(path[-1])

    got: dict[str, list] = {}
    for path, value, is_slice in JsonStream(
        io.BytesIO(data), archive="a.zip", member="m", chunk_size=512, whole_limit=256, typed=typed
    ).events():
        assert is_slice
        shapes.learn(path[-1], value)
        attrs = raw_fields(value)
        if attrs is not None:
            value = [{k: getattr(r, a) for k, a in attrs.items() if getattr(r, a) is not None} for r in value]
        got.setdefault(path[0], []).extend(value)
    plain = [r if not isinstance(r, dict) else {k: v for k, v in r.items() if v is not None} for r in records]
    assert got == {"A": plain, "B": plain[:100]}
    assert shapes.decoder("L") is not None


PREFIX = "https://www.tiktokv.com/share/video/"
ODD_LINKS = [
    PREFIX + "7234567890123456789",
    PREFIX + "123",
    PREFIX,
    PREFIX + "abc/video/55",
    PREFIX + "12345678901234567890123",
    PREFIX + "9999999999999999999/",
    PREFIX + "9223372036854775807?lang=en",
    PREFIX + "٣٣/",
    PREFIX + "12é/",
    PREFIX + "123456789012345678é/",
    "https://www.tiktok.com/@a/video/7123456789012345678",
    "no link",
    "",
    None,
]


def regex_ids(arr: pa.Array) -> list:
    ids = pc.struct_field(pc.extract_regex(arr.fill_null(""), pattern=VIDEO_ID), "id").to_pylist()
    return [None if i is None or int(i) >= 2**63 else int(i) for i in ids]


def test_video_ids_of_long_slices_sharing_a_prefix_match_the_regex():
    """Long slices whose links share a prefix are sliced at a fixed offset: same answers."""
    usual = [f"{PREFIX}{7_000_000_000_000_000_000 + i}/" for i in range(300)]
    for odd in ODD_LINKS:
        for at in (0, 5, 150, 299):
            values = [*usual[:at], odd, *usual[at:]]
            arr = pa.array(values, pa.string())
            assert video_ids(arr).to_pylist() == regex_ids(arr), (odd, at)
        only = pa.array([odd] * 300, pa.string())
        assert video_ids(only).to_pylist() == regex_ids(only), odd


def test_timestamps_parse_the_same_with_and_without_the_cast_fast_path():
    from tiktok_portability.normalize.columns import parse_timestamps, strptime_timestamps

    odd = [
        "2024-01-01T10:30:00",
        "2024-01-01T10:30+02",
        "2024-02-30 00:00:00",
        "2024-02-29 23:59:59",
        "2023-12-31 23:59:60",
        "2024-13-01 00:00:00",
        "2024-01-01 24:00:00",
        "2024/01/01 00:00:00",
        "0001-01-01 00:00:00",
        "9999-12-31 23:59:59",
        "2024-01-01 10:30:00 UTC",
        "2024-01-01 10:30",
        "+2024-01-01 10:30:0",
        None,
    ]
    usual = [f"2024-05-{d:02d} 12:{d:02d}:07" for d in range(1, 29)]
    for copies in (1, 10):  # short slices take a Python path, long ones the Arrow cast
        for value in odd:
            raw = pa.array([*usual * copies, value, *usual * copies], pa.string())
            assert parse_timestamps(raw).equals(strptime_timestamps(raw)), (value, len(raw))


def test_video_ids_of_long_slices_without_a_shared_prefix_match_the_regex():
    """Messages: a few links among text (per-hit regex), or many links of mixed shapes (kernels)."""
    text = ["ok", "see you at 8", None, "https://example.com/page"] * 80
    mixed = [f"https://www.tiktok.com/@u{i}/video/{7_100_000_000_000_000_000 + i}" for i in range(300)]
    for odd in ODD_LINKS:
        for values in ([*text, odd], [odd, *text], [*mixed, odd, *text], [*text, odd, *mixed]):
            arr = pa.array(values, pa.string())
            assert video_ids(arr).to_pylist() == regex_ids(arr), (odd, len(values))


def test_video_ids_of_many_shared_links_among_messages_match_the_regex():
    """Messages that are just a shared link, hundreds of them among text: the hits are sliced."""
    text = ["ok", "héllo 😀", None, "https://example.com/page"] * 80
    shared = [f"{PREFIX}{7_200_000_000_000_000_000 + i}/" for i in range(300)]
    for odd in ODD_LINKS:
        for values in ([*text, *shared, odd], [odd, *shared, *text], [*shared[:150], *text, *shared[150:]]):
            arr = pa.array(values, pa.string())
            assert video_ids(arr).to_pylist() == regex_ids(arr), (odd, len(values))


def test_video_ids_of_slices_of_a_longer_array_match_the_regex():
    """The ASCII check reads the bytes of the slice's own values, not of its neighbours."""
    usual = [f"{PREFIX}{7_000_000_000_000_000_000 + i}/" for i in range(600)]
    wide = [f"{PREFIX}\uff17{i}/" for i in range(300)]  # a full-width 7: not ASCII, not an id
    arr = pa.array([*wide, *usual, *wide], pa.string())
    for start, length in ((300, 600), (0, 900), (299, 302), (600, 600), (890, 300)):
        part = arr.slice(start, length)
        assert video_ids(part).to_pylist() == regex_ids(part), (start, length)


def test_field_values_pick_a_struct_attribute_and_refuse_anything_else():
    shapes = RecordShapes()
    plain = [{"a": 1, "b": "x"}, {"a": 2}]
    shapes.learn("L", plain)
    records = shapes.decoder("L")(json.dumps(plain).encode())
    attrs = raw_fields(records)
    assert field_values(attrs["a"])(records) == [1, 2]
    assert field_values(attrs["b"])(records) == ["x", None]
    for bad in ("a", "f1.__class__", "f1;import os", "f123"):
        with pytest.raises(ValueError, match="not a learned struct attribute"):
            field_values(bad)


def test_video_ids_of_large_strings_match_the_regex():
    """Arrays with 64-bit offsets skip the byte-view fast path and give the same answers."""
    usual = [f"{PREFIX}{7_000_000_000_000_000_000 + i}/" for i in range(300)]
    for values in (usual, [*usual, *ODD_LINKS]):
        arr = pa.array(values, pa.large_string())
        assert video_ids(arr).to_pylist() == regex_ids(arr)
