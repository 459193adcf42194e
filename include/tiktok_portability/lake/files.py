"""Reading and writing the lake's Parquet files (deterministic bytes for the same rows)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from tiktok_portability.background import WriteBehind
from tiktok_portability.lake.storage import Storage

ROW_GROUP_ROWS = 65_536
# Below this many buffered rows, closing writes on the calling thread: starting a thread for a
# small last row group costs more than it saves (many small archives per batch).
BACKGROUND_CLOSE_ROWS = 8_192
# Row groups waiting for a sink's writer thread (~10 MB each for the big tables).
MAX_QUEUED = 4
# Bytes gathered before each write to the file.
WRITE_BUFFER = 64 << 10
# Fixed writer settings: the same rows in the same order always give the same bytes.
PARQUET_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    # Level 1: on export data it is both faster and smaller than 3 (measured: 17.3 vs 17.6 MB for
    # 100 MB of JSON) and far smaller than snappy (25 MB).
    "compression_level": 1,
    "write_statistics": True,
    "version": "2.6",
}


# Integer columns that hold one value per archive: a dictionary of one entry and run-length
# indices instead of 8 plain bytes a row for zstd to squeeze (watch history and messages of 100 MB
# of JSON: -10% Parquet CPU and -2% bytes, measured).
_CONSTANT_PER_ARCHIVE = frozenset({"request_id"})


@lru_cache(maxsize=64)
def dictionary_columns(schema: pa.Schema) -> list[str]:
    """Columns worth dictionary encoding: text and dates that repeat (users, partners, kinds),
    and the request id, the same on every row of an archive.

    Timestamps, ids, links and raw timestamp text are nearly unique per row: a dictionary only
    costs hashing there before Parquet falls back to plain encoding (a third of the write time
    of watch history, measured), and the files come out the same size.
    """
    return [
        f.name
        for f in schema
        if (
            (pa.types.is_string(f.type) or pa.types.is_date(f.type))
            and f.name != "link"
            and not f.name.endswith("_raw")
        )
        or f.name in _CONSTANT_PER_ARCHIVE
    ]


class ParquetSink:
    """Writes batches to one Parquet file, buffering them into row groups of ``ROW_GROUP_ROWS``.

    Row groups are encoded and compressed on a background thread (Parquet writing releases the
    GIL), so a big table's writing overlaps the decoding of the next rows. Up to ``MAX_QUEUED``
    row groups wait for that thread: a burst (direct messages held until the profile names the
    user, released at once) is written while decoding goes on instead of stalling it, and memory
    stays bounded by a few row groups per table.
    """

    def __init__(self, path: Path, schema: pa.Schema, row_group_rows: int = ROW_GROUP_ROWS) -> None:
        self.path = Path(path)
        self.schema = schema
        self.row_group_rows = row_group_rows
        self.rows = 0
        self._pending: list[pa.RecordBatch] = []
        self._pending_rows = 0
        self._writer: pq.ParquetWriter | None = None
        self._file: pa.NativeFile | None = None
        # A row group that failed leaves the file incomplete: the failure sticks, so later writes
        # and the close raise it rather than finishing a file with rows missing.
        self._behind = WriteBehind(depth=MAX_QUEUED, name="parquet-sink")

    def write(self, batch: pa.RecordBatch) -> None:
        if self._behind.failure is not None:
            raise self._behind.failure
        if batch.num_rows == 0:
            return
        self._pending.append(batch)
        self._pending_rows += batch.num_rows
        self.rows += batch.num_rows
        if self._pending_rows >= self.row_group_rows:
            self._flush(background=True)

    def _flush(self, background: bool = False) -> None:
        if not self._pending:
            return
        table = pa.Table.from_batches(self._pending, self.schema)
        self._pending, self._pending_rows = [], 0
        if background:
            self._behind.submit(self._write_table, table)
        else:
            self._behind.run(self._write_table, table)

    def _write_table(self, table: pa.Table) -> None:
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # An open file rather than a path: resolving a filesystem for the path cost ~40 us
            # per file, which shows when an archive writes a dozen small tables. Buffered: the
            # writer makes many small writes and position calls (~60 system calls for a small
            # table's file, measured with strace; ~6 once buffered).
            self._file = pa.BufferedOutputStream(pa.OSFile(str(self.path), "wb"), WRITE_BUFFER)
            self._writer = pq.ParquetWriter(
                self._file, self.schema, use_dictionary=dictionary_columns(self.schema), **PARQUET_OPTIONS
            )
        self._writer.write_table(table, row_group_size=self.row_group_rows)

    def start_closing(self) -> None:
        """Hand what is still buffered to the background thread, when that is worth a thread.

        Closing several sinks this way first (:func:`close_all`) writes their last row groups at
        the same time instead of one after another: the tail of a big archive (~0.1 s per 100 MB).
        """
        if self._pending and (self._behind.started or self._pending_rows >= BACKGROUND_CLOSE_ROWS):
            self._flush(background=True)

    def abort(self) -> None:
        """Give up what was written: the file is removed and the sink starts empty again.

        For rows written ahead of knowing whether they are wanted (a batch's first archive, see
        ``lake.batch``): nothing queued is kept, and the file is gone when this returns.
        """
        self._pending, self._pending_rows = [], 0
        with contextlib.suppress(Exception):  # a failed row group no longer matters
            self._behind.close()
        self._drop_handles()
        self.path.unlink(missing_ok=True)
        self.rows = 0
        self._behind = WriteBehind(depth=MAX_QUEUED, name="parquet-sink")

    def _drop_handles(self) -> None:
        """Close an unfinished file's writer and handle, whatever state a failure left them in."""
        with contextlib.suppress(Exception):
            if self._writer is not None:
                self._writer.close()
        if self._file is not None:
            self._file.close()
        self._writer = self._file = None

    def close(self) -> Path | None:
        """Finish the file; returns its path, or None when no row was written (no file)."""
        try:
            try:
                self._flush()
            finally:
                self._behind.close()
        finally:
            if self._behind.failure is not None:  # the incomplete file's handles are not left open
                self._drop_handles()
        if self._writer is None:
            return None
        try:
            self._writer.close()
        finally:
            self._writer = None
            if self._file is not None:
                self._file.close()
        return self.path


def close_all(sinks: Iterable[ParquetSink]) -> list[Path | None]:
    """Close every sink, their last row groups written in parallel; paths in the same order."""
    sinks = list(sinks)
    error: BaseException | None = None
    for sink in sinks:
        try:
            sink.start_closing()
        except BaseException as exc:  # still close the others; close() raises it again
            error = error or exc
    paths: list[Path | None] = []
    for sink in sinks:
        try:
            paths.append(sink.close())
        except BaseException as exc:  # every sink's thread is shut down before raising
            error = error or exc
    if error is not None:
        raise error
    return paths


def write_table(path: Path, table: pa.Table) -> Path | None:
    sink = ParquetSink(path, table.schema)
    for batch in table.to_batches():
        sink.write(batch)
    return sink.close()


def read_file(
    storage: Storage, key: str, *, columns: Sequence[str] | None = None, filters: Any = None
) -> pa.Table:
    with storage.local_copy(key) as path:
        return pq.read_table(path, columns=list(columns) if columns else None, filters=filters)


def partition_date(key: str) -> str | None:
    """The ``snapshot_date`` of a key inside a hive partition, if any."""
    for part in key.split("/"):
        if part.startswith("snapshot_date="):
            return part.split("=", 1)[1]
    return None


def table_folders(storage: Storage) -> list[str]:
    """Top-level folders that can hold tables: not the raw zone, not ``_commits`` and kin."""
    return [f for f in storage.folders("") if not f.startswith("_") and f != "raw"]


def parquet_files(storage: Storage, table: str) -> list[str]:
    return [k for k in storage.list(table) if k.endswith(".parquet") and partition_date(k)]


def read_users(
    storage: Storage, keys: Iterable[str], open_ids: Sequence[str], schema: pa.Schema | None = None
) -> pa.Table | None:
    """Rows of these users from these files (in file order), or None when nothing matched."""
    parts = []
    for key in keys:
        table = read_file(storage, key, filters=[("open_id", "in", list(open_ids))])
        if table.num_rows:
            parts.append(table.cast(schema) if schema is not None else table)
    return pa.concat_tables(parts) if parts else None
