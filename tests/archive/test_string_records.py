"""The columnar decoder must give msgspec's values or step aside (None), never anything else."""

from __future__ import annotations

import json
import random

import msgspec
import pyarrow as pa
import pytest

from tiktok_portability.archive.string_records import RecordColumns, decode_string_records

KEYS = frozenset({"Date", "From", "Content"})
TRICKY = [
    "",
    " padded ",
    "plain",
    'quote " inside',
    "back\\slash",
    "ends with backslash \\",
    "\\",
    '\\"',
    "tab\there",
    "line\nbreak",
    "unicode é ü 😂",
    "\u2028 separators \u2029",
    "\x7f delete",
    "slash / and \\/",
    "https://www.tiktokv.com/share/video/7018207966090095298/",
    "}, {",
    '", "From": "',
]


def _records(n: int, rng: random.Random) -> list[dict[str, str]]:
    return [
        {
            "Date": f"2025-01-{i % 28 + 1:02d} 10:00:00",
            "From": rng.choice(["me", "you"]),
            "Content": rng.choice(TRICKY),
        }
        for i in range(n)
    ]


def _dumps(records: list, style: str) -> bytes:
    if style == "pretty":
        return json.dumps(records, indent=2, ensure_ascii=False).encode()
    if style == "ascii":
        return json.dumps(records, indent=4).encode()  # \uXXXX escapes, surrogate pairs
    if style == "compact":
        return json.dumps(records, separators=(",", ":"), ensure_ascii=False).encode()
    if style == "tabs":
        return json.dumps(records, indent="\t", ensure_ascii=False).encode().replace(b"\n", b"\r\n")
    raise ValueError(style)


def _agrees(data: bytes, keys: frozenset[str] = KEYS) -> RecordColumns | None:
    """The invariant: the decoder's answer is msgspec's, or None."""
    got = decode_string_records(data, keys)
    if got is None:
        return None
    assert got.to_dicts() == msgspec.json.decode(data), data[:200]
    assert all(col.type == pa.string() for col in got.columns.values())
    return got


@pytest.mark.parametrize("style", ["pretty", "ascii", "compact", "tabs"])
def test_flat_string_records_decode_to_the_same_values(style):
    records = _records(500, random.Random(style))
    got = _agrees(_dumps(records, style))
    assert got is not None, "the shape the decoder exists for must not fall back"
    assert got.rows == 500
    assert list(got.columns) == ["Date", "From", "Content"]


def test_a_single_record_and_whitespace_after_the_list():
    data = _dumps(_records(1, random.Random(1)), "pretty") + b" \n"
    assert _agrees(data) is not None


@pytest.mark.parametrize(
    "records",
    [
        [{"Date": "a", "From": "b", "Content": None}],  # null value
        [{"Date": "a", "From": "b", "Content": 5}],  # number
        [{"Date": "a", "From": "b", "Content": ["x"]}],  # nested
        [{"Date": "a", "From": "b"}],  # missing key
        [{"Date": "a", "From": "b", "Content": "c", "Extra": "d"}],  # extra key
        [{"Date": "a", "From": "b", "Content": "c"}, {"From": "b", "Date": "a", "Content": "c"}],  # order
        [{"Date": "a", "From": "b", "Content": "c"}, "text"],
        [{"Date": "a", "From": "b", "Content": "c"}, {}],
        [],
    ],
)
def test_other_shapes_step_aside(records):
    assert decode_string_records(json.dumps(records, indent=2).encode(), KEYS) is None


@pytest.mark.parametrize(
    "data",
    [
        b'[{"Date": "a", "From": "b", "Content": "raw\ttab"}]',  # msgspec refuses raw controls
        b'[{"Date": "a", "From": "b", "Content": "bad \\x escape"}]',
        b'[{"Date": "a", "From": "b", "Content": "\xff\xfe"}]',  # not UTF-8
        b'[{"Date": "a" "From": "b", "Content": "c"}]',  # missing comma
        b'[{"Date": "a", "From": "b", "Content": "c"},]',  # trailing comma
        b'[{"Date": "a", "Date": "b", "Content": "c"}]',  # duplicate key
        b'[{"Date": "a", "From": "b", "Content": "c"}',  # unclosed
        b'[{"Date": "a", "From": "b", "Content": "c"} {"Date": "a", "From": "b", "Content": "c"}]',
    ],
)
def test_malformed_input_is_left_to_msgspec(data):
    assert decode_string_records(data, KEYS) is None


def test_escaped_quotes_and_backslash_runs_end_strings_where_json_says():
    values = ["\\", "\\\\", '\\"', '"', '\\\\"', "a\\", "\\\\\\", '""']
    records = [{"Date": v, "From": v[::-1], "Content": v * 3} for v in values * 40]
    got = _agrees(json.dumps(records, indent=1).encode())
    assert got is not None
    assert got.columns["Date"].to_pylist() == values * 40


def test_every_single_byte_corruption_is_decoded_like_msgspec_or_refused():
    data = json.dumps(
        [{"Date": "2025-01-01", "From": "a\\b", "Content": 'x"y'}, {"Date": "é", "From": "", "Content": "z"}],
        indent=1,
        ensure_ascii=False,
    ).encode()
    assert _agrees(data) is not None
    tried = 0
    for i in range(len(data)):
        for b in b'{}[]:," \\\nx0\x01':
            if data[i] == b:
                continue
            mutated = data[:i] + bytes([b]) + data[i + 1 :]
            got = decode_string_records(mutated, KEYS)
            if got is not None:
                # msgspec must accept it too, with the same values.
                assert got.to_dicts() == msgspec.json.decode(mutated), (i, b)
            tried += 1
    assert tried > 1000


def test_results_do_not_hold_the_input_buffer():
    """The stream decodes from a bytearray it later resizes and overwrites."""
    buf = bytearray(_dumps(_records(300, random.Random(3)), "pretty"))
    got = decode_string_records(memoryview(buf), KEYS)
    assert got is not None
    before = got.to_dicts()
    buf[:] = b"x" * len(buf)  # would corrupt values that still pointed into it
    del buf[10:]  # raises BufferError while a view of the bytearray is exported
    assert got.to_dicts() == before


def test_columns_concatenate_in_order():
    rng = random.Random(4)
    a, b = _records(3, rng), _records(2, rng)
    parts = [decode_string_records(_dumps(r, "compact"), KEYS) for r in (a, b)]
    assert all(p is not None for p in parts)
    joined = RecordColumns.concat(parts)  # type: ignore[arg-type]
    assert joined.rows == 5
    assert joined.to_dicts() == a + b
    assert joined.kind == ("Content", "Date", "From")
