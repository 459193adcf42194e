"""Per-user outcomes of a sync step and the reason categories the run summary groups by.

A failure reason stored on a transfer is ``"<category>: <detail>"``; the summary counts by
category so Ops see "12 needs_reauth, 3 archive_corrupt" rather than 15 different messages.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from tiktok_portability.client.errors import (
    AddOutcomeUnknown,
    ArchiveError,
    AuthError,
    InvalidRequest,
    RateLimited,
    ScopeNotAuthorized,
    ServerError,
    TikTokError,
    TransportError,
)

# Reason categories (documented in docs/sync.md).
NEEDS_REAUTH = "needs_reauth"
GRANT_INACTIVE = "grant_inactive"
SCOPE_NOT_AUTHORIZED = "scope_not_authorized"
NO_CATEGORIES = "no_categories"
REQUEST_IN_FLIGHT = "request_in_flight"
ADD_OUTCOME_UNKNOWN = "add_outcome_unknown"
TOKEN_REFRESH_FAILED = "token_refresh_failed"  # noqa: S105 (a reason name)
RATE_LIMITED = "rate_limited"
SERVER_ERROR = "server_error"
TRANSPORT_ERROR = "transport_error"
INVALID_REQUEST = "invalid_request"
ARCHIVE_CORRUPT = "archive_corrupt"
DOWNLOAD_EXPIRED = "download_expired"
NORMALIZE_FAILED = "normalize_failed"
API_ERROR = "api_error"
# Expected outcomes, not failures of the pipeline: they do not count against max_failure_rate.
CONSENT_EXPIRED = "consent_expired"  # the refresh deadline fixed at consent passed
INELIGIBLE_REGION = "ineligible_region"  # TikTok serves no data for the account's region
EXPECTED = frozenset({CONSENT_EXPIRED, INELIGIBLE_REGION})

# Download failures worth another attempt while the export is still downloadable.
RETRYABLE_DOWNLOAD = frozenset({ARCHIVE_CORRUPT, SERVER_ERROR, TRANSPORT_ERROR, RATE_LIMITED})


def reason(category: str, detail: object = "") -> str:
    text = str(detail).strip()
    return f"{category}: {text}"[:1000] if text else category


def category_of(failure_reason: str | None) -> str:
    return (failure_reason or "unknown").split(":", 1)[0].strip() or "unknown"


# First match wins: the subclasses (ScopeNotAuthorized, AddOutcomeUnknown) come before their bases.
_CATEGORY_BY_ERROR: tuple[tuple[type[TikTokError], str], ...] = (
    (ScopeNotAuthorized, SCOPE_NOT_AUTHORIZED),
    (AddOutcomeUnknown, ADD_OUTCOME_UNKNOWN),
    (AuthError, NEEDS_REAUTH),
    (RateLimited, RATE_LIMITED),
    (ServerError, SERVER_ERROR),
    (TransportError, TRANSPORT_ERROR),
    (ArchiveError, ARCHIVE_CORRUPT),
    (InvalidRequest, INVALID_REQUEST),
)


def classify(exc: TikTokError) -> str:
    """The reason category for an API error that ends one user's step."""
    return next((category for kind, category in _CATEGORY_BY_ERROR if isinstance(exc, kind)), API_ERROR)


@dataclass
class StepReport:
    """What one step did for one batch: outcome counts and failures by category (no open_ids)."""

    step: str
    run_id: str
    batch: int
    outcomes: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    details: dict[str, Any] = field(default_factory=dict)

    def add(self, outcome: str, failure_reason: str | None = None) -> None:
        self.outcomes[outcome] += 1
        if failure_reason:
            self.failures[category_of(failure_reason)] += 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "run_id": self.run_id,
            "batch": self.batch,
            "outcomes": dict(sorted(self.outcomes.items())),
            "failures": dict(sorted(self.failures.items())),
            **self.details,
        }
