"""The pipeline's notion of "now".

Everything that compares against token expiry or the four-day download window asks this module,
so tests can move time forward (``TIKTOK_PORTABILITY_CLOCK_OFFSET_S``, seconds, may be negative)
together with the emulator's clock instead of sleeping. Production leaves the variable unset.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime

OFFSET_ENV = "TIKTOK_PORTABILITY_CLOCK_OFFSET_S"


def offset_s() -> float:
    raw = os.environ.get(OFFSET_ENV, "").strip()
    if not raw:
        return 0.0
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{OFFSET_ENV}={raw!r} is not a number of seconds") from None


def now_ts() -> float:
    """Unix seconds, with the test offset applied."""
    return time.time() + offset_s()


def utcnow() -> datetime:
    """Timezone-aware UTC now, with the test offset applied."""
    return datetime.fromtimestamp(now_ts(), tz=UTC)
