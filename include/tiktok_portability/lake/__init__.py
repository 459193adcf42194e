"""The data lake: raw zone, incremental Parquet tables, atomic commits, reprocess and erasure.

Names are imported on first use (PEP 562) so that importing a light submodule (the CLI,
the DAG files) does not pull in SQLAlchemy, pyarrow or httpx.
"""

from __future__ import annotations

from tiktok_portability._lazy import lazy_exports

__getattr__, __all__ = lazy_exports(
    __name__,
    globals(),
    {
        "tiktok_portability.lake.errors": (
            "ChecksumMismatch",
            "CommitError",
            "ImmutableObjectError",
            "InvalidIdentifier",
            "InvalidLakeUri",
            "LakeError",
            "RawDatePruned",
            "RawZoneError",
            "StorageError",
        ),
        "tiktok_portability.lake.lake": ("Lake",),
        "tiktok_portability.lake.raw": (
            "RawArchiveRef",
            "RawZone",
        ),
        "tiktok_portability.lake.retention": ("RetentionRecord",),
        "tiktok_portability.lake.results": (
            "ArchiveFailure",
            "BatchResult",
            "ErasureRecord",
            "summarize",
        ),
    },
)
