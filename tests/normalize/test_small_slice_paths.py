"""Small slices take Python paths that must give exactly what the Arrow kernels give."""

from __future__ import annotations

import sys

import pyarrow as pa
import pyarrow.compute as pc

from tiktok_portability.normalize import columns
from tiktok_portability.spill import HeldBatches

TEXTS = [
    None,
    "",
    "  None ",
    "N/A",
    "null",
    "NULL",
    "\u3000wide space\u2003",
    "\x1cinfo sep\x1f",
    "plain",
    "https://www.tiktok.com/@a/video/7123456789012345678",
    "https://www.tiktok.com/@a/video/9923456789012345678",
    "see /video/abc then /video/42",
    "/video/123456789012345678901234",
    "/video/",
    "/video/0000000000000000001",
]


def _arrow_path(monkeypatch, fn, *args):
    monkeypatch.setattr(columns, "SMALL_SLICE", -1)
    try:
        return fn(*args)
    finally:
        monkeypatch.undo()


def test_string_cleaning_is_the_same_on_both_paths(monkeypatch):
    fast = columns.string_array(TEXTS)
    assert fast.equals(_arrow_path(monkeypatch, columns.string_array, TEXTS))
    assert fast.to_pylist()[:6] == [None] * 6


def test_string_cleaning_without_placeholder_sized_values_is_the_same_on_both_paths(monkeypatch):
    # No value is short enough to be a placeholder: the Arrow path skips the placeholder lookup.
    texts = [t for t in TEXTS if t is None or len(t.strip()) > 4] + ["  padded value\t", "NULLS", " N/A/B"]
    fast = columns.string_array(texts)
    assert fast.equals(_arrow_path(monkeypatch, columns.string_array, texts))
    assert fast.to_pylist()[-3:] == ["padded value", "NULLS", "N/A/B"]


def test_video_ids_are_the_same_on_both_paths(monkeypatch):
    text = pa.array(TEXTS, pa.string())
    fast = columns.video_ids(text)
    assert fast.equals(_arrow_path(monkeypatch, columns.video_ids, text))
    assert fast.to_pylist()[9:] == [7123456789012345678, None, 42, 1234567890123456789, None, 1]


def test_held_batches_come_back_in_order_from_memory_and_from_a_spill_file():
    schema = pa.schema([("n", pa.int64())])
    held = HeldBatches(schema, memory_bytes=16)
    for start in range(0, 10, 2):
        held.add(pa.record_batch([pa.array([start, start + 1])], schema=schema))
    assert held
    out = [v for batch in held.release() for v in batch.column(0).to_pylist()]
    assert out == list(range(10))
    assert not held


def test_spaces_are_every_code_point_python_and_arrow_trim():
    assert set(columns.SPACES) == {c for c in range(sys.maxunicode + 1) if chr(c).isspace()}
    points = [c for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF]  # no surrogates
    padded = pa.array([f"{chr(c)}a{chr(c)}" for c in points], pa.string())
    trimmed = pc.utf8_trim_whitespace(padded).to_pylist()
    assert {c for c, t in zip(points, trimmed, strict=True) if t == "a"} == set(columns.SPACES)


def test_values_without_edge_spaces_skip_the_trim_and_come_out_the_same(monkeypatch):
    # No null: the lengths the edge check reads decide whether placeholders are looked for.
    texts = [f"{chr(c)}word{chr(c)}" for c in columns.SPACES]
    texts += ["  None ", "N/A\u3000", "plain", "\U0001f600 emoji \U0001f600", "é", "", "null"]
    texts += [f"x{chr(c)}" for c in (0x2003, 0x1680, 0x85)] + [f"{chr(c)}x" for c in (0x2003, 0x1680)]
    expected = [None if t.strip() in columns._PLACEHOLDER_SET else t.strip() for t in texts]
    for values in (texts, ["plain", "links/only", "café"], ["padded ", "x"], ["\u00a0None"], ["word", ""]):
        arrow = _arrow_path(monkeypatch, columns.string_array, values)
        assert arrow.to_pylist() == [
            None if t.strip() in columns._PLACEHOLDER_SET else t.strip() for t in values
        ]
    assert _arrow_path(monkeypatch, columns.string_array, texts).to_pylist() == expected
    sliced = pa.array(["  x", *texts]).slice(1)  # a slice: offsets start past zero
    assert _arrow_path(monkeypatch, columns.string_array, sliced).to_pylist() == expected
