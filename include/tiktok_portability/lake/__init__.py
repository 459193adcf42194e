"""The data lake: raw zone, incremental Parquet tables, atomic commits, reprocess and erasure.

Names are imported on first use (PEP 562) so that importing a light submodule (the CLI,
the DAG files) does not pull in SQLAlchemy, pyarrow or httpx.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tiktok_portability._lazy import lazy_getattr

_EXPORTS: dict[str, str] = {
    "ChecksumMismatch": "tiktok_portability.lake.errors",
    "CommitError": "tiktok_portability.lake.errors",
    "ImmutableObjectError": "tiktok_portability.lake.errors",
    "InvalidIdentifier": "tiktok_portability.lake.errors",
    "InvalidLakeUri": "tiktok_portability.lake.errors",
    "LakeError": "tiktok_portability.lake.errors",
    "RawZoneError": "tiktok_portability.lake.errors",
    "StorageError": "tiktok_portability.lake.errors",
    "ArchiveFailure": "tiktok_portability.lake.results",
    "BatchResult": "tiktok_portability.lake.results",
    "ErasureRecord": "tiktok_portability.lake.results",
    "Lake": "tiktok_portability.lake.lake",
    "RawArchiveRef": "tiktok_portability.lake.raw",
    "RawZone": "tiktok_portability.lake.raw",
    "summarize": "tiktok_portability.lake.results",
}

if TYPE_CHECKING:
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
    from tiktok_portability.lake.lake import Lake
    from tiktok_portability.lake.raw import RawArchiveRef, RawZone
    from tiktok_portability.lake.results import ArchiveFailure, BatchResult, ErasureRecord, summarize

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


__getattr__ = lazy_getattr(__name__, _EXPORTS, globals())
