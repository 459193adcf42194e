"""Every TikTok-surface call the emulator answered, for tests that count calls per minute or user."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class LogEntry:
    ts: float  # emulator clock, unix seconds
    endpoint: str  # add | check | cancel | download | oauth_token | oauth_revoke | authorize
    method: str
    open_id: str | None
    status: int
    error_code: str
    request_id: int | None
    fault: str | None = None


class RequestLog:
    def __init__(self, max_entries: int) -> None:
        self._entries: deque[LogEntry] = deque(maxlen=max_entries)
        self._lock = threading.Lock()

    def append(self, entry: LogEntry) -> None:
        with self._lock:
            self._entries.append(entry)

    def query(
        self, since: float | None = None, endpoint: str | None = None, open_id: str | None = None
    ) -> list[dict]:
        with self._lock:
            entries = list(self._entries)
        return [
            asdict(e)
            for e in entries
            if (since is None or e.ts >= since)
            and (endpoint is None or e.endpoint == endpoint)
            and (open_id is None or e.open_id == open_id)
        ]

    def reset(self, max_entries: int) -> None:
        with self._lock:
            self._entries = deque(maxlen=max_entries)


def busiest_window(timestamps: list[float], window_s: float) -> int:
    """The most calls inside any half-open window ``[t, t + window_s)`` sliding over the call times.

    What a per-window quota is checked against: a limiter that keeps every such window at or under
    the quota never triggers TikTok's 429, wherever TikTok's own window starts.
    """
    ts = sorted(timestamps)
    best, lo = 0, 0
    for hi, t in enumerate(ts):
        while ts[lo] <= t - window_s:
            lo += 1
        best = max(best, hi - lo + 1)
    return best
