"""TableBuffer: groups of rows with lineage and ordinals, whatever the slices' sizes."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from tiktok_portability.normalize.batches import Lineage, TableBuffer
from tiktok_portability.normalize.columns import SliceColumns
from tiktok_portability.normalize.report import NormalizeContext
from tiktok_portability.normalize.tables import TABLES, TS

CTX = NormalizeContext(open_id="u1", request_id=7, snapshot_date=dt.date(2026, 1, 2))


def _searches(terms: list[str], second: int = 0) -> SliceColumns:
    n = len(terms)
    return SliceColumns(
        n,
        {
            "searched_at": pa.array([second] * n, TS),
            "searched_at_raw": pa.array([str(second)] * n, pa.string()),
            "search_term": pa.array(terms, pa.string()),
        },
        {},
    )


def test_groups_cut_across_slices_carry_lineage_and_ordinals_of_the_whole_run():
    lineage = Lineage(CTX)
    buffer = TableBuffer(TABLES["searches"], CTX, batch_rows=4, lineage=lineage)
    out = [*buffer.add(_searches(["a", "a", "b"])), *buffer.add(_searches(["a", "b", "c"]))]
    out += list(buffer.flush())
    assert [b.num_rows for b in out] == [3, 1, 2]  # the second slice is split at the group's cut
    table = pa.Table.from_batches(out)
    assert table.schema == TABLES["searches"].schema
    assert table.column("search_term").to_pylist() == ["a", "a", "b", "a", "b", "c"]
    # One run of equal times: the third "a" is the third occurrence, across the cut.
    assert table.column("occurrence").to_pylist() == [0, 1, 0, 2, 1, 0]
    assert set(table.column("open_id").to_pylist()) == {"u1"}
    assert set(table.column("request_id").to_pylist()) == {7}
    assert set(table.column("snapshot_date").to_pylist()) == {dt.date(2026, 1, 2)}


def test_lineage_is_shared_and_sliced_for_shorter_batches():
    lineage = Lineage(CTX)
    long = lineage.arrays(5)
    short = lineage.arrays(2)
    assert lineage.arrays(5) is long
    assert short["open_id"].to_pylist() == ["u1", "u1"]
    assert short["request_id"].to_pylist() == [7, 7]
    longer = lineage.arrays(9)
    assert len(longer["snapshot_date"]) == 9
    assert longer["snapshot_date"][8].as_py() == dt.date(2026, 1, 2)


def test_a_column_of_the_wrong_type_or_length_is_refused_with_its_name():
    buffer = TableBuffer(TABLES["searches"], CTX, batch_rows=10)
    bad = _searches(["a", "b"])
    bad.arrays["search_term"] = pa.array([1, 2], pa.int64())
    with pytest.raises(ValueError, match="'searches' column 'search_term': 2 values of int64"):
        list(buffer.add(bad))
    short = _searches(["a", "b"])
    short.arrays["search_term"] = pa.array(["a"], pa.string())
    with pytest.raises(ValueError, match="1 values of string, expected 2"):
        list(buffer.add(short))
