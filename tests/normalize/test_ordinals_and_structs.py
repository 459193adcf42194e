"""Occurrence ordinals follow their definition across slices; learned structs decode as dicts do."""

from __future__ import annotations

import io
import json
import random
from collections import Counter

import msgspec
import pyarrow as pa

from tiktok_portability.archive import JsonStream
from tiktok_portability.normalize import TABLES
from tiktok_portability.normalize.batches import OccurrenceCounter
from tiktok_portability.normalize.shapes import RecordShapes, raw_fields
from tiktok_portability.normalize.tables import TS


def expected_ordinals(rows: list[tuple]) -> list[int]:
    """The definition: count repeats of a key within the current run of equal timestamps, from
    the number of rows that timestamp had in earlier runs (0 in an ordered list)."""
    out, counts, run, totals, offset = [], Counter(), object(), Counter(), 0
    for ts, link in rows:
        if ts != run:
            run, counts, offset = ts, Counter(), totals[ts]
        out.append(offset + counts[(ts, link)])
        counts[(ts, link)] += 1
        totals[ts] += 1
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
        # Unique per key, although the None and 70 runs come back (out of order, as real
        # transcripts and placeholder dates do).
        assert len(set(zip(rows, got, strict=True))) == len(rows), size


def test_an_ordered_list_counts_every_run_from_zero():
    rows = [(100 - t // 3, "same" if t % 2 else f"l{t}") for t in range(90)]
    counter = OccurrenceCounter(TABLES["watch_history"])
    got = [o for i in range(0, 90, 7) for o in counter.ordinals(watch_slice(rows[i : i + 7])).to_pylist()]
    runs: dict = {}
    for ts, link in rows:
        runs.setdefault(ts, []).append(link)
    assert got == [
        o for links in runs.values() for o in (links[: i + 1].count(x) - 1 for i, x in enumerate(links))
    ]


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


def test_ordinals_follow_the_definition_for_any_order_and_slicing():
    rnd = random.Random(5)
    for trial in range(60):
        n = rnd.randint(1, 300)
        kind = rnd.choice(["falling", "rising", "shuffled", "one_back"])
        times: list[int | None] = (
            list(range(n, 0, -1)) if kind == "falling" else list(range(n)) if kind == "rising" else []
        )
        if not times:
            times = sorted((rnd.randint(0, n // 3 + 1) for _ in range(n)), reverse=kind == "one_back")
            if kind == "shuffled":
                rnd.shuffle(times)
            else:  # an ordered list with one record out of place, or undated
                times.insert(rnd.randrange(n), rnd.choice([None, times[0], times[-1]]))
        rows = [(t, rnd.choice(["a", "b", None])) for t in times]
        for size in (1, 3, rnd.randint(1, 60), len(rows)):
            counter = OccurrenceCounter(TABLES["watch_history"])
            got = []
            for start in range(0, len(rows), size):
                got += counter.ordinals(watch_slice(rows[start : start + size])).to_pylist()
            assert got == expected_ordinals(rows), (trial, kind, size)


def test_ordinals_of_a_table_whose_runs_are_grouped_before_the_time():
    """dm_messages: a run is (conversation, time); transcripts may go back in time, and a
    conversation can come back later in the export."""
    rnd = random.Random(7)

    def expected(rows: list[tuple]) -> list[int]:
        out, counts, run, totals, offset = [], Counter(), object(), Counter(), 0
        for conv, ts, text in rows:
            if (conv, ts) != run:
                run, counts, offset = (conv, ts), Counter(), totals[(conv, ts)]
            out.append(offset + counts[(conv, ts, text)])
            counts[(conv, ts, text)] += 1
            totals[(conv, ts)] += 1
        return out

    for trial in range(40):
        rows = []
        for _ in range(rnd.randint(1, 6)):
            conv = rnd.choice(["pat", "sam", None, "kim"])
            n = rnd.randint(1, 60)
            times = sorted((rnd.randint(0, 40) for _ in range(n)), reverse=True)
            if rnd.random() < 0.5:
                times.insert(rnd.randrange(n), rnd.choice([None, times[0], 20]))
            rows += [(conv, t, rnd.choice(["ok", "hi"])) for t in times]
        for size in (1, 5, rnd.randint(1, 80), len(rows)):
            counter = OccurrenceCounter(TABLES["dm_messages"])
            got = []
            for start in range(0, len(rows), size):
                part = rows[start : start + size]
                convs, ts, texts = zip(*part, strict=True)
                got += counter.ordinals(
                    {
                        "conversation": pa.array(convs, pa.string()),
                        "sent_at": pa.array(ts, pa.int64()).cast(TS),
                        "sender": pa.array(["x"] * len(part), pa.string()),
                        "content": pa.array(texts, pa.string()),
                    }
                ).to_pylist()
            assert got == expected(rows), (trial, size)
