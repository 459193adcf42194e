"""What the lake already knows about a batch's users before snapshot date D.

Rebuilt from the lake itself (never from the API or a side database), so reprocessing any date
gives the same answer: event watermarks from ``_watermarks`` partitions dated before D, and
change-log sets folded from the change-log tables' partitions dated before D.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from tiktok_portability.lake import files
from tiktok_portability.lake.incremental import (
    Mode,
    TableSpecLike,
    Watermark,
    fold_changelog,
    lake_schema,
    mode_of,
)
from tiktok_portability.lake.storage import Storage

WATERMARKS = "_watermarks"
WATERMARK_SCHEMA = pa.schema(
    [
        pa.field("open_id", pa.string(), nullable=False),
        pa.field("table_name", pa.string(), nullable=False),
        pa.field("snapshot_date", pa.date32(), nullable=False),
        pa.field("max_event_us", pa.int64()),
        pa.field("keys_at_max", pa.list_(pa.string()), nullable=False),
        pa.field("keys_without_time", pa.list_(pa.string()), nullable=False),
    ]
)


@dataclass
class PreviousState:
    watermarks: dict[tuple[str, str], Watermark] = field(default_factory=dict)
    sets: dict[tuple[str, str], pa.Table] = field(default_factory=dict)

    def watermark(self, open_id: str, table: str) -> Watermark | None:
        return self.watermarks.get((open_id, table))

    def current_set(self, open_id: str, table: str) -> pa.Table | None:
        return self.sets.get((open_id, table))


def _keys_before(storage: Storage, table: str, day: str) -> list[str]:
    keyed = [(files.partition_date(k), k) for k in files.parquet_files(storage, table)]
    return [k for d, k in sorted(keyed) if d is not None and d < day]


def load_previous(
    storage: Storage, specs: Mapping[str, TableSpecLike], open_ids: Sequence[str], day: str
) -> PreviousState:
    state = PreviousState()
    if not open_ids:
        return state
    marks = files.read_users(storage, _keys_before(storage, WATERMARKS, day), open_ids, WATERMARK_SCHEMA)
    if marks is not None:
        # Files were read in date order, so the last row per (user, table) is the newest.
        for row in marks.to_pylist():
            state.watermarks[(row["open_id"], row["table_name"])] = Watermark(
                row["max_event_us"], frozenset(row["keys_at_max"]), frozenset(row["keys_without_time"])
            )
    for name, spec in specs.items():
        if mode_of(spec) is not Mode.CHANGELOG:
            continue
        changes = files.read_users(storage, _keys_before(storage, name, day), open_ids, lake_schema(spec))
        if changes is None:
            continue
        for open_id in pc.unique(changes.column("open_id")).to_pylist():
            mine = changes.filter(pc.equal(changes.column("open_id"), open_id))
            state.sets[(open_id, name)] = fold_changelog(mine, spec)
    return state


def watermark_rows(rows: list[tuple[str, str, str, Watermark]]) -> pa.Table:
    """(open_id, table, snapshot_date, watermark) tuples as a ``_watermarks`` table."""
    from datetime import date

    return pa.Table.from_pylist(
        [
            {
                "open_id": open_id,
                "table_name": table,
                "snapshot_date": date.fromisoformat(day),
                "max_event_us": wm.max_us,
                "keys_at_max": sorted(wm.keys),
                "keys_without_time": sorted(wm.null_keys),
            }
            for open_id, table, day, wm in rows
        ],
        schema=WATERMARK_SCHEMA,
    )
