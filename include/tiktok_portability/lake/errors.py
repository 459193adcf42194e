"""Errors raised by the lake: storage, raw zone, commits and erasure."""

from __future__ import annotations


class LakeError(Exception):
    """Base class of every lake error."""


class StorageError(LakeError):
    """A filesystem or object-store operation failed (names the URI and the operation)."""


class InvalidLakeUri(LakeError):
    """The lake URI is not ``file://``, a plain path or ``s3://bucket[/prefix]``."""


class InvalidIdentifier(LakeError):
    """An open_id, request id, snapshot date or batch id cannot be used to build a lake key."""


class RawZoneError(LakeError):
    """The raw zone refused or could not serve an archive."""


class ImmutableObjectError(RawZoneError):
    """An archive already exists under that key with different bytes; raw objects never change."""


class ChecksumMismatch(RawZoneError):
    """A raw archive's bytes no longer match the size/sha256 recorded in its manifest."""


class CommitError(LakeError):
    """A batch could not be staged or published; readers still see the previous files."""


class RawDatePruned(LakeError):
    """A rebuild from the raw zone was refused: raw retention deleted archives of these dates."""

    def __init__(self, message: str, dates: list[str]) -> None:
        super().__init__(message)
        self.dates = dates
