"""Normalise export archives into typed Arrow record batches, one table per entity.

from tiktok_portability.normalize import TABLES, NormalizeContext, NormalizeReport, normalize_archive
"""

from __future__ import annotations

from tiktok_portability.normalize.pipeline import normalize_archive
from tiktok_portability.normalize.report import NormalizeContext, NormalizeReport, RecordError, SectionSeen
from tiktok_portability.normalize.tables import TABLES, TableSpec

__all__ = [
    "TABLES",
    "NormalizeContext",
    "NormalizeReport",
    "RecordError",
    "SectionSeen",
    "TableSpec",
    "normalize_archive",
]
