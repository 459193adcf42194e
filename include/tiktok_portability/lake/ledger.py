"""Each user's incremental state after every committed date, kept in the user's own folder.

Loading a batch's previous state must cost what the batch costs, not what the lake holds: with
100,000 users in batches of 100, a night writes 1,000 files per table, and a reader that scanned
every earlier file would read O(dates x batches) files per batch. So every commit also writes,
per user::

    _state/user=<h>/snapshot_date=D/state.json        batch id + event watermarks after D
    _state/user=<h>/snapshot_date=D/<table>.parquet   the change-log set after D (when it changed)

A batch lists each of its users' folders (one listing per user, a few hundred keys after a year)
and reads the newest entries dated before D. The ledger is derived from the same commits as the
tables and is rewritten with them, so reprocessing a date reproduces it. ``state.json`` also names
the batch that holds the user on D, which is how a re-sync finds the rows to replace without
reading every manifest of the date.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tiktok_portability.lake import files, keys
from tiktok_portability.lake.incremental import (
    CHANGE_COLUMN,
    FOLLOW,
    Mode,
    TableSpecLike,
    Watermark,
    fold_changelog,
    mode_of,
)
from tiktok_portability.lake.storage import Storage

STATE = "_state"
STATE_FILE = "state.json"
LEDGER_VERSION = 1


def user_prefix(open_id: str) -> str:
    return f"{STATE}/user={keys.user_key(open_id)}/"


def entry_key(open_id: str, day: str, name: str) -> str:
    return f"{user_prefix(open_id)}{keys.partition(day)}/{name}"


@dataclass
class UserLedger:
    """One user's ledger entries: ``{date: {file name: key}}``."""

    open_id: str
    entries: dict[str, dict[str, str]] = field(default_factory=dict)

    def latest_before(self, day: str, name: str) -> str | None:
        """The key of ``name`` in the newest entry dated before ``day``."""
        for entry_day in sorted(self.entries, reverse=True):
            if entry_day < day and name in self.entries[entry_day]:
                return self.entries[entry_day][name]
        return None

    def on(self, day: str) -> dict[str, str]:
        return self.entries.get(day, {})


def read_ledger(storage: Storage, open_id: str) -> UserLedger:
    ledger = UserLedger(open_id)
    prefix = user_prefix(open_id)
    for key in storage.list(prefix):
        day = files.partition_date(key)
        if day is not None:
            ledger.entries.setdefault(day, {})[key.rsplit("/", 1)[1]] = key
    return ledger


@dataclass
class PreviousState:
    """What the lake knows about a batch's users before snapshot date D."""

    watermarks: dict[tuple[str, str], Watermark] = field(default_factory=dict)
    sets: dict[tuple[str, str], pa.Table] = field(default_factory=dict)
    ledgers: dict[str, UserLedger] = field(default_factory=dict)

    def watermark(self, open_id: str, table: str) -> Watermark | None:
        return self.watermarks.get((open_id, table))

    def current_set(self, open_id: str, table: str) -> pa.Table | None:
        return self.sets.get((open_id, table))

    def holder(self, storage: Storage, open_id: str, day: str) -> str | None:
        """The batch that holds the user's rows on ``day`` (None when no batch does)."""
        ledger = self.ledgers.get(open_id)
        key = ledger.on(day).get(STATE_FILE) if ledger is not None else None
        if key is None:
            return None
        return json.loads(storage.get_bytes(key)).get("batch_id")


def load_previous(
    storage: Storage, specs: Mapping[str, TableSpecLike], open_ids: Sequence[str], day: str
) -> PreviousState:
    """Watermarks and change-log sets of ``open_ids`` as of the newest dates before ``day``."""
    state = PreviousState()
    for open_id in open_ids:
        ledger = state.ledgers[open_id] = read_ledger(storage, open_id)
        key = ledger.latest_before(day, STATE_FILE)
        if key is not None:
            for table, mark in json.loads(storage.get_bytes(key)).get("watermarks", {}).items():
                state.watermarks[(open_id, table)] = Watermark(
                    mark["max_event_us"], frozenset(mark["keys_at_max"]), frozenset(mark["keys_without_time"])
                )
        for name, spec in specs.items():
            if mode_of(spec) is not Mode.CHANGELOG:
                continue
            key = ledger.latest_before(day, f"{name}.parquet")
            if key is not None:
                state.sets[(open_id, name)] = files.read_file(storage, key).cast(spec.schema)
    return state


def state_document(batch_id: str, watermarks: Sequence[tuple[str, Watermark]]) -> bytes:
    """``state.json``: deterministic bytes for the same batch and watermarks."""
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
    }
    return json.dumps(doc, sort_keys=True, indent=1).encode()


def next_set(spec: TableSpecLike, previous: pa.Table | None, changes: pa.Table) -> pa.Table:
    """The set after a date: the previous set replayed with that date's change rows."""
    if previous is None or previous.num_rows == 0:
        history = changes
    else:
        as_follows = previous.append_column(CHANGE_COLUMN, pa.repeat(pa.scalar(FOLLOW), previous.num_rows))
        history = pa.concat_tables([as_follows.cast(changes.schema), changes])
    return fold_changelog(history, spec)


def write_set(path: Path, table: pa.Table) -> Path:
    """A set file, written even when empty (an empty set after unfollows is a fact to keep)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, **files.PARQUET_OPTIONS)
    return path
