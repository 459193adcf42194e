"""Turning nightly FULL snapshots into incremental table rows.

TikTok's ongoing requests return everything every time, so each table family gets a mode:

- ``events`` (watch history, likes, messages, ...): a row is new when its event time is after
  the user's watermark, or equal to it and its natural key (which carries the normalizer's
  ``occurrence`` ordinal) is not among the keys recorded at that exact instant. The watermark is
  (max event time, keys at that time) of everything seen up to the previous snapshot, so two
  events in the same second are told apart and neither is lost nor repeated.
  Events whose time could not be parsed (null) are matched by natural key alone, and so is
  every row of an event table without a time column (``other_records``).
- ``changelog`` (followers, following, blocked_users: membership sets): a row per change,
  ``change`` = ``follow`` | ``unfollow``, from diffing the snapshot against the set rebuilt from
  earlier changes. The first sync writes the full set as ``follow``.
- ``snapshot`` (profile, posts, sections_seen): written as-is, one set of rows per user per date
  (posts change every night: like counts, settings, deletions).

Everything here is a pure function of the previous state and the current snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from functools import cache
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.compute as pc

# Columns every normalized row carries; never part of an identity across snapshots.
ROW_CONTEXT = ("request_id", "snapshot_date")
# Snapshot tables that are sets of memberships: stored as change logs, not nightly copies.
CHANGELOG_TABLES = frozenset({"followers", "following", "blocked_users"})
CHANGE_COLUMN = "change"
FOLLOW, UNFOLLOW = "follow", "unfollow"
_SEP = "\x1f"
_NULL = "\x00"
_MICROS_PER = {"s": 1_000_000, "ms": 1_000, "us": 1}


class TableSpecLike(Protocol):
    name: str
    schema: pa.Schema
    kind: str
    key: tuple[str, ...]


class Mode(Enum):
    EVENTS = "events"
    CHANGELOG = "changelog"
    SNAPSHOT = "snapshot"


def identity_columns(spec: TableSpecLike) -> tuple[str, ...]:
    """The key columns that identify a row across snapshots (the user plus the natural key)."""
    return tuple(c for c in spec.key if c not in ROW_CONTEXT)


def time_column(spec: TableSpecLike) -> str | None:
    """The event time: the first timestamp column of the key."""
    for name in spec.key:
        idx = spec.schema.get_field_index(name)
        if idx >= 0 and pa.types.is_timestamp(spec.schema.field(idx).type):
            return name
    return None


@cache  # asked for every batch of every table
def mode_of(spec: TableSpecLike) -> Mode:
    if spec.kind == "event":
        # Without an event time (other_records) every row is matched by its key alone, as
        # events whose time did not parse are: stored once, the night it first appears.
        return Mode.EVENTS
    if spec.kind == "snapshot" and spec.name in CHANGELOG_TABLES:
        return Mode.CHANGELOG
    return Mode.SNAPSHOT


def lake_schema(spec: TableSpecLike) -> pa.Schema:
    """The schema of the table's files in the lake (change logs add a ``change`` column)."""
    if mode_of(spec) is Mode.CHANGELOG:
        return spec.schema.append(pa.field(CHANGE_COLUMN, pa.string(), nullable=False))
    return spec.schema


def key_strings(data: pa.Table | pa.RecordBatch, columns: tuple[str, ...]) -> pa.Array:
    """One string per row encoding the values of ``columns`` (nulls distinct from empty strings)."""
    if data.num_rows == 0:
        return pa.array([], pa.string())
    parts = []
    for name in columns:
        col = data.column(name)
        if isinstance(col, pa.ChunkedArray):
            col = col.combine_chunks()
        if pa.types.is_timestamp(col.type):
            col = micros(col)
        parts.append(pc.fill_null(col.cast(pa.string()), _NULL))
    if len(parts) == 1:
        return parts[0]
    return pc.binary_join_element_wise(*parts, _SEP)


def micros(col: Any) -> pa.Array:
    """A timestamp column as int64 microseconds since the epoch (UTC)."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    scale = _MICROS_PER.get(col.type.unit)
    if scale is not None:  # a view and one multiply instead of two casts (per slice, it adds up)
        values = col.view(pa.int64())
        return values if scale == 1 else pc.multiply(values, scale)
    return col.cast(pa.timestamp("us", tz=col.type.tz)).cast(pa.int64())


@dataclass(frozen=True)
class Watermark:
    """The newest event instant seen for one (user, table), the keys of the events at it, and
    the keys of events without a parseable time (matched by key alone)."""

    max_us: int | None
    keys: frozenset[str] = field(default_factory=frozenset)
    null_keys: frozenset[str] = field(default_factory=frozenset)

    def merge(self, other: Watermark | None) -> Watermark:
        if other is None:
            return self
        nulls = self.null_keys | other.null_keys
        mine, theirs = self.max_us, other.max_us
        if theirs is None or (mine is not None and mine > theirs):
            return Watermark(mine, self.keys, nulls)
        if mine is None or theirs > mine:
            return Watermark(theirs, other.keys, nulls)
        return Watermark(mine, self.keys | other.keys, nulls)


class EventFilter:
    """Streams one user's snapshot of an event table, keeping only rows after ``previous``."""

    def __init__(self, spec: TableSpecLike, previous: Watermark | None) -> None:
        self.time_col = time_column(spec)
        self.id_cols = identity_columns(spec)
        self.previous = previous
        self.seen: Watermark | None = None
        self.saw_section = False

    def __call__(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        self.saw_section = True
        if batch.num_rows == 0:
            return batch
        if self.time_col is None:
            t = pa.nulls(batch.num_rows, pa.int64())
        else:
            t = micros(batch.column(self.time_col))
        self._observe(batch, t)
        if self.previous is None:
            return batch
        wm = self.previous.max_us
        if wm is None:
            keep = pc.is_valid(t)
        else:
            keep = pc.fill_null(pc.greater(t, wm), False)
            at_wm = pc.fill_null(pc.equal(t, wm), False)
            if pc.any(at_wm).as_py():
                keep = pc.or_(keep, pc.and_(at_wm, self._unseen(batch, self.previous.keys)))
        if t.null_count:
            untimed = pc.is_null(t)
            keep = pc.or_(keep, pc.and_(untimed, self._unseen(batch, self.previous.null_keys)))
        return batch.filter(keep)

    def _unseen(self, batch: pa.RecordBatch, known: frozenset[str]) -> pa.Array:
        return pc.invert(pc.is_in(key_strings(batch, self.id_cols), pa.array(sorted(known), pa.string())))

    def _observe(self, batch: pa.RecordBatch, t: pa.Array) -> None:
        top = pc.max(t).as_py()
        keys: frozenset[str] = frozenset()
        newest = self.seen.max_us if self.seen is not None else None
        # Keys at an older instant than one already seen are dropped by the merge: skip them
        # (exports list the newest events first, so that is every batch after the first).
        if top is not None and (newest is None or top >= newest):
            at_top = batch.filter(pc.fill_null(pc.equal(t, top), False))
            keys = frozenset(key_strings(at_top, self.id_cols).to_pylist())
        nulls: frozenset[str] = frozenset()
        if t.null_count:
            untimed = batch.filter(pc.is_null(t))
            nulls = frozenset(key_strings(untimed, self.id_cols).to_pylist())
        found = Watermark(top, keys, nulls)
        self.seen = found if self.seen is None else self.seen.merge(found)

    def watermark(self) -> Watermark | None:
        """The watermark after this snapshot (carried forward when the section was absent)."""
        if self.previous is None:
            return self.seen
        return self.previous.merge(self.seen)


def diff_changelog(
    spec: TableSpecLike,
    current: pa.Table | None,
    previous: pa.Table | None,
    *,
    request_id: int,
    snapshot_date: Any,
) -> tuple[pa.Table, pa.Table | None]:
    """Change rows for one user, and the user's set after them (None when nothing changed).

    Change rows: ``follow`` for new keys, ``unfollow`` for keys that disappeared. ``current`` is
    None when the archive did not contain the section at all (e.g. the grant does not cover it):
    that is "unknown", not "empty", so no change is emitted. ``previous`` holds the user's set as
    of the previous snapshot, in ``spec.schema``, one row per key.

    The set after is what replaying the previous set and the changes gives: the previous rows
    whose key is still there, in their order (they keep their lineage), then the new follows.
    """
    schema = lake_schema(spec)
    if current is None:
        return schema.empty_table(), None
    id_cols = identity_columns(spec)
    current = current.cast(spec.schema)
    kept = None
    if previous is None or previous.num_rows == 0:
        follows = current
        unfollows = spec.schema.empty_table()
    else:
        cur_keys = key_strings(current, id_cols)
        prev_keys = key_strings(previous, id_cols)
        still = pc.is_in(prev_keys, cur_keys)
        follows = current.filter(pc.invert(pc.is_in(cur_keys, prev_keys)))
        kept = previous.filter(still).cast(spec.schema)
        unfollows = _restamp(previous.filter(pc.invert(still)), request_id, snapshot_date)
    # A snapshot can list the same account twice; one change row per key is enough.
    follows = _first_per_key(follows, id_cols)
    parts = [
        follows.append_column(CHANGE_COLUMN, pa.array([FOLLOW] * follows.num_rows, pa.string())),
        unfollows.append_column(CHANGE_COLUMN, pa.array([UNFOLLOW] * unfollows.num_rows, pa.string())),
    ]
    changes = pa.concat_tables(parts).cast(schema)
    if changes.num_rows == 0:
        return changes, None
    after = follows if kept is None else pa.concat_tables([kept, follows])
    return changes, after


def _first_per_key(table: pa.Table, id_cols: tuple[str, ...]) -> pa.Table:
    if table.num_rows < 2:
        return table
    keys = key_strings(table, id_cols).to_pylist()
    first: dict[str, int] = {}
    for i, k in enumerate(keys):
        first.setdefault(k, i)
    if len(first) == len(keys):
        return table
    return table.take(pa.array(sorted(first.values()), pa.int64()))


def _restamp(table: pa.Table, request_id: int, snapshot_date: Any) -> pa.Table:
    """Unfollow rows keep the follow's attributes but belong to the snapshot that noticed them."""
    for name, value in (("request_id", request_id), ("snapshot_date", snapshot_date)):
        idx = table.schema.get_field_index(name)
        if idx >= 0:
            col = pa.array([value] * table.num_rows).cast(table.schema.field(idx).type)
            table = table.set_column(idx, table.schema.field(idx), col)
    return table
