"""Structured results of lake operations (plain dataclasses, JSON-friendly via ``to_dict``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from tiktok_portability.redact import fingerprint


@dataclass(frozen=True)
class ArchiveFailure:
    """An archive that was not loaded, and why. Nothing of it reached the tables."""

    open_id: str
    request_id: int
    key: str
    reason: str


@dataclass
class BatchResult:
    batch_id: str
    snapshot_date: str
    rows: dict[str, int] = field(default_factory=dict)
    """Rows written per table by this batch (after incremental filtering)."""
    loaded: list[int] = field(default_factory=list)
    """Request ids of the archives that loaded."""
    errors: list[ArchiveFailure] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    """Request ids superseded by a newer request of the same user in the same batch."""
    reports: dict[str, dict[str, Any]] = field(default_factory=dict)
    """The normalizer's summary per request id (sections_seen, records that failed to parse)."""
    files: list[str] = field(default_factory=list)
    rewritten: list[str] = field(default_factory=list)
    """Other batches' files rewritten because a user of this batch was re-synced."""
    later_dates_stale: list[str] = field(default_factory=list)
    """Later snapshot dates whose rows for a user of this batch were derived from the state this
    commit replaced (a past date rebuilt with different results): reprocess them, in order."""

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ErasureRecord:
    """The audit record of a GDPR erasure; holds a fingerprint, never the open_id itself."""

    erasure_id: str
    user_fingerprint: str
    requested_by: str
    started_at: str
    completed_at: str
    rows_deleted: dict[str, int]
    files_rewritten: int
    files_deleted: int
    raw_archives_deleted: int
    audit_key: str
    scope: str = "full_scan"
    """``ledger``: the batches the user's ledger names; ``full_scan``: every table file."""
    files_examined: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def summarize(results: Iterable[BatchResult]) -> dict[str, Any]:
    """A JSON-friendly roll-up of batch results (for the CLI and run manifests)."""
    results = list(results)
    rows: dict[str, int] = {}
    errors: list[dict] = []
    record_errors: list[dict] = []
    loaded = 0
    unmapped: set[str] = set()
    for res in results:
        loaded += len(res.loaded)
        errors.extend(
            {"user": fingerprint(e.open_id), "request_id": e.request_id, "key": e.key, "reason": e.reason}
            for e in res.errors
        )
        for table, n in res.rows.items():
            rows[table] = rows.get(table, 0) + n
        for request_id, report in sorted(res.reports.items()):
            unmapped.update(report.get("unmapped_sections") or [])
            record_errors.extend(
                {"request_id": int(request_id), **e}
                for e in report.get("record_errors") or []
                if isinstance(e, Mapping)
            )
    return {
        "archives_loaded": loaded,
        "archives_failed": len(errors),
        "rows": dict(sorted(rows.items())),
        "errors": errors,
        "records_not_parsed": record_errors,
        "unmapped_sections": sorted(unmapped),
        "later_dates_stale": sorted({d for res in results for d in res.later_dates_stale}),
    }
