"""Collect slices into RecordBatches of at most ``batch_rows`` rows, adding lineage and ordinals."""

from __future__ import annotations

from collections.abc import Iterator

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
    """

    def __init__(self, spec: TableSpec) -> None:
        names = [c for c in spec.key if c not in _LINEAGE and c != "occurrence"]
        self.columns = names
        ts_positions = [i for i, c in enumerate(names) if spec.schema.field(c).type == TS]
        self._run_len = (ts_positions[0] + 1) if ts_positions else len(names)
        self._run: tuple | None = None
        self._counts: dict[tuple, int] = {}

    def ordinals(self, arrays: dict[str, pa.Array]) -> pa.Array:
        n = len(arrays[self.columns[0]])
        keys = pa.table({c: arrays[c] for c in self.columns})
        distinct = keys.group_by(self.columns, use_threads=False).aggregate([]).num_rows
        if distinct != n:
            return pa.array(self._count(self._rows(keys)), pa.int32())
        # Fast path: no repeats inside the slice, so only rows continuing the previous slice's
        # last run can have an ordinal above 0.
        out = [0] * n
        if self._run is not None:
            for i in pc.indices_nonzero(self._in_run(keys, self._run)).to_pylist():
                row = self._rows(keys.slice(i, 1))[0]
                out[i] = self._counts.get(row, 0)
        last = self._rows(keys.slice(n - 1, 1))[0][: self._run_len]
        tail = keys.filter(self._in_run(keys, last))
        self._run = None
        self._count(self._rows(tail))
        return pa.array(out, pa.int32())

    def _in_run(self, keys: pa.Table, run: tuple) -> pa.Array:
        mask = None
        for name, value in zip(self.columns[: self._run_len], run, strict=True):
            col = keys.column(name)
            if col.type == TS:
                col = col.cast(pa.int64())
            eq = pc.is_null(col) if value is None else pc.fill_null(pc.equal(col, value), False)
            mask = eq if mask is None else pc.and_(mask, eq)
        return mask

    def _rows(self, keys: pa.Table) -> list[tuple]:
        cols = []
        for name in self.columns:
            arr = keys.column(name)
            cols.append(arr.cast(pa.int64()).to_pylist() if arr.type == TS else arr.to_pylist())
        return list(zip(*cols, strict=True))

    def _count(self, rows: list[tuple]) -> list[int]:
        out = []
        counts = self._counts
        run_len = self._run_len
        for key in rows:
            run = key[:run_len]
            if run != self._run:
                self._run = run
                counts.clear()
            k = counts.get(key, 0)
            counts[key] = k + 1
            out.append(k)
        return out


class TableBuffer:
    """Rows waiting to be emitted for one table."""

    def __init__(self, spec: TableSpec, ctx: NormalizeContext, batch_rows: int) -> None:
        self.spec = spec
        self.ctx = ctx
        self.batch_rows = batch_rows
        self._pieces: list[pa.RecordBatch] = []
        self._rows = 0
        self._occurrence = OccurrenceCounter(spec) if "occurrence" in spec.schema.names else None

    def add(self, cols: SliceColumns) -> Iterator[pa.RecordBatch]:
        """Add a slice; yields every full batch that is now ready."""
        if cols.rows == 0:
            return
        n = cols.rows
        arrays = dict(cols.arrays)
        arrays["open_id"] = pa.array([self.ctx.open_id] * n, pa.string())
        arrays["request_id"] = pa.array([self.ctx.request_id] * n, pa.int64())
        arrays["snapshot_date"] = pa.array([self.ctx.snapshot_date] * n, pa.date32())
        if self._occurrence is not None:
            arrays["occurrence"] = self._occurrence.ordinals(arrays)
        schema = self.spec.schema
        batch = pa.RecordBatch.from_arrays(
            [arrays[f.name] if f.name in arrays else pa.nulls(n, f.type) for f in schema], schema=schema
        )
        self._pieces.append(batch)
        self._rows += n
        while self._rows >= self.batch_rows:
            yield self._take(self.batch_rows)

    def flush(self) -> Iterator[pa.RecordBatch]:
        while self._rows:
            yield self._take(min(self._rows, self.batch_rows))

    def _take(self, k: int) -> pa.RecordBatch:
        table = pa.Table.from_batches(self._pieces, schema=self.spec.schema)
        head = table.slice(0, k).combine_chunks()
        rest = table.slice(k)
        self._pieces = rest.combine_chunks().to_batches() if rest.num_rows else []
        self._rows -= k
        batch = pa.RecordBatch.from_arrays(
            [col.combine_chunks() if col.num_chunks != 1 else col.chunk(0) for col in head.columns],
            schema=self.spec.schema,
        )
        return batch
