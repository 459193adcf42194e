"""The data lake: raw zone, incremental Parquet tables, atomic commits, reprocess and erasure."""

from __future__ import annotations

from tiktok_portability.lake.errors import (
    ChecksumMismatch,
    CommitError,
    ImmutableObjectError,
    InvalidIdentifier,
    InvalidLakeUri,
    LakeError,
    RawZoneError,
    StorageError,
)
from tiktok_portability.lake.lake import Lake, summarize
from tiktok_portability.lake.raw import RawArchiveRef, RawZone
from tiktok_portability.lake.results import ArchiveFailure, BatchResult, ErasureRecord

__all__ = [
    "ArchiveFailure",
    "BatchResult",
    "ChecksumMismatch",
    "CommitError",
    "ErasureRecord",
    "ImmutableObjectError",
    "InvalidIdentifier",
    "InvalidLakeUri",
    "Lake",
    "LakeError",
    "RawArchiveRef",
    "RawZone",
    "RawZoneError",
    "StorageError",
    "summarize",
]
