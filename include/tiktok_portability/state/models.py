"""Values the store returns: plain dataclasses, tokens as Secret so a repr never leaks them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from tiktok_portability.redact import Secret, fingerprint

# ineligible: TikTok serves no data for the account (outside the EEA/UK). A re-consent keeps it
# parked (consent does not change the account's region); ``grants reactivate`` un-parks it.
GrantStatus = Literal["active", "needs_reauth", "revoked", "erased", "ineligible"]
GRANT_STATUSES: tuple[str, ...] = ("active", "needs_reauth", "revoked", "erased", "ineligible")


@dataclass(frozen=True)
class Grant:
    open_id: str
    scopes: list[str]
    status: str
    status_reason: str | None
    access_token: Secret | None
    access_expires_at: datetime | None
    refresh_token: Secret | None
    refresh_expires_at: datetime | None
    token_type: str | None
    refresh_started_at: datetime | None
    last_refreshed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    data_format: str | None = None
    consented_at: datetime | None = None
    # Set on the grant a refresh_lock yields: the lease's fencing token and when it ends.
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None

    @property
    def is_active(self) -> bool:
        return self.status == "active"

    @property
    def refresh_in_progress(self) -> bool:
        """A refresh call was started and its outcome never committed (crash or unknown outcome)."""
        return self.refresh_started_at is not None

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.open_id)


@dataclass(frozen=True)
class Transfer:
    id: int
    open_id: str
    run_id: str
    batch: int | None
    categories: list[str]
    data_format: str
    request_id: int | None
    status: str
    attempts: int
    failure_reason: str | None
    raw_location: str | None
    raw_size: int | None
    raw_sha256: str | None
    requested_at: datetime | None
    ready_at: datetime | None
    downloaded_at: datetime | None
    normalized_at: datetime | None
    failed_at: datetime | None
    expired_at: datetime | None
    cancelled_at: datetime | None
    created_at: datetime
    updated_at: datetime
    # Records the normalizer kept in other_records and records that failed to parse, by section.
    normalize_counts: dict[str, dict[str, int]] | None = None


@dataclass(frozen=True)
class WebhookOutcome:
    """What record_webhook_event did: ``first_time`` is False for a repeated delivery.

    ``reason`` names why a delivery changed nothing (``duplicate``, ``unknown_request``, ...; see
    ``store.WEBHOOK_IGNORED_REASONS``), None when it was applied.
    """

    first_time: bool
    event: str
    applied: bool
    transfer_id: int | None = None
    detail: str = ""
    reason: str | None = None

    def __bool__(self) -> bool:
        return self.first_time


@dataclass(frozen=True)
class QuotaDecision:
    """One attempt to take a slot: granted, or how long to wait before the next attempt."""

    granted: bool
    wait_s: float = 0.0
    paused: bool = False
    granted_at: float | None = None


@dataclass(frozen=True)
class GrantImportRow:
    """One user's tokens for bulk onboarding (CSV/JSON import)."""

    open_id: str
    scopes: list[str]
    access_token: Secret
    expires_at: datetime
    refresh_token: Secret
    refresh_expires_at: datetime
    token_type: str = "Bearer"  # noqa: S105 (an OAuth token type name, not a secret)
    data_format: str | None = None
