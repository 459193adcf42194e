"""The transfer lifecycle: which status may follow which, and the timestamp each step sets.

requested -> ready -> downloaded -> normalized is the happy path. Any unfinished transfer may fail
(with a reason). ``failed`` is re-openable because Ops clear and re-run failed tasks: a re-run that
finds the export still downloadable moves it to ``ready`` or, when the raw archive already landed,
``downloaded``. ``expired`` (TikTok's four-day window passed) and ``cancelled`` are final: the next
night requests a fresh export as a new transfer. ``normalized`` is final; reprocessing a past date
reads the raw zone and never changes the transfer.
"""

from __future__ import annotations

from typing import Literal

TransferStatus = Literal["requested", "ready", "downloaded", "normalized", "failed", "expired", "cancelled"]
TRANSFER_STATUSES: tuple[str, ...] = (
    "requested",
    "ready",
    "downloaded",
    "normalized",
    "failed",
    "expired",
    "cancelled",
)
IN_FLIGHT: tuple[str, ...] = ("requested", "ready")
FINAL: tuple[str, ...] = ("normalized", "expired", "cancelled")

ALLOWED: dict[str, frozenset[str]] = {
    "requested": frozenset({"ready", "failed", "expired", "cancelled"}),
    "ready": frozenset({"downloaded", "failed", "expired", "cancelled"}),
    "downloaded": frozenset({"normalized", "failed"}),
    "normalized": frozenset(),
    "failed": frozenset({"ready", "downloaded", "expired", "cancelled"}),
    "expired": frozenset(),
    "cancelled": frozenset(),
}

TIMESTAMP_COLUMN: dict[str, str] = {status: f"{status}_at" for status in TRANSFER_STATUSES}


def is_allowed(from_status: str, to_status: str) -> bool:
    """True when the table allows the step. Re-applying the current status is handled by the store."""
    return to_status in ALLOWED.get(from_status, frozenset())
