"""Key strings of small tables are built in Python; they must equal Arrow's casts exactly."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa

from tiktok_portability.lake import incremental


def test_python_and_arrow_key_strings_agree(monkeypatch):
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
    for cols in (("s",), ("i",), ("t",), ("s", "i", "t", "u")):
        fast = incremental.key_strings(table, cols)
        monkeypatch.setattr(incremental, "_SMALL", -1)
        slow = incremental.key_strings(table, cols)
        monkeypatch.undo()
        assert fast.equals(slow), cols
    assert incremental.key_strings(table, ("i", "t")).to_pylist() == [
        "\x00\x1f\x00",
        "-5\x1f-315619200000000",
    ]
