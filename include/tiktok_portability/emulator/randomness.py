"""Unguessable tokens, codes and ids without a system call each.

``os.urandom`` costs tens of microseconds per call on a busy VM, and the emulator drew it for every
token, code and request id; it now draws 8 KiB at a time and hands out slices (same source).
"""

from __future__ import annotations

import base64
import os
import threading

_REFILL = 8192


class RandomPool:
    def __init__(self) -> None:
        self._buf = b""
        self._pos = 0
        self._lock = threading.Lock()

    def take(self, n: int) -> bytes:
        with self._lock:
            if self._pos + n > len(self._buf):
                self._buf, self._pos = os.urandom(max(_REFILL, n)), 0
            out = self._buf[self._pos : self._pos + n]
            self._pos += n
            return out

    def urlsafe(self, n: int) -> str:
        """Like ``secrets.token_urlsafe(n)``."""
        return base64.urlsafe_b64encode(self.take(n)).rstrip(b"=").decode("ascii")

    def hex(self, n: int) -> str:
        """Like ``secrets.token_hex(n)``."""
        return self.take(n).hex()

    def bits(self, k: int) -> int:
        """A uniform integer in [0, 2**k)."""
        return int.from_bytes(self.take((k + 7) // 8), "big") >> (-k % 8)


POOL = RandomPool()
