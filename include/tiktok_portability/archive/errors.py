"""Errors raised while opening and reading an export archive.

Every message names the archive (its file name, or ``<stream>`` for a file object) and what is
wrong with it, so an operator can tell a corrupt download from a hostile one without a debugger.
"""

from __future__ import annotations


class ArchiveError(Exception):
    """An export archive cannot be read; nothing from it should be published."""

    def __init__(self, archive: str, problem: str) -> None:
        super().__init__(f"archive {archive!r}: {problem}")
        self.archive = archive
        self.problem = problem


class NotAZipError(ArchiveError):
    """The input is not a zip file at all."""


class TruncatedArchiveError(ArchiveError):
    """The input starts like a zip but ends early (an interrupted download)."""


class CorruptArchiveError(ArchiveError):
    """A member fails to decompress or its checksum does not match."""


class UnsafeMemberError(ArchiveError):
    """A member name would escape an extraction directory (zip-slip) or is otherwise unsafe."""


class ArchiveTooLargeError(ArchiveError):
    """Declared or actual decompressed sizes exceed the limits (a zip bomb or a runaway export)."""


class EncodingError(ArchiveError):
    """A member is not valid UTF-8."""


class ValueTooLargeError(ArchiveError):
    """One value is longer than ``ArchiveLimits.max_value_bytes`` (memory is bounded per value)."""


class MalformedJSONError(ArchiveError):
    """The JSON member is not well-formed JSON."""


class NoExportDataError(ArchiveError):
    """The zip holds neither a TikTok JSON export nor TXT export files."""
