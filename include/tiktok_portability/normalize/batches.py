"""Collect slices into RecordBatches of at most ``batch_rows`` rows, adding lineage and ordinals."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from functools import cache
from itertools import pairwise

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tiktok_portability.normalize.columns import SliceColumns
from tiktok_portability.normalize.report import NormalizeContext
from tiktok_portability.normalize.tables import TS, TableSpec

_LINEAGE = ("open_id", "request_id", "snapshot_date")


class OccurrenceCounter:
    """Numbers records that are identical in every key column: 0, 1, 2, ...

    Exports list events newest first, so identical events (same second, same item) sit in one run
    of equal timestamps. Counting within the current run keeps memory bounded by the largest
    same-second burst instead of by the archive, and gives the same ordinals every night because
    each export is complete.

    Not every list is in order, though (a DM transcript can go back in time, and placeholder
    dates, stored as null, are scattered): a run whose prefix (the key up to its timestamp) was
    seen in an earlier run starts numbering after every row that prefix has had, so ``occurrence``
    stays unique per key whatever the order. That needs the row count per prefix seen so far
    (:class:`_PrefixTotals`, 16 bytes a prefix); in an ordered list every run is new and counts
    from 0 as before.

    Each slice is numbered with array operations (a stable sort by run and key); only the rows of
    the run that continues from one slice into the next are looked at in Python.
    """

    def __init__(self, spec: TableSpec) -> None:
        layout = _layout(spec)
        self.columns = layout.key_columns
        self._run_len = layout.run_len
        self._run: tuple | None = None
        self._counts: dict[tuple, int] = {}
        self._totals = _PrefixTotals()
        # Lowest and highest lone-time prefix seen (see _offsets), None before the first slice.
        self._seen: tuple[int, int] | None = None
        # The same per group of runs (conversation, favourite kind), keyed by the group's hash.
        self._seen_by_group: dict[int, tuple[int, int]] = {}
        self._open_offset = 0  # where the run still open at the end of the last slice starts

    def ordinals(self, arrays: dict[str, pa.Array | pa.ChunkedArray]) -> pa.Array:
        n = len(arrays[self.columns[0]])
        change = np.zeros(n, dtype=bool)
        for name in self.columns[: self._run_len]:
            change[1:] |= _changes(arrays[name])
        run_id = np.cumsum(change)
        out = np.zeros(n, dtype=np.int64)
        # Only rows in runs of two or more can repeat a key; in exports that is a small share.
        starts = np.flatnonzero(np.concatenate(([True], change[1:])))
        lengths = np.diff(np.append(starts, n))
        multi = lengths > 1
        if multi.any():
            rows = np.flatnonzero(np.repeat(multi, lengths))
            take = pa.array(rows)
            codes = [_codes(arrays[c].take(take)) for c in self.columns]
            # Dense id of (run, key): rows with equal ids are the repeats to number.
            group = run_id[rows].astype(np.int64)
            for c in codes:
                _, group = np.unique(group * (int(c.max()) + 2) + (c + 1), return_inverse=True)
            order = np.argsort(group, kind="stable")
            ranked = group[order]
            pos = np.arange(len(rows))
            first = np.where(np.concatenate(([True], ranked[1:] != ranked[:-1])), pos, 0)
            ranks = np.empty(len(rows), dtype=np.int64)
            ranks[order] = pos - np.maximum.accumulate(first)
            out[rows] = ranks

        last_run = int(run_id[-1])
        first_rows = self._rows(arrays, 0, 1)
        continues = self._run is not None and first_rows[0][: self._run_len] == self._run
        if continues:
            first_len = int(np.searchsorted(run_id, 0, side="right"))
            for i, row in enumerate(self._rows(arrays, 0, first_len)):
                out[i] += self._counts.get(row, 0)
        if not (continues and last_run == 0):
            self._counts = {}
        tail_start = int(np.searchsorted(run_id, last_run, side="left"))
        for i, row in enumerate(self._rows(arrays, tail_start, n), start=tail_start):
            self._counts[row] = int(out[i]) + 1
        self._run = self._rows(arrays, n - 1, n)[0][: self._run_len]
        offsets = self._offsets(arrays, starts, lengths, continues)
        if offsets is not None:
            out += np.repeat(offsets, lengths)
        return pa.array(out, pa.int32())

    def _offsets(
        self,
        arrays: dict[str, pa.Array | pa.ChunkedArray],
        starts: np.ndarray,
        lengths: np.ndarray,
        continues: bool,
    ) -> np.ndarray | None:
        """Per run, the rows its prefix had before it (None when every run is new: all zero).

        A run that continues the last slice's open run keeps that run's offset.
        """
        take = pa.array(starts)
        prefix_columns = [_contiguous(arrays[name]).take(take) for name in self.columns[: self._run_len]]
        first_new = 1 if continues else 0
        ordered = False  # True when no new run can have a prefix seen before: no lookup needed
        if len(prefix_columns) == 1 and _is_integer(prefix_columns[0]):
            # A lone time (most event tables): the values are their own keys (nulls, undated
            # records, share the lowest), and a slice whose new runs go on past every time seen
            # so far (an ordered list) needs no lookup.
            column = prefix_columns[0].cast(pa.int64())
            nulls = column.null_count
            values = (pc.fill_null(column, _NULL_TIME) if nulls else column).to_numpy()
            prefixes = values.view(np.uint64) ^ _SIGN  # ordered like the values
            fresh = values[first_new:]
            if not nulls and len(fresh):
                steps = np.diff(fresh)
                seen = self._seen
                ordered = (
                    seen is None
                    or ((steps < 0).all() and fresh[0] < seen[0])
                    or ((steps > 0).all() and fresh[0] > seen[1])
                )
            valid = fresh[fresh != _NULL_TIME] if nulls else fresh
            if len(valid):
                low, high = int(valid.min()), int(valid.max())
                seen = self._seen
                self._seen = (low, high) if seen is None else (min(low, seen[0]), max(high, seen[1]))
        else:
            groups = np.zeros(len(starts), dtype=np.uint64)
            for column in prefix_columns[:-1]:
                groups = _mix(groups, _hashes(column))
            prefixes = _mix(groups, _hashes(prefix_columns[-1]))
            if _is_integer(prefix_columns[-1]):
                # Groups before the time (conversation; favourite kind): a run is new when its
                # group's times in this slice go on past every time that group had so far.
                need = self._fresh_by_group(groups, prefix_columns[-1], first_new)
                if need is not None:
                    before = np.zeros(len(starts), dtype=np.int64)
                    if len(need):
                        before[need] = self._totals.lookup(prefixes[need])
                    return self._number(prefixes, lengths, before, continues)
        if ordered:
            before = np.zeros(len(starts), dtype=np.int64)
            if continues:
                before[0] = self._totals.lookup(prefixes[:1])[0]
            falling = bool((prefixes[1:] < prefixes[:-1]).all())
            if falling or (prefixes[1:] > prefixes[:-1]).all():
                # Every run of the slice has a prefix of its own: nothing to sort or group.
                offsets = np.zeros(len(starts), dtype=np.int64)
                if continues:
                    offsets[0] = self._open_offset
                totals = before + lengths
                self._totals.record(
                    prefixes[::-1] if falling else prefixes, totals[::-1] if falling else totals
                )
                self._open_offset = int(offsets[-1])
                return offsets if offsets.any() else None
        else:
            before = self._totals.lookup(prefixes)
        return self._number(prefixes, lengths, before, continues)

    def _number(
        self, prefixes: np.ndarray, lengths: np.ndarray, before: np.ndarray, continues: bool
    ) -> np.ndarray | None:
        """Offsets from the rows each prefix had before the slice (``before``) and in it."""
        # Earlier runs of the same prefix in this slice come before a run too.
        order = np.argsort(prefixes, kind="stable")
        ranked, ranked_len = prefixes[order], lengths[order]
        first = np.concatenate(([True], ranked[1:] != ranked[:-1]))
        done = np.cumsum(ranked_len) - ranked_len
        group_start = np.maximum.accumulate(np.where(first, done, 0))
        earlier = np.empty(len(prefixes), dtype=np.int64)
        earlier[order] = done - group_start
        offsets = before + earlier
        if continues:
            offsets[0] = self._open_offset
        group_total = np.add.reduceat(ranked_len, np.flatnonzero(first))
        unique = ranked[first]
        self._totals.record(unique, before[order][first] + group_total)
        self._open_offset = int(offsets[-1])
        return offsets if offsets.any() else None

    def _fresh_by_group(self, groups: np.ndarray, times: pa.Array, first_new: int) -> np.ndarray | None:
        """Indexes of the runs that need a lookup (the others' times go on past every time their
        group had so far), or None when the slice has undated runs (every run is looked up)."""
        nulls = times.null_count
        column = times.cast(pa.int64())
        values = (pc.fill_null(column, _NULL_TIME) if nulls else column).to_numpy()
        # The continuing run is looked up (it has rows before this slice); the others by group.
        need: list[np.ndarray] = [np.array([0])] if first_new else []
        order = np.argsort(groups[first_new:], kind="stable") + first_new
        ranked = groups[order]
        for part in np.split(order, np.flatnonzero(ranked[1:] != ranked[:-1]) + 1) if len(order) else ():
            ts = values[part]
            group = int(groups[part[0]])
            seen = self._seen_by_group.get(group)
            if seen is not None and not nulls:
                steps = np.diff(ts)
                falling = (steps < 0).all() and ts[0] < seen[0]
                if not (falling or ((steps > 0).all() and ts[0] > seen[1])):
                    need.append(part)
            valid = ts[ts != _NULL_TIME] if nulls else ts
            if len(valid):
                low, high = int(valid.min()), int(valid.max())
                self._seen_by_group[group] = (
                    (low, high) if seen is None else (min(low, seen[0]), max(high, seen[1]))
                )
        if nulls:
            return None
        return np.concatenate(need) if need else np.array([], dtype=np.int64)

    def _rows(self, arrays: dict[str, pa.Array | pa.ChunkedArray], start: int, stop: int) -> list[tuple]:
        cols = []
        for name in self.columns:
            arr = arrays[name]
            if start or stop != len(arr):
                arr = arr.slice(start, stop - start)
            # A view, not a cast: the same integers without a kernel call.
            cols.append(_contiguous(arr).view(pa.int64()).to_pylist() if arr.type == TS else arr.to_pylist())
        return list(zip(*cols, strict=True))


_MIX = np.uint64(0x9E3779B97F4A7C15)
_SIGN = np.uint64(1 << 63)  # int64 -> uint64 keeping the order
_NULL_TIME = np.iinfo(np.int64).min  # the key of undated runs: below every real time


def _is_integer(arr: pa.Array) -> bool:
    return arr.type == TS or pa.types.is_integer(arr.type)


_NULL_HASH = np.uint64(0x5BD1E9955BD1E995)


def _splitmix(x: np.ndarray) -> np.ndarray:
    """A 64-bit finaliser (splitmix64): equal inputs, equal outputs, on every run and machine."""
    x = x + _MIX
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _mix(acc: np.ndarray, values: np.ndarray) -> np.ndarray:
    return _splitmix(acc * np.uint64(31) ^ values)


def _hashes(arr: pa.Array) -> np.ndarray:
    """A stable 64-bit hash per value (nulls alike), for the prefixes of runs."""
    if arr.type == TS or pa.types.is_integer(arr.type):
        values = pc.fill_null(arr.cast(pa.int64()), 0).to_numpy().view(np.uint64)
        out = _splitmix(values)
    else:
        encoded = pc.dictionary_encode(arr)
        words = [
            int.from_bytes(hashlib.blake2b(v.encode(), digest_size=8).digest(), "little")
            for v in encoded.dictionary.to_pylist()
        ]
        table = np.array(words, dtype=np.uint64)
        out = (
            table[encoded.indices.fill_null(0).to_numpy(zero_copy_only=False)]
            if len(table)
            else np.zeros(len(arr), np.uint64)
        )
    if arr.null_count:
        out = np.where(arr.is_valid().to_numpy(zero_copy_only=False), out, _NULL_HASH)
    return out


class _PrefixTotals:
    """Rows seen so far per run prefix (by hash): sorted arrays, merged as they pile up.

    A lookup is a binary search in each array (at most ``MAX_PARTS``), so a slice costs
    O(runs x log) whatever the archive holds, and memory is two integers a prefix.
    """

    MAX_PARTS = 32

    def __init__(self) -> None:
        self._parts: list[tuple[np.ndarray, np.ndarray]] = []

    def lookup(self, keys: np.ndarray) -> np.ndarray:
        found = np.zeros(len(keys), dtype=np.int64)
        for known, totals in self._parts:
            at = np.minimum(np.searchsorted(known, keys), len(known) - 1)
            hit = known[at] == keys
            # Totals only grow, so the largest is the newest.
            found = np.where(hit, np.maximum(found, totals[at]), found)
        return found

    def record(self, keys: np.ndarray, totals: np.ndarray) -> None:
        """``keys`` sorted and unique, with their totals after this slice."""
        self._parts.append((keys, totals.astype(np.int64)))
        if len(self._parts) <= self.MAX_PARTS:
            return
        parts = sorted(self._parts, key=lambda part: part[0][0])
        if all(a[0][-1] <= b[0][0] for a, b in pairwise(parts)):
            # An ordered list's parts are ranges that at most touch (a run split between two
            # slices): laid end to end they are sorted; a touching key keeps its larger total.
            keys = np.concatenate([k for k, _ in parts])
            totals = np.concatenate([t for _, t in parts])
        else:
            keys = np.concatenate([k for k, _ in self._parts])
            totals = np.concatenate([t for _, t in self._parts])
            order = np.lexsort((totals, keys))
            keys, totals = keys[order], totals[order]
        same = np.flatnonzero(keys[1:] == keys[:-1])
        totals[same + 1] = np.maximum(totals[same], totals[same + 1])
        last = np.concatenate((keys[1:] != keys[:-1], [True]))
        self._parts = [(keys[last], totals[last])]


def _contiguous(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def _changes(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """``value[i] != value[i - 1]`` for i >= 1, with nulls equal to each other."""
    arr = _contiguous(arr)
    if arr.type == TS or pa.types.is_integer(arr.type):
        # Compared as integers: no hashing. The fill value only meets nulls (valid differs).
        values = pc.fill_null(arr.cast(pa.int64()), 0).to_numpy()
        valid = arr.is_valid().to_numpy(zero_copy_only=False)
        return (values[1:] != values[:-1]) | (valid[1:] != valid[:-1])
    codes = _codes(arr)
    return codes[1:] != codes[:-1]


def _codes(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Integer codes equal exactly where the values are equal (nulls share code -1)."""
    arr = _contiguous(arr)
    if arr.type == TS:
        arr = arr.cast(pa.int64())
    encoded = pc.dictionary_encode(arr)
    indices = encoded.indices.fill_null(-1) if encoded.null_count else encoded.indices
    return indices.to_numpy(zero_copy_only=False).astype(np.int64)


class _Layout:
    """What a table's buffer needs to know of its schema, worked out once per table spec."""

    def __init__(self, spec: TableSpec) -> None:
        added = {*_LINEAGE, "occurrence"}
        data = [f for f in spec.schema if f.name not in added]
        # The columns a slice brings (all but lineage and ordinals), in schema order.
        self.names = tuple(f.name for f in data)
        self.types = tuple(f.type for f in data)
        self.positions = {name: i for i, name in enumerate(self.names)}
        self.all_names = tuple(spec.schema.names)
        self.counted = "occurrence" in self.all_names
        self.key_columns = [c for c in spec.key if c not in _LINEAGE and c != "occurrence"]
        ts_positions = [i for i, c in enumerate(self.key_columns) if spec.schema.field(c).type == TS]
        self.run_len = (ts_positions[0] + 1) if ts_positions else len(self.key_columns)


@cache
def _layout(spec: TableSpec) -> _Layout:
    return _Layout(spec)


class Lineage:
    """One archive's lineage columns, shared by all its tables and batches.

    Built once at the longest length asked for and sliced (zero-copy) for shorter batches:
    arrays are immutable, and repeating three scalars per table costs more than the slices.
    """

    def __init__(self, ctx: NormalizeContext) -> None:
        self._values = {
            "open_id": pa.scalar(ctx.open_id, pa.string()),
            "request_id": pa.scalar(ctx.request_id, pa.int64()),
            "snapshot_date": pa.scalar(ctx.snapshot_date, pa.date32()),
        }
        self._arrays: dict[str, pa.Array] = {}
        self._length = 0

    def arrays(self, n: int) -> dict[str, pa.Array]:
        if n > self._length:
            self._length = n
            self._arrays = {name: pa.repeat(value, n) for name, value in self._values.items()}
        if n == self._length:
            return self._arrays
        return {name: arr.slice(0, n) for name, arr in self._arrays.items()}


class TableBuffer:
    """Rows waiting to be emitted for one table.

    Slices are kept as they come (their own columns only, as plain column lists); lineage and
    occurrence ordinals are added once per emitted batch, so their fixed cost is paid per
    65,536 rows rather than per slice of a few thousand. Ordinals only depend on the order of
    the rows, which is the same.
    """

    def __init__(
        self, spec: TableSpec, ctx: NormalizeContext, batch_rows: int, lineage: Lineage | None = None
    ) -> None:
        self.spec = spec
        self.batch_rows = batch_rows
        layout = _layout(spec)
        self._names, self._types, self._all_names = layout.names, layout.types, layout.all_names
        self._positions = layout.positions
        # (rows, columns in data-schema order) per slice, in arrival order
        self._pieces: list[tuple[int, list[pa.Array]]] = []
        self._rows = 0
        self._occurrence = OccurrenceCounter(spec) if layout.counted else None
        self._lineage = lineage if lineage is not None else Lineage(ctx)

    def add(self, cols: SliceColumns) -> Iterator[pa.RecordBatch]:
        """Add a slice; yields the batches of every full group of ``batch_rows`` now ready."""
        if cols.rows == 0:
            return
        n = cols.rows
        arrays = cols.arrays
        columns = []
        for name, kind in zip(self._names, self._types, strict=True):
            arr = arrays.get(name)
            if arr is None:
                arr = pa.nulls(n, kind)
            elif len(arr) != n or not arr.type.equals(kind):  # a normalizer bug, caught early
                raise ValueError(
                    f"table {self.spec.name!r} column {name!r}: {len(arr)} values of {arr.type}, "
                    f"expected {n} of {kind}"
                )
            columns.append(arr)
        self._pieces.append((n, columns))
        self._rows += n
        while self._rows >= self.batch_rows:
            yield from self._take(self.batch_rows)

    def flush(self) -> Iterator[pa.RecordBatch]:
        while self._rows:
            yield from self._take(min(self._rows, self.batch_rows))

    def _take(self, k: int) -> list[pa.RecordBatch]:
        """The next ``k`` rows as the batches they arrived in, with lineage and ordinals.

        Nothing is concatenated: a slice that straddles the cut is split by zero-copy slicing,
        and the group's lineage and ordinals are sliced to each piece. Copying every column of
        every group into one batch cost ~5 ms per 65,536 rows in a big archive (fresh memory
        each time), and the Parquet sink takes row groups of many batches as they are.
        """
        taken: list[tuple[int, list[pa.Array]]] = []
        rows = 0
        while rows < k:
            n, columns = self._pieces[0]
            if n <= k - rows:
                taken.append(self._pieces.pop(0))
            else:
                cut = k - rows
                taken.append((cut, [a.slice(0, cut) for a in columns]))
                self._pieces[0] = (n - cut, [a.slice(cut) for a in columns])
            rows += taken[-1][0]
        self._rows -= rows
        group: dict[str, pa.Array | pa.ChunkedArray] = dict(self._lineage.arrays(rows))
        if self._occurrence is not None:
            keys: dict[str, pa.Array | pa.ChunkedArray] = {}
            for name in self._occurrence.columns:
                i = self._positions[name]
                parts = [columns[i] for _, columns in taken]
                keys[name] = parts[0] if len(parts) == 1 else pa.chunked_array(parts, self._types[i])
            group["occurrence"] = self._occurrence.ordinals(keys)
        out = []
        at = 0
        for n, columns in taken:
            arrays = dict(zip(self._names, columns, strict=True))
            for name, arr in group.items():
                arrays[name] = arr if n == rows else arr.slice(at, n)
            columns = [arrays[name] for name in self._all_names]
            out.append(pa.RecordBatch.from_arrays(columns, schema=self.spec.schema))
            at += n
        return out
