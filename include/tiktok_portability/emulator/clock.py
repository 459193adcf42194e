"""The emulator's clock: real time plus an offset that tests push forward instead of sleeping."""

from __future__ import annotations

import threading

from tiktok_portability import clock as pipeline_clock


class EmulatorClock:
    """Unix seconds; starts at the pipeline's clock (which honours its own test offset)."""

    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        return pipeline_clock.now_ts() + self._offset

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError(f"the emulator clock only moves forward; got seconds={seconds}")
        with self._lock:
            self._offset += seconds
        return self.now()

    @property
    def offset(self) -> float:
        return self._offset

    def reset(self) -> None:
        with self._lock:
            self._offset = 0.0
