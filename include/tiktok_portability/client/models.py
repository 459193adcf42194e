"""Typed results of the client's calls."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tiktok_portability import clock
from tiktok_portability.redact import Secret, fingerprint
from tiktok_portability.scopes import split_scopes

#: Check Status values (``downloading`` is TikTok's name for "ready to download").
PENDING = "pending"
DOWNLOADING = "downloading"
EXPIRED = "expired"
CANCELLED = "cancelled"
STATUSES = (PENDING, DOWNLOADING, EXPIRED, CANCELLED)


@dataclass(frozen=True, repr=False)
class TokenSet:
    """A user's token pair as returned by ``/v2/oauth/token/``, with absolute expiry times.

    Refresh tokens rotate: persist a new TokenSet before using its access token.
    """

    open_id: str
    scopes: list[str]
    access_token: Secret
    expires_at: datetime
    refresh_token: Secret
    refresh_expires_at: datetime
    token_type: str = "Bearer"  # noqa: S105 - the OAuth token type name

    @classmethod
    def from_response(cls, body: dict[str, Any], now: datetime | None = None) -> TokenSet:
        """Build from the token endpoint's JSON body; expiry is counted from ``clock.utcnow()``."""
        issued = now or clock.utcnow()
        return cls(
            open_id=str(body["open_id"]),
            scopes=split_scopes(body.get("scope") or ""),
            access_token=Secret(body["access_token"]),
            expires_at=issued + timedelta(seconds=int(body["expires_in"])),
            refresh_token=Secret(body["refresh_token"]),
            refresh_expires_at=issued + timedelta(seconds=int(body["refresh_expires_in"])),
            token_type=str(body.get("token_type") or "Bearer"),
        )

    def access_expires_within(self, seconds: float, now: datetime | None = None) -> bool:
        """True when the access token is expired or expires within ``seconds``."""
        return self.expires_at <= (now or clock.utcnow()) + timedelta(seconds=seconds)

    def __repr__(self) -> str:
        return (
            f"TokenSet(open_id=<{fingerprint(self.open_id)}>, scopes={self.scopes!r}, "
            f"access_token=***, expires_at={self.expires_at.isoformat()}, refresh_token=***, "
            f"refresh_expires_at={self.refresh_expires_at.isoformat()}, token_type={self.token_type!r})"
        )


def _timestamp(value: Any) -> datetime | None:
    if value in (None, "", 0):
        return None
    return datetime.fromtimestamp(int(value), tz=UTC)


@dataclass(frozen=True)
class UserInfo:
    """Login Kit's user info: the account's open_id and display name (``user.info.basic``)."""

    open_id: str | None
    display_name: str | None

    def __repr__(self) -> str:
        return f"UserInfo(open_id={fingerprint(self.open_id) if self.open_id else None})"

    @classmethod
    def from_response(cls, data: dict[str, Any]) -> UserInfo:
        user = data.get("user") if isinstance(data.get("user"), dict) else {}
        name = user.get("display_name")
        open_id = user.get("open_id")
        return cls(
            open_id=str(open_id) if open_id else None,
            display_name=str(name).strip()[:200] or None if isinstance(name, str) else None,
        )


@dataclass(frozen=True)
class RequestStatus:
    """The Check Status answer for one data request."""

    request_id: int
    status: str
    apply_time: datetime | None = None
    collect_time: datetime | None = None
    data_format: str | None = None
    categories: list[str] = field(default_factory=list)

    @property
    def is_ready(self) -> bool:
        return self.status == DOWNLOADING

    @property
    def is_final(self) -> bool:
        """Nothing more will happen to this request (it can no longer become downloadable)."""
        return self.status in (EXPIRED, CANCELLED)

    @classmethod
    def from_data(cls, request_id: int, data: dict[str, Any]) -> RequestStatus:
        returned_id = data.get("request_id", request_id)
        return cls(
            request_id=int(returned_id),
            status=str(data.get("status") or ""),
            apply_time=_timestamp(data.get("apply_time")),
            collect_time=_timestamp(data.get("collect_time")),
            data_format=data.get("data_format"),
            categories=list(data.get("category_selection_list") or []),
        )


@dataclass(frozen=True)
class DownloadResult:
    """A verified archive: where it went, its size and SHA-256 (hex) of the bytes written."""

    request_id: int
    size: int
    sha256: str
    content_type: str
    path: Path | None = None
    attempts: int = 1
