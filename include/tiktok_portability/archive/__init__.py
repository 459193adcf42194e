"""Reading export archives safely: zip checks, locating the export, streaming JSON and TXT."""

from __future__ import annotations

from tiktok_portability.archive.errors import (
    ArchiveError,
    ArchiveTooLargeError,
    CorruptArchiveError,
    EncodingError,
    MalformedJSONError,
    NoExportDataError,
    NotAZipError,
    TruncatedArchiveError,
    UnsafeMemberError,
)
from tiktok_portability.archive.json_stream import JsonStream
from tiktok_portability.archive.locate import ExportLayout, TxtFile, locate_export
from tiktok_portability.archive.safezip import ArchiveLimits, SafeZip

__all__ = [
    "ArchiveError",
    "ArchiveLimits",
    "ArchiveTooLargeError",
    "CorruptArchiveError",
    "EncodingError",
    "ExportLayout",
    "JsonStream",
    "MalformedJSONError",
    "NoExportDataError",
    "NotAZipError",
    "SafeZip",
    "TruncatedArchiveError",
    "TxtFile",
    "UnsafeMemberError",
    "locate_export",
]
