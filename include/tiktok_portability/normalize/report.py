"""What one normalisation run is about and what it found."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import NamedTuple


@dataclass(frozen=True)
class NormalizeContext:
    """Lineage stamped on every row: whose export, which request, which nightly snapshot."""

    open_id: str
    request_id: int | None
    snapshot_date: dt.date
    # The user name of the user's latest profile already in the lake: an export without a
    # profile (a messages-only grant) takes its messages' direction from it.
    known_user_name: str | None = None


@dataclass(frozen=True)
class RecordError:
    """A record that could not be read as its table expects; the rest of the archive still loads."""

    path: str
    index: int | None
    reason: str


class SectionSeen(NamedTuple):
    """One section or key of an archive: where, what kind of node, and where it went.

    A named tuple, not a frozen dataclass: an archive reports hundreds and a frozen dataclass
    costs ~2 us each to make (a real share of a small archive's time).
    """

    member: str
    path: str
    node: str
    mapped: bool
    table_name: str | None
    records: int


@dataclass
class NormalizeReport:
    """Filled while :func:`normalize_archive` is iterated.

    ``record_errors`` keeps the first ``max_errors_kept`` errors; ``record_error_count`` counts all.
    """

    archive: str | None = None
    format: str | None = None
    member: str | None = None
    generation: str | None = None
    txt_variant: str | None = None
    rows: dict[str, int] = field(default_factory=dict)
    sections: list[SectionSeen] = field(default_factory=list)
    record_errors: list[RecordError] = field(default_factory=list)
    record_error_count: int = 0
    max_errors_kept: int = 1000
    # Per section: errors counted (all of them, unlike ``record_errors``), and records kept in
    # other_records because no typed table holds them. A new TikTok layout shows up here.
    record_errors_by_section: dict[str, int] = field(default_factory=dict)
    other_records: dict[str, int] = field(default_factory=dict)
    # NUL characters removed from TXT files (damaged exports); no value holds one.
    nul_chars_removed: int = 0
    # Byte offset of a second copy of the JSON document in its member (an export bug writes the
    # export twice): the first copy is loaded, the second ignored. None when there is none.
    repeated_document_at: int | None = None
    # Where the user name that gives messages their direction came from: "archive" (its
    # profile), "lake" (NormalizeContext.known_user_name), or None (neither: direction is null).
    user_name_source: str | None = None

    def add_rows(self, table: str, n: int) -> None:
        self.rows[table] = self.rows.get(table, 0) + n

    def add_error(self, path: str, index: int | None, reason: str) -> None:
        self.record_error_count += 1
        self.record_errors_by_section[path] = self.record_errors_by_section.get(path, 0) + 1
        if len(self.record_errors) < self.max_errors_kept:
            self.record_errors.append(RecordError(path, index, reason))

    @property
    def unmapped_sections(self) -> list[str]:
        return [s.path for s in self.sections if not s.mapped and s.node in ("list", "file", "object")]
