"""Collect slices into RecordBatches of at most ``batch_rows`` rows, adding lineage and ordinals."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache

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

    Each slice is numbered with array operations (a stable sort by run and key); only the rows of
    the run that continues from one slice into the next are looked at in Python.
    """

    def __init__(self, spec: TableSpec) -> None:
        layout = _layout(spec)
        self.columns = layout.key_columns
        self._run_len = layout.run_len
        self._run: tuple | None = None
        self._counts: dict[tuple, int] = {}

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
        return pa.array(out, pa.int32())

    def _rows(self, arrays: dict[str, pa.Array | pa.ChunkedArray], start: int, stop: int) -> list[tuple]:
        cols = []
        for name in self.columns:
            arr = arrays[name]
            if start or stop != len(arr):
                arr = arr.slice(start, stop - start)
            # A view, not a cast: the same integers without a kernel call.
            cols.append(_contiguous(arr).view(pa.int64()).to_pylist() if arr.type == TS else arr.to_pylist())
        return list(zip(*cols, strict=True))


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
