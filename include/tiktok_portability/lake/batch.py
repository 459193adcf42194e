"""Staging one batch: each archive's rows held apart, then one Parquet file per table.

An archive's rows wait in :class:`~tiktok_portability.spill.HeldBatches` (in memory, spilling
to Arrow IPC scratch files past ``SPILL_BYTES`` for all its tables together); only when the
whole archive normalized cleanly are they appended to the batch's Parquet writers. A bad archive
is therefore dropped whole, never half-loaded, and memory stays bounded (change-log tables
excepted: a user's follower set is held to diff it).

One exception keeps a big archive's Parquet encoding alongside its decoding: the first archive
to give a table rows writes them straight into that table's (still empty) Parquet writer, and
if the archive then fails, the writer is emptied again (:meth:`ParquetSink.abort`). The files
hold the same rows in the same order either way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterator, Mapping
from pathlib import Path

import pyarrow as pa

from tiktok_portability.lake.files import ParquetSink, close_all
from tiktok_portability.lake.incremental import (
    EventFilter,
    Mode,
    TableSpecLike,
    Watermark,
    diff_changelog,
    lake_schema,
    mode_of,
)
from tiktok_portability.lake.ledger import PreviousState
from tiktok_portability.lake.raw import RawArchiveRef
from tiktok_portability.spill import HeldBatches, MemoryBudget

log = logging.getLogger(__name__)


# Below this many bytes an archive's rows wait in memory; above, they spill to scratch files.
SPILL_BYTES = 32 << 20


class ArchiveStage:
    """One archive's rows after incremental filtering, held until the archive is accepted."""

    def __init__(
        self,
        folder: Path,
        ref: RawArchiveRef,
        specs: Mapping[str, TableSpecLike],
        previous: PreviousState,
        direct: Callable[[str], ParquetSink | None] = lambda table: None,
    ) -> None:
        self.folder = folder
        self.ref = ref
        self.specs = specs
        self.previous = previous
        # Tables whose rows go straight into the batch's empty Parquet writer (see module doc).
        self._open_direct = direct
        self.filters: dict[str, EventFilter] = {}
        self.sets: dict[str, list[pa.RecordBatch]] = {}
        self.budget = MemoryBudget(SPILL_BYTES)
        self.held: dict[str, HeldBatches] = {}
        self.rows: dict[str, int] = {}
        self.watermarks: list[tuple[str, Watermark]] = []
        # Change-log sets after this snapshot, for the tables whose set changed.
        self.next_sets: dict[str, pa.Table] = {}
        self.direct: dict[str, ParquetSink] = {}

    def discard(self) -> None:
        """Drop every row taken (a failed archive): its scratch files, and the rows written straight in."""
        for sink in self.direct.values():
            sink.abort()
        self.direct.clear()
        for held in self.held.values():
            held.discard()
        self.held.clear()

    def add(self, table: str, batch: pa.RecordBatch) -> None:
        spec = self.specs.get(table)
        if spec is None:
            raise ValueError(f"normalizer produced unknown table {table!r}")
        if batch.schema.equals(spec.schema, check_metadata=True):
            parts = [batch]  # the normalizer's batches already have the schema: no cast needed
        else:
            try:
                parts = pa.Table.from_batches([batch]).cast(spec.schema).to_batches()
            except (pa.ArrowInvalid, pa.ArrowTypeError, ValueError) as exc:
                raise ValueError(f"table {table!r}: batch does not match its schema: {exc}") from exc
        mode = mode_of(spec)
        if mode is Mode.CHANGELOG:
            # Kept whole (one user's set) because the diff needs the complete snapshot.
            self.sets.setdefault(table, []).extend(parts)
            return
        filt = None
        if mode is Mode.EVENTS:
            filt = self.filters.get(table)
            if filt is None:
                previous = self.previous.watermark(self.ref.open_id, table)
                filt = self.filters[table] = EventFilter(spec, previous)
        for part in parts:
            self._write(table, filt(part) if filt else part)

    def _write(self, table: str, batch: pa.RecordBatch) -> None:
        if batch.num_rows == 0:
            return
        first = table not in self.rows
        self.rows[table] = self.rows.get(table, 0) + batch.num_rows
        if first and (sink := self._open_direct(table)) is not None:
            self.direct[table] = sink
        if table in self.direct:
            self.direct[table].write(batch)
            return
        held = self.held.get(table)
        if held is None:
            held = self.held[table] = HeldBatches(batch.schema, folder=self.folder, budget=self.budget)
        held.add(batch)

    def finish(self, tables_present: Collection[str] = ()) -> None:
        """Diff change-log tables and settle watermarks."""
        for name, spec in self.specs.items():
            mode = mode_of(spec)
            if mode is Mode.CHANGELOG:
                parts = self.sets.get(name)
                if parts is None and name in tables_present:
                    parts = []
                current = pa.Table.from_batches(parts, spec.schema) if parts is not None else None
                previous = self.previous.current_set(self.ref.open_id, name)
                changes, after = diff_changelog(
                    spec,
                    current,
                    previous,
                    request_id=self.ref.request_id,
                    snapshot_date=_as_date(self.ref.snapshot_date),
                )
                if after is not None:
                    self.next_sets[name] = after
                for part in changes.to_batches():
                    self._write(name, part)
            elif mode is Mode.EVENTS:
                filt = self.filters.get(name)
                wm = filt.watermark() if filt else self.previous.watermark(self.ref.open_id, name)
                if wm is not None:
                    self.watermarks.append((name, wm))

    def batches(self, table: str) -> Iterator[pa.RecordBatch]:
        held = self.held.get(table)
        if held is not None:
            yield from held.release()


def _as_date(day: str):
    from datetime import date

    return date.fromisoformat(day)


class BatchStage:
    """The batch's output: one Parquet sink per table, fed by accepted archives."""

    def __init__(self, folder: Path, specs: Mapping[str, TableSpecLike]) -> None:
        self.folder = folder
        self.specs = specs
        out = folder / "out"
        self.sinks = {n: ParquetSink(out / f"{n}.parquet", lake_schema(s)) for n, s in specs.items()}
        self._n = 0

    def new_archive(self, ref: RawArchiveRef, previous: PreviousState) -> ArchiveStage:
        self._n += 1
        scratch = self.folder / "scratch" / str(self._n)
        return ArchiveStage(scratch, ref, self.specs, previous, direct=self._direct_sink)

    def _direct_sink(self, table: str) -> ParquetSink | None:
        """The table's writer, when no row is in it yet: then an archive may write straight in."""
        sink = self.sinks[table]
        return sink if sink.rows == 0 else None

    def accept(self, archive: ArchiveStage) -> None:
        for name in self.specs:  # tables written straight in have nothing staged
            for batch in archive.batches(name):
                self.sinks[name].write(batch)
        archive.direct.clear()
        archive.discard()  # its scratch files: the rows are in the batch's files now

    def close(self) -> dict[str, tuple[Path | None, int]]:
        """Per table: the finished file (None when the batch has no row for it) and its row count."""
        paths = close_all(self.sinks.values())
        return {name: (path, sink.rows) for (name, sink), path in zip(self.sinks.items(), paths, strict=True)}
