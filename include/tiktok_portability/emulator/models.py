"""The emulator's in-memory records: users, their grant, tokens, codes and data requests."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

RequestStatus = Literal["pending", "downloading", "expired", "cancelled"]
IN_FLIGHT: frozenset[str] = frozenset({"pending", "downloading"})


@dataclass
class User:
    open_id: str
    region: str
    generation: str
    txt_variant: str
    size: str
    seed: int
    target_bytes: int | None
    scopes: list[str]  # what the user's current grant holds (single scopes leave it once used)
    authorized: bool = True
    ready_count: int = 0  # how many of this user's requests reached ``downloading``
    request_ids: list[int] = field(default_factory=list)
    display_name: str | None = None  # what user.info.basic reveals

    def public(self) -> dict[str, Any]:
        return {
            "open_id": self.open_id,
            "display_name": self.display_name,
            "region": self.region,
            "generation": self.generation,
            "txt_variant": self.txt_variant,
            "size": self.size,
            "seed": self.seed,
            "target_bytes": self.target_bytes,
            "scopes": list(self.scopes),
            "authorized": self.authorized,
            "ready_count": self.ready_count,
        }


@dataclass
class Token:
    value: str
    kind: Literal["access", "refresh"]
    open_id: str
    expires_at: float
    revoked: bool = False

    def live(self, now: float) -> bool:
        return not self.revoked and now < self.expires_at


@dataclass
class AuthCode:
    value: str
    open_id: str
    redirect_uri: str
    scopes: list[str]
    expires_at: float
    used: bool = False


@dataclass
class DataRequest:
    request_id: int
    open_id: str
    data_format: str
    categories: list[str]
    scopes_used: list[str]
    apply_time: int
    collect_time: int
    ready_at: float
    status: RequestStatus = "pending"
    ready_time: float | None = None
    version: int | None = None  # the user's data version its archive holds, set when ready
    downloaded: bool = False  # one complete download happened
    empty: bool = False  # served as an archive with no data (ineligible region, empty_archive mode)

    def in_flight(self) -> bool:
        """Blocks a new ongoing request: pending, or ready and not yet downloaded in full."""
        return self.status == "pending" or (self.status == "downloading" and not self.downloaded)

    def public(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "open_id": self.open_id,
            "data_format": self.data_format,
            "categories": list(self.categories),
            "scopes_used": list(self.scopes_used),
            "apply_time": self.apply_time,
            "collect_time": self.collect_time,
            "ready_at": self.ready_at,
            "ready_time": self.ready_time,
            "status": self.status,
            "version": self.version,
            "downloaded": self.downloaded,
        }
