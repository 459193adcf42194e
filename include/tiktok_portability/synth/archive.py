"""write_archive: stream one synthetic export into a zip, deterministically.

The zip is always written as if to a non-seekable stream (data descriptors, ZIP64 local headers),
so the bytes are identical whether the sink is a file, a pipe or a socket, and nothing is held in
memory beyond one chunk. Member timestamps are the export's nominal time; member order is fixed.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from tiktok_portability.redact import fingerprint
from tiktok_portability.synth import json_layout, text_layout
from tiktok_portability.synth.errors import ArchiveRequestError
from tiktok_portability.synth.sections import included_sections
from tiktok_portability.synth.snapshot import SyntheticUser
from tiktok_portability.synth.spec import UserSpec

log = logging.getLogger(__name__)

FLUSH_CHARS = 1 << 16
DATA_FORMATS = ("json", "text")
LAYOUTS = ("full", "partial")


@dataclass(frozen=True)
class ArchiveInfo:
    """What write_archive produced: zip size, member paths (in order) and SHA-256 of the zip."""

    bytes_written: int
    members: list[str]
    sha256: str
    uncompressed_bytes: int = field(default=0, compare=False)


class _HashingSink:
    """Counts and hashes what passes through; offers tell() but not seek()."""

    def __init__(self, target: BinaryIO) -> None:
        self._target = target
        self._hash = hashlib.sha256()
        self.position = 0

    def write(self, data: bytes) -> int:
        view = memoryview(data)
        self._target.write(view)
        self._hash.update(view)
        self.position += len(view)
        return len(view)

    def tell(self) -> int:
        return self.position

    def flush(self) -> None:
        flush = getattr(self._target, "flush", None)
        if flush is not None:
            flush()

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def _write_member(
    zf: zipfile.ZipFile, name: str, date_time: tuple, chunks: Iterable[str], compresslevel: int
) -> int:
    info = zipfile.ZipInfo(name, date_time=date_time)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 3  # unix, whatever the host: keeps the bytes identical across platforms
    info.external_attr = 0o100644 << 16
    # An explicit ZipInfo carries its own level (the ZipFile default is not applied to it); the
    # slot is named _compresslevel up to Python 3.12 and compress_level from 3.13.
    setattr(info, "compress_level" if hasattr(info, "compress_level") else "_compresslevel", compresslevel)
    total = 0
    with zf.open(info, "w", force_zip64=True) as out:
        # Small chunks (JSON punctuation, keys) are batched; record chunks go straight through.
        buffer: list[str] = []
        size = 0
        for chunk in chunks:
            buffer.append(chunk)
            size += len(chunk)
            if size >= FLUSH_CHARS:
                data = "".join(buffer).encode() if len(buffer) > 1 else chunk.encode()
                buffer, size = [], 0
                out.write(data)
                total += len(data)
        data = "".join(buffer).encode()
        out.write(data)
        total += len(data)
    return total


def write_archive(
    spec: UserSpec,
    version: int,
    data_format: str = "json",
    categories: Iterable[str] = ("all_data",),
    sink: str | os.PathLike[str] | BinaryIO | None = None,
    *,
    compresslevel: int = 6,
    layout: str = "full",
) -> ArchiveInfo:
    """Write the export of ``version`` for ``spec`` as a zip into ``sink`` (path or binary file).

    Same arguments -> byte-identical zip. ``categories`` follow the API (``all_data`` wins).
    ``layout="partial"`` places JSON sections where real single-category exports do (comments in
    Activity, follow lists under Profile); the data is the same.
    """
    if layout not in LAYOUTS:
        raise ArchiveRequestError(f"layout={layout!r} is not one of {', '.join(LAYOUTS)}")
    if data_format not in DATA_FORMATS:
        raise ArchiveRequestError(f"data_format={data_format!r} is not one of {', '.join(DATA_FORMATS)}")
    if sink is None:
        raise ArchiveRequestError("write_archive needs a sink: a path or a binary file object")
    categories = list(categories)
    sections = included_sections(categories)
    snap = SyntheticUser(spec).snapshot(version)
    started = time.perf_counter()
    if isinstance(sink, str | os.PathLike):
        with open(sink, "wb") as fh:
            info = _write(snap, data_format, sections, fh, compresslevel, layout)
    else:
        info = _write(snap, data_format, sections, sink, compresslevel, layout)
    log.info(
        "synthetic archive written open_id_fp=%s version=%d format=%s categories=%s bytes=%d raw_bytes=%d "
        "seconds=%.3f",
        fingerprint(spec.open_id),
        version,
        data_format,
        ",".join(categories),
        info.bytes_written,
        info.uncompressed_bytes,
        time.perf_counter() - started,
    )
    return info


def _write(
    snap, data_format: str, sections: frozenset[str], target: BinaryIO, compresslevel: int, layout: str
) -> ArchiveInfo:
    sink = _HashingSink(target)
    date_time = time.gmtime(snap.export_ts)[:6]
    member_chunks: list[tuple[str, Iterator[str] | Iterable[str]]]
    if data_format == "json":
        name = json_layout.member_name(snap.spec.generation, snap.export_ts)
        member_chunks = [(name, json_layout.emit(json_layout.document(snap, sections, layout)))]
    else:
        member_chunks = [
            (n, make()) for n, make in text_layout.members(snap, snap.spec.txt_variant, sections)
        ]
    raw = 0
    names: list[str] = []
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=compresslevel) as zf:  # type: ignore[arg-type]
        for name, chunks in member_chunks:
            raw += _write_member(zf, name, date_time, chunks, compresslevel)
            names.append(name)
    sink.flush()
    return ArchiveInfo(
        bytes_written=sink.position, members=names, sha256=sink.hexdigest(), uncompressed_bytes=raw
    )
