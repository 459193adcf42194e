"""The record seam (normalize/shapes) answers the same whatever a slice is made of:
dicts, learned structs or the columnar reader's columns."""

from __future__ import annotations

import json

import pyarrow as pa

from tiktok_portability.archive.string_records import decode_string_records
from tiktok_portability.normalize.shapes import RecordShapes, all_keys, all_objects, as_dicts, concat, pick

ROWS = [{"Date": d, "date": e, "Link": f"/video/{i}"} for i, (d, e) in enumerate([("", "x"), ("y", "z")] * 3)]


def kinds(rows: list[dict]) -> dict[str, object]:
    data = json.dumps(rows).encode()
    shapes = RecordShapes()
    shapes.learn("p", rows)
    columns = decode_string_records(data, frozenset(rows[0]))
    assert columns is not None
    return {"dicts": rows, "structs": shapes.decoder("p").typed(data), "columns": columns}  # type: ignore[union-attr]


def plain(values: object) -> list:
    return values.to_pylist() if isinstance(values, pa.Array) else list(values)  # type: ignore[arg-type]


def test_keys_picks_and_concatenation_agree_across_record_kinds():
    for name, records in kinds(ROWS).items():
        assert all_keys(records) == ["Date", "Link", "date"], name
        assert all_objects(records), name
        assert plain(pick(records, ["Date", "date"])) == ["x", "y"] * 3, name
        assert plain(pick(records, ["Link"])) == [f"/video/{i}" for i in range(6)], name
        assert as_dicts(records) == ROWS or name == "structs", name
        joined = concat([records, records])
        assert plain(pick(joined, ["date"])) == ["x", "z"] * 6, name


def test_a_slice_with_an_item_that_is_not_an_object_is_not_all_objects():
    assert not all_objects([{"a": "1"}, "text"])
    assert all_keys([{"b": 1}, {"a": 2}]) == ["a", "b"]
