"""Key strings: one text per row for the key columns, nulls apart from empty strings."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa

from tiktok_portability.lake import incremental


def test_key_strings_write_integers_in_decimal_and_times_in_microseconds():
    table = pa.table(
        {
            "s": pa.array(["x", None, ""]),
            "i": pa.array([1, None, -5], pa.int32()),
            "t": pa.array(
                [datetime(2020, 1, 1, tzinfo=UTC), None, datetime(1960, 1, 1, tzinfo=UTC)],
                pa.timestamp("s", tz="UTC"),
            ),
            "u": pa.array([datetime(2020, 1, 1, 0, 0, 0, 1234)] * 3, pa.timestamp("us")),
        }
    ).slice(1)
    assert incremental.key_strings(table, ("s",)).to_pylist() == ["\x00", ""]
    assert incremental.key_strings(table, ("i",)).to_pylist() == ["\x00", "-5"]
    assert incremental.key_strings(table, ("t",)).to_pylist() == ["\x00", "-315619200000000"]
    assert incremental.key_strings(table, ("s", "i", "t", "u")).to_pylist() == [
        "\x00\x1f\x00\x1f\x00\x1f1577836800001234",
        "\x1f-5\x1f-315619200000000\x1f1577836800001234",
    ]
    assert incremental.key_strings(table.slice(0, 0), ("s",)).to_pylist() == []
