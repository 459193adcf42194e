"""Faults injected per run over ``/_admin/faults``: each fires for the next ``count`` matching calls."""

from __future__ import annotations

import threading
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

FaultKind = Literal[
    "rate_limit_burst",
    "server_error",
    "slow",
    "timeout",
    "drop_download",
    "truncate_zip",
    "corrupt_zip",
    "revoke_token",
    "expire_request",
    "lose_response",
    "oauth_error",
]

# Faults that only make sense on one endpoint apply there whatever filter the caller gave.
_ONLY_ON: dict[str, str] = {
    "drop_download": "download",
    "truncate_zip": "download",
    "corrupt_zip": "download",
}


class Fault(BaseModel):
    """One injected fault. ``count=None`` keeps it firing until ``DELETE /_admin/faults``."""

    model_config = ConfigDict(extra="forbid")

    kind: FaultKind
    count: int | None = Field(default=1, ge=1)
    endpoint: str | None = None
    open_id: str | None = None
    # slow / timeout: how long to hold the response (real seconds).
    delay_s: float | None = Field(default=None, ge=0)
    # server_error: the HTTP status (5xx) answered.
    status: int = Field(default=500, ge=500, le=599)
    # rate_limit_burst: a Retry-After value to send with the 429s (none by default).
    retry_after_s: int | None = Field(default=None, ge=0)
    # drop_download / truncate_zip: bytes of the archive sent before the cut (default: half).
    after_bytes: int | None = Field(default=None, ge=0)
    # revoke_token: the authorization.removed reason sent with the webhook.
    reason: int = Field(default=1, ge=0, le=5)
    # oauth_error: the OAuth envelope's error code and the HTTP status carrying it. TikTok's token
    # endpoint is known to answer errors with HTTP 200; temporarily_unavailable is RFC 6749's
    # "try again later" (the request was not acted on).
    error: str = Field(default="temporarily_unavailable", min_length=1, max_length=64)
    http_status: int = Field(default=200, ge=200, le=599)

    def matches(self, endpoint: str, open_id: str | None) -> bool:
        wanted_endpoint = _ONLY_ON.get(self.kind, self.endpoint)
        if wanted_endpoint is not None and wanted_endpoint != endpoint:
            return False
        if self.kind == "oauth_error" and not endpoint.startswith("oauth_"):
            return False
        return self.open_id is None or self.open_id == open_id


class FaultBook:
    """The active faults, consumed in the order they were injected (one fault fires per call)."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def take(self, endpoint: str, open_id: str | None, *, explicit_only: bool = False) -> Fault | None:
        """The first active fault matching the call (used up by one), or None."""
        with self._lock:
            for i, fault in enumerate(self._faults):
                if explicit_only and fault.endpoint != endpoint:
                    continue
                if fault.matches(endpoint, open_id):
                    if fault.count is not None:
                        remaining = fault.count - 1
                        if remaining <= 0:
                            del self._faults[i]
                        else:
                            self._faults[i] = fault.model_copy(update={"count": remaining})
                    return fault
        return None

    def active(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.model_dump() for f in self._faults]

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
