"""Export times and fast timestamp formatting.

Export ``v`` has the nominal time ``BASE_EXPORT_TIME + v days`` (export 1 is 2026-01-02 00:00:00
UTC); every event new in export ``v`` lies in the day before it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache

BASE_EXPORT_TS = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp())
DAY_S = 86_400


def export_ts(version: int) -> int:
    """Unix seconds of export ``version``'s nominal time."""
    return BASE_EXPORT_TS + version * DAY_S


def to_datetime(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


@cache
def _time_of_day() -> tuple[str, ...]:
    return tuple(f"{h:02d}:{m:02d}:{s:02d}" for h in range(24) for m in range(60) for s in range(60))


class _DayPrefixes(dict):
    """``day number -> "YYYY-MM-DD "``, filled on first use."""

    def __missing__(self, day: int) -> str:
        value = self[day] = to_datetime(day * DAY_S).strftime("%Y-%m-%d ")
        return value


class TimestampFormatter:
    """``ts -> "YYYY-MM-DD HH:MM:SS"`` (plus an optional suffix), cached per day.

    strftime costs about a microsecond; writing millions of records needs far less. Hot loops
    use ``days[ts // DAY_S] + tod[ts % DAY_S]`` directly (two subscripts, no call).
    """

    __slots__ = ("_suffix", "days", "tod")

    def __init__(self, suffix: str = "") -> None:
        self.days: dict[int, str] = _DayPrefixes()
        self.tod = _time_of_day()
        self._suffix = suffix

    def __call__(self, ts: int) -> str:
        return self.days[ts // DAY_S] + self.tod[ts % DAY_S] + self._suffix
