"""Open export zips defensively and read members as bounded streams.

We never extract to disk: members are read as streams, so zip-slip names cannot write anywhere,
but they still mark an archive as hostile and are rejected. Sizes are checked twice: the sizes the
central directory declares (cheap, before anything is read) and the bytes actually produced while
streaming (a lying header cannot get past the counter).
"""

from __future__ import annotations

import functools
import io
import logging
import os
import re
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from tiktok_portability.archive.errors import (
    ArchiveTooLargeError,
    CorruptArchiveError,
    EncodingError,
    NotAZipError,
    TruncatedArchiveError,
    UnsafeMemberError,
)
from tiktok_portability.background import ReadAhead

log = logging.getLogger(__name__)

_DRIVE = re.compile(r"^[A-Za-z]:")
_GIB = 1 << 30
# Members at least this big are inflated on a read-ahead thread (zlib releases the GIL).
PREFETCH_MIN_BYTES = 16 << 20
# The default cap on one value (ArchiveLimits.max_value_bytes), shared by the TXT and JSON readers.
MAX_VALUE_BYTES = 16 << 20
# What a damaged member raises while it is read (zipfile's own checks).
_READ_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError)


@dataclass(frozen=True)
class ArchiveLimits:
    """Limits that make a zip bomb fail fast instead of filling memory or disk.

    Defaults leave room for the largest real exports (hundreds of MB of JSON, which compresses
    about 10-20x) while refusing the 1000x+ ratios that only crafted archives reach.
    """

    max_member_bytes: int = 8 * _GIB
    max_total_bytes: int = 16 * _GIB
    max_ratio: float = 200.0
    # Small members (a few KB) can legitimately have extreme ratios, e.g. a file of spaces.
    ratio_grace_bytes: int = 1 << 20
    max_members: int = 10_000
    # One value (a JSON list item or string; a TXT value with its continuation lines, counted in
    # characters) is held whole in memory: the cap keeps memory bounded whatever the archive
    # holds (real values are under 100 KB).
    max_value_bytes: int = MAX_VALUE_BYTES


def _archive_name(source: str | os.PathLike[str] | BinaryIO) -> str:
    if isinstance(source, (str, os.PathLike)):
        return Path(source).name
    name = getattr(source, "name", None)
    return Path(name).name if isinstance(name, str) else "<stream>"


def check_member_name(archive: str, name: str) -> None:
    """Reject member names that are absolute or climb out of the extraction root."""
    if not name or "\x00" in name:
        raise UnsafeMemberError(archive, f"member name {name!r} is empty or contains NUL")
    normalized = name.replace("\\", "/")
    if normalized.startswith("/") or _DRIVE.match(normalized):
        raise UnsafeMemberError(archive, f"member {name!r} has an absolute path")
    if ".." in PurePosixPath(normalized).parts:
        raise UnsafeMemberError(archive, f"member {name!r} climbs out of the archive root with '..'")


class _ChunkStream(io.RawIOBase):
    """A raw stream whose ``read`` hands over whole chunks; ``readinto`` is built on it."""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        return n


class _BoundedReader(_ChunkStream):
    """Counts the bytes a member really decompresses to and stops at the limits."""

    def __init__(self, inner: BinaryIO, archive: str, member: zipfile.ZipInfo, limits: ArchiveLimits):
        self._inner = inner
        self._archive = archive
        self._member = member
        self._limit = min(
            limits.max_member_bytes,
            max(limits.ratio_grace_bytes, int(member.compress_size * limits.max_ratio)),
        )
        self.bytes_read = 0

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` inflated bytes as zipfile produced them (no copy; at most one
        inflating step, so a chunk is never glued together from pieces)."""
        try:
            data = self._inner.read1(size) if size > 0 else self._inner.read()
        except _READ_ERRORS as exc:
            raise CorruptArchiveError(
                self._archive, f"member {self._member.filename!r} is corrupt: {exc}"
            ) from exc
        self.bytes_read += len(data)
        if self.bytes_read > self._limit:
            raise ArchiveTooLargeError(
                self._archive,
                f"member {self._member.filename!r} decompresses past {self._limit} bytes "
                f"({self._member.compress_size} compressed): refusing a possible zip bomb",
            )
        return data

    def close(self) -> None:
        self._inner.close()
        super().close()


class _ReadAhead(_ChunkStream):
    """Reads ``inner`` on a background thread, ``depth`` chunks ahead of the consumer.

    Inflating and checking the CRC of a big member costs ~0.2 s per 100 MB; on a thread it runs
    while the consumer decodes the previous chunks. Errors reach the consumer at the point in the
    stream where they happened.
    """

    def __init__(self, inner: BinaryIO, chunk: int, depth: int = 4) -> None:
        self._inner = inner
        self._chunks: ReadAhead[bytes] = ReadAhead(
            lambda: iter(functools.partial(inner.read, chunk), b""), depth=depth, name="zip-read-ahead"
        )
        self._rest = memoryview(b"")

    def read(self, size: int = -1) -> bytes:
        """The next chunk as the read-ahead thread produced it when it fits in ``size`` (no
        copy: a big member used to be copied twice more on its way to the JSON reader)."""
        if not self._rest:
            chunk = next(self._chunks, b"")
            if size < 0 or len(chunk) <= size:
                return chunk
            self._rest = memoryview(chunk)
        n = len(self._rest) if size < 0 else min(size, len(self._rest))
        data = self._rest[:n].tobytes()
        self._rest = self._rest[n:]
        return data

    def close(self) -> None:
        if not self.closed:
            self._chunks.close()
            self._inner.close()
        super().close()


class SafeZip:
    """A zip archive opened for reading with name and size checks applied up front.

    ``source`` is a path or a seekable binary file object. Construction raises an
    :class:`ArchiveError` subclass if the archive is not a zip, is truncated, has unsafe member
    names or declares sizes beyond ``limits``.
    """

    def __init__(self, source: str | os.PathLike[str] | BinaryIO, limits: ArchiveLimits | None = None):
        self.name = _archive_name(source)
        self.limits = limits or ArchiveLimits()
        try:
            self._zip = zipfile.ZipFile(source)
        except zipfile.BadZipFile as exc:
            raise self._classify_bad_zip(source, exc) from exc
        except UnicodeDecodeError as exc:
            # zipfile decodes a name flagged UTF-8 (bit 11) while reading the directory.
            raise EncodingError(
                self.name, f"member name {bytes(exc.object)!r} is flagged UTF-8 but is not valid UTF-8"
            ) from None
        except (OSError, EOFError, ValueError) as exc:
            raise TruncatedArchiveError(self.name, f"cannot read the zip directory: {exc}") from exc
        try:
            self._members = self._check_members()
        except Exception:
            self._zip.close()
            raise

    def _classify_bad_zip(self, source: str | os.PathLike[str] | BinaryIO, exc: Exception) -> Exception:
        head = b""
        try:
            if isinstance(source, (str, os.PathLike)):
                with open(source, "rb") as fh:
                    head = fh.read(4)
            else:
                source.seek(0)
                head = source.read(4)
        except OSError:
            head = b""
        if head.startswith(b"PK\x03\x04"):
            return TruncatedArchiveError(self.name, f"starts like a zip but has no readable end ({exc})")
        return NotAZipError(self.name, "is not a zip file")

    def _check_members(self) -> list[zipfile.ZipInfo]:
        infos = [i for i in self._zip.infolist() if not i.is_dir()]
        if len(infos) > self.limits.max_members:
            raise ArchiveTooLargeError(
                self.name, f"has {len(infos)} members (limit {self.limits.max_members})"
            )
        names = Counter(i.filename for i in infos)
        twice = sorted(n for n, count in names.items() if count > 1)
        if twice:
            # Which copy a reader gets depends on the library: refuse rather than guess.
            raise UnsafeMemberError(
                self.name, f"member name {twice[0]!r} appears {names[twice[0]]} times (ambiguous)"
            )
        total = 0
        for info in infos:
            check_member_name(self.name, info.filename)
            if info.file_size > self.limits.max_member_bytes:
                raise ArchiveTooLargeError(
                    self.name,
                    f"member {info.filename!r} declares {info.file_size} bytes "
                    f"(limit {self.limits.max_member_bytes})",
                )
            if (
                info.file_size > self.limits.ratio_grace_bytes
                and info.file_size > info.compress_size * self.limits.max_ratio
            ):
                raise ArchiveTooLargeError(
                    self.name,
                    f"member {info.filename!r} declares a compression ratio above "
                    f"{self.limits.max_ratio:g} ({info.file_size}/{info.compress_size} bytes)",
                )
            total += info.file_size
        if total > self.limits.max_total_bytes:
            raise ArchiveTooLargeError(
                self.name, f"declares {total} decompressed bytes in all (limit {self.limits.max_total_bytes})"
            )
        return infos

    @property
    def members(self) -> list[str]:
        """Names of the file members (directories left out), in archive order."""
        return [i.filename for i in self._members]

    def open(self, member: str, buffer_size: int = 1 << 20, *, buffered: bool = True) -> BinaryIO:
        """A stream of one member's decompressed bytes, bounded by the limits.

        ``buffered=False`` gives the raw stream, for a reader that only calls ``read(n)`` with
        big ``n`` (the JSON reader): its chunks arrive as inflated, without the copies a
        buffered reader makes.
        """
        info = self._zip.getinfo(member)
        try:
            inner = self._zip.open(info)
        except (zipfile.BadZipFile, NotImplementedError, RuntimeError) as exc:
            raise CorruptArchiveError(self.name, f"member {member!r} cannot be opened: {exc}") from exc
        bounded = _BoundedReader(inner, self.name, info, self.limits)
        stream: io.RawIOBase = bounded
        if info.file_size >= PREFETCH_MIN_BYTES:
            stream = _ReadAhead(bounded, buffer_size)
        return stream if not buffered else io.BufferedReader(stream, buffer_size)  # type: ignore[return-value]

    def verify(self, chunk: int = 1 << 20) -> None:
        """Inflate every member under the limits and check its CRC (zipfile checks it at the end)."""
        for info in self._members:
            with self.open(info.filename, buffered=False) as stream:
                while stream.read(chunk):
                    pass

    def iter_members(self) -> Iterator[zipfile.ZipInfo]:
        yield from self._members

    def close(self) -> None:
        self._zip.close()

    def __enter__(self) -> SafeZip:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
