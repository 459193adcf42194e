"""Each user's incremental state after every committed date, kept in the user's own folder.

Loading a batch's previous state must cost what the batch costs, not what the lake holds: with
100,000 users in batches of 100, a night writes 1,000 files per table, and a reader that scanned
every earlier file would read O(dates x batches) files per batch. So every commit also writes one
file per user::

    _state/user=<h>/<D>.state.arrow

an Arrow IPC file whose metadata holds the batch that holds the user on D, the watermark of every
event table (carried forward), the user name of the latest profile (carried forward: messages of an
export without a profile take their direction from it) and, per change-log table, the date whose
file holds the current set; its single row holds the sets that changed on D (one ``list<struct>``
column per change-log table, null when unchanged). A batch lists each of its users' folders (one
listing per user, a few hundred keys after a year), reads the newest file dated before D and, for a
set that changed earlier, the file of that date. One file per user and night, in one flat folder
per user, keeps a commit's extra cost small (creating a file or folder costs ~0.5-1 ms on a local
disk, a PUT on S3). The ledger is derived from the same commits as the tables and rewritten with
them, so reprocessing a date reproduces it; the batch id it records is how a re-sync finds the rows
to replace without reading every manifest of the date.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pyarrow as pa

from tiktok_portability.lake import keys
from tiktok_portability.lake.incremental import (
    Mode,
    TableSpecLike,
    Watermark,
    mode_of,
)
from tiktok_portability.lake.storage import Storage

STATE = "_state"
STATE_FILE = "state.arrow"
LEDGER_VERSION = 1
_META = b"tiktok_portability.ledger"
# A ledger file is compressed only when its sets are big: zstd on the few-KB buffers of a
# typical night's file cost 0.35 ms against 0.08 ms uncompressed and made it bigger (12.9 against
# 12.6 KB, measured over 100 small archives' files); a first night of 100,000 followers shrinks.
_IPC_PLAIN = pa.ipc.IpcWriteOptions()
_IPC_ZSTD = pa.ipc.IpcWriteOptions(compression="zstd")
COMPRESS_FROM_BYTES = 64 << 10


def user_prefix(open_id: str) -> str:
    return f"{STATE}/user={keys.user_key(open_id)}/"


def entry_name(day: str) -> str:
    return f"{day}.{STATE_FILE}"


def entry_key(open_id: str, day: str) -> str:
    return f"{user_prefix(open_id)}{entry_name(day)}"


def read_ledger(storage: Storage, open_id: str) -> dict[str, str]:
    """The user's ledger files by date: ``{YYYY-MM-DD: key}``."""
    found = {}
    for key in storage.list(user_prefix(open_id)):
        day, _, name = key.rsplit("/", 1)[1].partition(".")
        if name == STATE_FILE:
            found[day] = key
    return found


@dataclass
class PreviousState:
    """What the lake knows about a batch's users before snapshot date D."""

    watermarks: dict[tuple[str, str], Watermark] = field(default_factory=dict)
    sets: dict[tuple[str, str], pa.Table] = field(default_factory=dict)
    # Per user, the date whose ledger file holds each set (carried forward while it is unchanged).
    set_dates: dict[str, dict[str, str]] = field(default_factory=dict)
    # Per user, their ledger files by date (as listed before the commit).
    ledgers: dict[str, dict[str, str]] = field(default_factory=dict)
    # Per user, the user name of their latest profile (an export without one needs it).
    user_names: dict[str, str] = field(default_factory=dict)

    def watermark(self, open_id: str, table: str) -> Watermark | None:
        return self.watermarks.get((open_id, table))

    def current_set(self, open_id: str, table: str) -> pa.Table | None:
        return self.sets.get((open_id, table))

    def holder(self, storage: Storage, open_id: str, day: str) -> str | None:
        """The batch that holds the user's rows on ``day`` (None when no batch does)."""
        key = self.ledgers.get(open_id, {}).get(day)
        return batch_of(storage, key) if key is not None else None


def load_previous(
    storage: Storage, specs: Mapping[str, TableSpecLike], open_ids: Sequence[str], day: str
) -> PreviousState:
    """Watermarks and change-log sets of ``open_ids`` as of the newest dates before ``day``."""
    state = PreviousState()
    changelogs = {name: spec for name, spec in specs.items() if mode_of(spec) is Mode.CHANGELOG}
    for open_id in open_ids:
        ledger = state.ledgers[open_id] = read_ledger(storage, open_id)
        earlier = [d for d in ledger if d < day]
        if not earlier:
            continue
        newest_day = max(earlier)
        doc, newest = read_state(storage, ledger[newest_day])
        if doc.get("user_name"):
            state.user_names[open_id] = doc["user_name"]
        for table, mark in doc.get("watermarks", {}).items():
            state.watermarks[(open_id, table)] = Watermark(
                mark["max_event_us"], frozenset(mark["keys_at_max"]), frozenset(mark["keys_without_time"])
            )
        rows_by_day: dict[str, pa.Table | None] = {newest_day: newest}
        dates = state.set_dates[open_id] = {}
        for name, spec in changelogs.items():
            at = doc.get("sets_at", {}).get(name)
            if at is None:
                continue
            if at not in rows_by_day:
                rows_by_day[at] = read_state(storage, ledger[at])[1] if at in ledger else None
            found = set_of(rows_by_day[at], name, spec)
            if found is not None:
                state.sets[(open_id, name)] = found
                dates[name] = at
    return state


@dataclass(frozen=True)
class _SetCell:
    """How a change-log table's set is stored in a ledger file: one list-of-rows cell."""

    fields: list[pa.Field]
    type: pa.DataType
    unchanged: pa.Array  # the null cell of a set that did not change


@cache
def _set_cell(spec: TableSpecLike) -> _SetCell:
    fields = list(spec.schema)
    kind = pa.list_(pa.struct(fields))
    return _SetCell(fields, kind, pa.nulls(1, kind))


def write_state(
    path: Path,
    specs: Mapping[str, TableSpecLike],
    *,
    batch_id: str,
    watermarks: Sequence[tuple[str, Watermark]],
    changed_sets: Mapping[str, pa.Table],
    sets_at: Mapping[str, str],
    user_name: str | None = None,
) -> Path:
    """One user's ledger file for a date: deterministic bytes for the same inputs."""
    doc = {
        "version": LEDGER_VERSION,
        "batch_id": batch_id,
        "watermarks": {
            table: {
                "max_event_us": wm.max_us,
                "keys_at_max": sorted(wm.keys),
                "keys_without_time": sorted(wm.null_keys),
            }
            for table, wm in sorted(watermarks)
        },
        "sets_at": dict(sorted(sets_at.items())),
    }
    if user_name:  # the latest profile's, carried forward through exports without one
        doc["user_name"] = user_name
    fields, columns = [], []
    for name, spec in sorted(specs.items()):
        if mode_of(spec) is not Mode.CHANGELOG:
            continue
        cell = _set_cell(spec)
        fields.append(pa.field(name, cell.type))
        rows = changed_sets.get(name)
        if rows is None:
            columns.append(cell.unchanged)
            continue
        rows = rows.cast(spec.schema).combine_chunks()
        structs = pa.StructArray.from_arrays(
            [
                rows.column(i).chunk(0) if rows.column(i).num_chunks else pa.array([], f.type)
                for i, f in enumerate(cell.fields)
            ],
            fields=cell.fields,
        )
        columns.append(pa.ListArray.from_arrays(pa.array([0, len(structs)], pa.int32()), structs))
    schema = pa.schema(fields, metadata={_META: json.dumps(doc, sort_keys=True).encode()})
    table = pa.Table.from_arrays(columns, schema=schema) if fields else schema.empty_table()
    # Built in memory and written at once: the IPC writer makes ~75 small writes for a ~10 KB
    # file, each a system call on a file.
    sink = pa.BufferOutputStream()
    big = table.get_total_buffer_size() >= COMPRESS_FROM_BYTES
    with pa.ipc.new_file(sink, schema, options=_IPC_ZSTD if big else _IPC_PLAIN) as writer:
        writer.write_table(table)
    Path(path).write_bytes(sink.getvalue())
    return path


def read_state(storage: Storage, key: str) -> tuple[dict, pa.Table]:
    """A ledger file's document (batch, watermarks, set dates) and its row of changed sets."""
    with storage.local_copy(key) as path, pa.OSFile(str(path)) as source:
        table = pa.ipc.open_file(source).read_all()
    return json.loads(table.schema.metadata[_META]), table


def batch_of(storage: Storage, key: str) -> str | None:
    """The batch a ledger file says holds the user's rows on its date."""
    return read_state(storage, key)[0].get("batch_id")


def same_state(storage: Storage, key: str, path: Path) -> bool:
    """Whether the stored ledger file ``key`` carries the same state as the local file ``path``.

    The batch id is left out: a user re-synced into another batch keeps the same state.
    """
    old_doc, old_row = read_state(storage, key)
    with pa.OSFile(str(path)) as source:
        new_row = pa.ipc.open_file(source).read_all()
    new_doc = json.loads(new_row.schema.metadata[_META])
    old_doc.pop("batch_id", None)
    new_doc.pop("batch_id", None)
    return old_doc == new_doc and old_row.replace_schema_metadata().equals(new_row.replace_schema_metadata())


def set_of(table: pa.Table | None, name: str, spec: TableSpecLike) -> pa.Table | None:
    """The set a ledger file holds for ``name`` (an empty set is a set), or None."""
    if table is None or name not in table.column_names or table.num_rows == 0:
        return None
    cell = table.column(name).combine_chunks()
    if not cell.is_valid()[0].as_py():
        return None
    return pa.Table.from_struct_array(cell.flatten()).cast(spec.schema)
