"""Where a download goes: chunks in, size and SHA-256 on the way, a verified zip at the end.

The archive is never held in memory: chunks go straight to disk (or the caller's file object);
verification reads the zip back from there. A path sink is written to a temporary file next to
the target and renamed into place only once the zip checks out, so readers never see a partial
archive under the final name.
"""

from __future__ import annotations

import abc
import contextlib
import hashlib
import logging
import os
import tempfile
import zipfile
import zlib
from pathlib import Path
from typing import BinaryIO, Literal

from tiktok_portability.archive.errors import ArchiveError
from tiktok_portability.archive.safezip import SafeZip
from tiktok_portability.client import errors
from tiktok_portability.client.errors import CallContext

log = logging.getLogger(__name__)

ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06")  # first local header, or an empty archive
EOCD_SIGNATURE = b"PK\x05\x06"
# The end-of-central-directory record sits in the last 22 bytes plus a comment of up to 64 KiB.
TAIL_BYTES = 22 + 65535


class ArchiveSink(abc.ABC):
    """Receives download attempts one after another; only a verified attempt is kept."""

    def __init__(self, ctx: CallContext, verify: Literal["full", "directory"] = "full") -> None:
        self.ctx = ctx
        self.verify_mode = verify
        self._reset_counters()

    @staticmethod
    def for_target(
        target: str | os.PathLike[str] | BinaryIO,
        ctx: CallContext,
        verify: Literal["full", "directory"] = "full",
    ) -> ArchiveSink:
        if isinstance(target, str | os.PathLike):
            return PathSink(Path(target), ctx, verify)
        if not hasattr(target, "write"):
            kind = type(target).__name__
            raise TypeError(f"download sink must be a path or a binary file object, got {kind}")
        return StreamSink(target, ctx, verify)

    def _reset_counters(self) -> None:
        self.size = 0
        self._hash = hashlib.sha256()
        self._head = b""
        self._tail = b""

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    @property
    def path(self) -> Path | None:
        return None

    def begin(self, attempt: int) -> None:
        """Start attempt ``attempt`` (1-based), discarding whatever an earlier attempt wrote."""
        self._reset_counters()

    def write(self, chunk: bytes) -> None:
        if not chunk:
            return
        if len(self._head) < 4:
            self._head += chunk[: 4 - len(self._head)]
            if len(self._head) == 4 and self._head not in ZIP_SIGNATURES:
                raise self._corrupt(f"body does not start with a zip signature (starts {self._head!r})")
        self._hash.update(chunk)
        self._tail = (self._tail + chunk)[-TAIL_BYTES:]
        self.size += len(chunk)
        self._write(chunk)

    @property
    def can_restart(self) -> bool:
        """Whether a failed attempt can be discarded and the download started again."""
        return True

    @abc.abstractmethod
    def _write(self, chunk: bytes) -> None:
        """Put ``chunk`` where the archive goes."""

    def finish(self, expected_bytes: int | None, received_bytes: int) -> None:
        """Check completeness and the zip structure of the attempt just streamed."""
        if expected_bytes is not None and received_bytes != expected_bytes:
            raise errors.build(
                errors.ArchiveTruncated,
                self.ctx,
                code=None,
                http_status=200,
                detail=f"received {received_bytes} of {expected_bytes} bytes announced by Content-Length",
            )
        if self.size < 22 or EOCD_SIGNATURE not in self._tail:
            raise errors.build(
                errors.ArchiveTruncated,
                self.ctx,
                code=None,
                http_status=200,
                detail=f"no end-of-central-directory record in the last bytes of {self.size} bytes",
            )
        self._verify_readback()

    @abc.abstractmethod
    def _verify_readback(self) -> None:
        """Re-read the written archive when the sink allows it."""

    def _check_zip(self, fileobj: BinaryIO) -> int:
        """The member count; every way the zip can fail to read is this user's ArchiveCorrupt.

        Verification reads the archive as normalization will (SafeZip: member names, duplicate
        names, declared sizes and ratios, then every member inflated under the same caps), so an
        archive accepted here is not refused later for a reason a retry could have fixed.
        """
        try:
            with SafeZip(fileobj) as archive:
                members = len(archive.members)
                if self.verify_mode == "full":
                    archive.verify()
        except ArchiveError as exc:
            raise self._corrupt(exc.problem) from None
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, ValueError) as exc:
            raise self._corrupt(f"not a readable zip: {type(exc).__name__}: {exc}") from None
        return members

    def _corrupt(self, detail: str) -> errors.TikTokError:
        return errors.build(errors.ArchiveCorrupt, self.ctx, code=None, http_status=200, detail=detail)

    @abc.abstractmethod
    def commit(self) -> None:
        """Make the verified attempt visible."""

    @abc.abstractmethod
    def abort(self) -> None:
        """Give up: remove anything partial that belongs to us."""


class PathSink(ArchiveSink):
    """Writes to ``<dir>/.<name>.<random>.part`` and renames onto ``target`` after verification."""

    def __init__(self, target: Path, ctx: CallContext, verify: Literal["full", "directory"]) -> None:
        super().__init__(ctx, verify)
        self.target = target
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
        self._tmp = Path(tmp)
        self._file: BinaryIO = os.fdopen(fd, "w+b")

    @property
    def path(self) -> Path | None:
        return self.target

    def begin(self, attempt: int) -> None:
        super().begin(attempt)
        self._file.seek(0)
        self._file.truncate()

    def _write(self, chunk: bytes) -> None:
        self._file.write(chunk)

    def _verify_readback(self) -> None:
        self._file.flush()
        self._file.seek(0)
        self._check_zip(self._file)

    def commit(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        os.replace(self._tmp, self.target)
        log.debug("archive committed path=%s bytes=%d", self.target, self.size)

    def abort(self) -> None:
        if not self._file.closed:
            self._file.close()
        with contextlib.suppress(FileNotFoundError):
            self._tmp.unlink()


class StreamSink(ArchiveSink):
    """Writes into a caller's binary file object from its current position.

    A seekable sink is rewound for a retry and, when also readable, re-read to verify the zip
    fully; otherwise only the streaming checks (signature, length, end record) apply and a failed
    attempt cannot be retried.
    """

    def __init__(self, sink: BinaryIO, ctx: CallContext, verify: Literal["full", "directory"]) -> None:
        super().__init__(ctx, verify)
        self.sink = sink
        self._seekable = _ask(sink, "seekable")
        self._readable = _ask(sink, "readable")
        self._start = sink.tell() if self._seekable else 0

    @property
    def can_restart(self) -> bool:
        return self._seekable

    def begin(self, attempt: int) -> None:
        super().begin(attempt)
        if attempt > 1:
            if not self._seekable:
                raise errors.build(
                    errors.ArchiveError,
                    self.ctx,
                    code=None,
                    http_status=None,
                    detail="the sink is not seekable, so a failed download cannot be restarted",
                )
            self.sink.seek(self._start)
            self.sink.truncate()

    def _write(self, chunk: bytes) -> None:
        self.sink.write(chunk)

    def _verify_readback(self) -> None:
        if not (self._seekable and self._readable):
            return
        self.sink.flush()
        end = self.sink.tell()
        self.sink.seek(self._start)
        try:
            self._check_zip(_Window(self.sink, self._start, end) if self._start else self.sink)
        finally:
            self.sink.seek(end)

    def commit(self) -> None:
        self.sink.flush()

    def abort(self) -> None:
        """Cut a seekable sink back to where the download started; others keep the partial bytes."""
        if self._seekable:
            with contextlib.suppress(OSError, ValueError):
                self.sink.seek(self._start)
                self.sink.truncate()


def _ask(obj: object, method: str) -> bool:
    probe = getattr(obj, method, None)
    if probe is None:
        return False
    try:
        return bool(probe())
    except (OSError, ValueError):
        return False


class _Window:
    """A read-only view of ``[start, end)`` of a file object, so zipfile sees only our bytes."""

    def __init__(self, fileobj: BinaryIO, start: int, end: int) -> None:
        self._f = fileobj
        self._start = start
        self._end = end
        self._pos = 0

    def seekable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: self._end - self._start}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def read(self, n: int = -1) -> bytes:
        remaining = self._end - self._start - self._pos
        if remaining <= 0:
            return b""
        n = remaining if n is None or n < 0 else min(n, remaining)
        self._f.seek(self._start + self._pos)
        data = self._f.read(n)
        self._pos += len(data)
        return data
