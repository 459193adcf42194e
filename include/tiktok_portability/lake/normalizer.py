"""The seam between the lake and the archive normalizer.

The lake needs two things from a normalizer: the table specs, and for one raw archive a stream
of ``(table_name, RecordBatch)`` plus a small summary (sections seen, records that failed to
parse). :class:`ArchiveNormalizer` is that seam; :class:`DefaultNormalizer` adapts
``tiktok_portability.normalize``. Tests and other callers may pass their own.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from datetime import date
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa

from tiktok_portability.lake.incremental import TableSpecLike
from tiktok_portability.lake.raw import RawArchiveRef


class ArchiveNormalizer(Protocol):
    specs: Mapping[str, TableSpecLike]

    def normalize(
        self, path: Path, ref: RawArchiveRef, summary: dict[str, Any]
    ) -> Iterator[tuple[str, pa.RecordBatch]]:
        """Yield the archive's batches; fill ``summary`` with JSON-friendly facts as it goes.

        ``summary["tables_present"]`` (optional) lists tables whose section exists in the archive
        even when it yielded no row; without it, a table counts as present when a batch came.
        On entry ``summary["lake_user_name"]`` holds the user name of the user's latest profile
        in the lake (or None): an export without a profile takes message direction from it.
        """
        ...


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _plain(dataclasses.asdict(value))
    if hasattr(value, "model_dump"):
        return _plain(value.model_dump())
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [_plain(v) for v in value]
        return sorted(items, key=str) if isinstance(value, set | frozenset) else items
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


class DefaultNormalizer:
    """``tiktok_portability.normalize.normalize_archive`` behind the :class:`ArchiveNormalizer` seam."""

    def __init__(self, batch_rows: int = 65_536) -> None:
        from tiktok_portability import normalize  # the lake imports the normalizer only when used

        self._mod = normalize
        tables = normalize.TABLES
        specs = tables.values() if isinstance(tables, Mapping) else tables
        self.specs: dict[str, TableSpecLike] = {spec.name: spec for spec in specs}
        self.batch_rows = batch_rows

    def normalize(
        self, path: Path, ref: RawArchiveRef, summary: dict[str, Any]
    ) -> Iterator[tuple[str, pa.RecordBatch]]:
        ctx = self._mod.NormalizeContext(
            open_id=ref.open_id,
            request_id=ref.request_id,
            snapshot_date=date.fromisoformat(ref.snapshot_date),
            known_user_name=summary.get("lake_user_name"),
        )
        report = self._mod.NormalizeReport()
        try:
            yield from self._mod.normalize_archive(path, ctx, report=report, batch_rows=self.batch_rows)
        finally:
            summary.update(compact_report(report))


# Enough to name what went wrong without turning a batch result into a copy of the archive.
MAX_REPORTED_ERRORS = 20


def compact_report(report: Any) -> dict[str, Any]:
    """The facts of a NormalizeReport a batch result carries; full detail is in ``sections_seen``."""
    sections = getattr(report, "sections", None) or []
    errors = getattr(report, "record_errors", None) or []
    return {
        "format": getattr(report, "format", None),
        "generation": getattr(report, "generation", None),
        "member": getattr(report, "member", None),
        "sections_seen": len(sections),
        # Tables whose section exists in the archive, even with no record: an empty follower
        # list means "nobody follows", a missing one means "not exported".
        "tables_present": sorted({s.table_name for s in sections if s.mapped and s.table_name}),
        "unmapped_sections": sorted({s.path for s in sections if not s.mapped}),
        "record_error_count": getattr(report, "record_error_count", len(errors)),
        "repeated_document_at": getattr(report, "repeated_document_at", None),
        "user_name_source": getattr(report, "user_name_source", None),
        "record_errors": [_plain(e) for e in errors[:MAX_REPORTED_ERRORS]],
        # By section: what a new layout looks like the first night it appears.
        "record_errors_by_section": dict(
            sorted((getattr(report, "record_errors_by_section", None) or {}).items())
        ),
        "other_records": dict(sorted((getattr(report, "other_records", None) or {}).items())),
    }
