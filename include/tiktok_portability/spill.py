"""Record batches held back in arrival order: in memory up to a budget, then in a scratch file.

Two holders use it: the normalizer holds direct messages until the profile names the user (their
direction needs it), and the lake holds each archive's rows until the whole archive normalized
cleanly. Either may hold hundreds of MB, so memory stays bounded: past the budget, batches go to
an Arrow IPC scratch file (no encoding cost), written, read back and removed on background
threads (Arrow IPC releases the GIL; on the main thread those ~250 MB cost ~7% of a 500 MB
export), and read back into memory rather than mapped (every page of a mapping stays resident
until it is closed: the lake's staged rows reached 642 MB peak RSS on a 500 MB export).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa

from tiktok_portability.background import ReadAhead, WriteBehind

# Held batches waiting for the spill file's writer thread (a batch is ~10 MB of messages).
SPILL_QUEUED = 4


# Batches whose buffers total less than this are counted by their whole buffers (see _held_bytes).
_EXACT_FROM = 1 << 20


def _held_bytes(batch: pa.RecordBatch) -> int:
    """The bytes a held batch counts against its budget.

    ``nbytes`` (only the slice's ranges, each buffer once) costs ~36 us a batch, a real share of a
    small archive's time; the whole buffers' total costs ~1 us and is never less, so small batches
    are counted by it (they can only spill sooner) and big ones exactly.
    """
    size = batch.get_total_buffer_size()
    return batch.nbytes if size >= _EXACT_FROM else size


class MemoryBudget:
    """Bytes that several holders keep in memory together; the one that goes past it spills."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0


class HeldBatches:
    """Batches kept back until they are wanted, in arrival order (see the module docstring).

    In memory while ``budget`` (by default one of ``memory_bytes`` for this holder alone) allows,
    then in a scratch file in ``folder`` (default: the system temp dir).
    """

    def __init__(
        self,
        schema: pa.Schema,
        memory_bytes: int = 32 << 20,
        *,
        folder: Path | None = None,
        budget: MemoryBudget | None = None,
    ) -> None:
        self.schema = schema
        self.budget = budget if budget is not None else MemoryBudget(memory_bytes)
        self.folder = folder
        self._batches: list[pa.RecordBatch] = []
        self._bytes = 0
        self._path: str | None = None
        self._writer: pa.ipc.RecordBatchStreamWriter | None = None
        self._behind = WriteBehind(depth=SPILL_QUEUED, name="held-spill")

    def __bool__(self) -> bool:
        return bool(self._batches) or self._path is not None

    def add(self, batch: pa.RecordBatch) -> None:
        if self._writer is not None:
            self._behind.submit(self._writer.write_batch, batch)
            return
        self._batches.append(batch)
        size = _held_bytes(batch)
        self._bytes += size
        self.budget.used += size
        if self.budget.used > self.budget.limit:
            self._spill()

    def _spill(self) -> None:
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
        fd, self._path = tempfile.mkstemp(prefix="tiktok-held-", suffix=".arrows", dir=self.folder)
        os.close(fd)
        self._writer = pa.ipc.new_stream(self._path, self.schema)
        for held in self._batches:
            self._behind.submit(self._writer.write_batch, held)
        self._forget_memory()

    def _forget_memory(self) -> None:
        self.budget.used -= self._bytes
        self._batches, self._bytes = [], 0

    def release(self) -> Iterator[pa.RecordBatch]:
        """Every held batch, in order; the holder is empty afterwards."""
        batches = self._batches
        self._forget_memory()
        yield from batches
        path, self._path = self._path, None
        if path is None:
            return
        writer, self._writer = self._writer, None
        reader: ReadAhead[pa.RecordBatch] | None = None
        try:
            self._behind.close()
            writer.close()  # type: ignore[union-attr]
            writer = None
            # Read into memory, not mapped: a mapping would keep every page of the file resident
            # until the last batch is written, so memory would grow with the export's messages.
            reader = ReadAhead(lambda: _read_and_remove(path), depth=2, name="held-read")
            yield from reader
        finally:
            if reader is not None:
                reader.close()  # the reader thread removes the file, also when stopped early
            else:  # writing the file failed
                if writer is not None:
                    with contextlib.suppress(Exception):
                        writer.close()
                _remove(path)

    def discard(self) -> None:
        self._forget_memory()
        with contextlib.suppress(Exception):  # an error while writing the spill no longer matters
            self._behind.close()
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.close()
            self._writer = None
        if self._path is not None:
            _remove(self._path)
            self._path = None


def _read_and_remove(path: str) -> Iterator[pa.RecordBatch]:
    try:
        with pa.OSFile(path) as source:
            yield from pa.ipc.open_stream(source)
    finally:
        _remove(path)


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
