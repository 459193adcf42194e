"""The trim check (first and last bytes) never skips a value that utf8_trim_whitespace would trim."""

from __future__ import annotations

import random

import pyarrow as pa
import pyarrow.compute as pc

from tiktok_portability.normalize import columns
from tiktok_portability.normalize.columns import WHITESPACE, may_need_trim, string_array


def test_whitespace_is_every_code_point_python_and_arrow_trim():
    assert set(WHITESPACE) == {chr(c) for c in range(0x110000) if chr(c).isspace()}
    padded = pa.array([f"{w}a{w}b{w}" for w in WHITESPACE])
    assert pc.utf8_trim_whitespace(padded).to_pylist() == [f"a{w}b" for w in WHITESPACE]


def test_every_whitespace_at_either_end_is_caught_also_in_slices_and_beside_nulls():
    for w in WHITESPACE:
        for value in (f"{w}x", f"x{w}", w, f"{w}{w}", f"中{w}", f"{w}😀"):
            arr = pa.array(["plain", None, "", value, "end"])
            assert may_need_trim(arr), repr(value)
            assert may_need_trim(arr.slice(3, 1)), repr(value)
            assert not may_need_trim(arr.slice(4)), repr(value)


def test_values_without_edge_whitespace_skip_the_trim():
    assert not may_need_trim(pa.array(["a", None, "", "b c", "https://x/video/1/"]))
    assert not may_need_trim(pa.array([f"a{w}b" for w in WHITESPACE]))  # inside is kept
    # Last bytes 0x80-0x8A and 0xA0 end many characters: only those led like whitespace count.
    assert not may_need_trim(pa.array(["2026-01-01 10:00:00", "😀 party 😀", "à", "中"]))
    assert not may_need_trim(pa.array([], pa.string()))
    assert not may_need_trim(pa.array([None, None], pa.string()))


def test_string_array_gives_what_trimming_every_slice_gives(monkeypatch):
    rng = random.Random(7)
    # Characters led by 0xE1-0xE3 at the end count as "maybe": leave them out so slices skip.
    words = ["x", "N/A", "", "word", "a b", "😀", "é", "中", "ß"]
    skipped = 0
    for _ in range(200):
        values = [None if rng.random() < 0.1 else rng.choice(words) + rng.choice(words) for _ in range(300)]
        if rng.random() < 0.5:  # one value with whitespace at one end, anywhere in the slice
            w, at = rng.choice(WHITESPACE), rng.randrange(len(values))
            values[at] = rng.choice([f"{w}{values[at] or 'v'}", f"{values[at] or 'v'}{w}"])
        arr = pa.array(values, pa.string())
        skipped += not may_need_trim(arr)
        checked = string_array(values)
        monkeypatch.setattr(columns, "may_need_trim", lambda arr: True)
        assert checked.equals(string_array(values))
        monkeypatch.undo()
    assert skipped > 50  # the check did skip the kernel on most slices without edge whitespace
