"""Token refresh: single-flight per grant, new refresh token committed before the access token is used.

TikTok rotates refresh tokens: a successful refresh kills the old one. Two rules follow.

1. Single flight: only the holder of the grant's refresh lease (a row lock with an expiry in the
   state store, see ``StateStore.refresh_lock``) refreshes. A crashed holder's lease expires and
   is taken over.
2. Two-phase commit: before the call, ``begin_refresh`` flags the grant (``refresh_started_at``);
   after the response, ``complete_refresh`` writes the new pair and clears the flag in one
   transaction. Only then is the access token handed out.

Crash safety: if the process dies between the call and the commit, or the client reports
``RefreshOutcomeUnknown``, the flag stays. The next attempt sees it and tries the stored refresh
token once: if TikTok never acted, that works and nothing was lost; if TikTok had rotated it, the
stored token is rejected with ``invalid_grant`` and the grant becomes ``needs_reauth`` with reason
"refresh outcome lost" - visible and reported, never silently dropped.

Fencing: a holder's waits inside a refresh (quota, retry pauses) end before its lease does, and
what it writes about the grant's status is fenced by the lease (``mark_grant(lease_owner=...)``):
a worker whose lease was taken over (it hung past it) cannot mark a grant ``needs_reauth`` that
the new holder has refreshed meanwhile. The new token pair itself is always written: after a
rotation it is the only valid refresh token there is.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Container
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from tiktok_portability.client.errors import (
    AuthError,
    InvalidClient,
    InvalidGrant,
    OAuthError,
    RateLimited,
    RefreshOutcomeUnknown,
    TikTokError,
    TransportError,
)
from tiktok_portability.clock import utcnow
from tiktok_portability.redact import Secret, fingerprint
from tiktok_portability.state.errors import LeaseLost, LockNotAcquired
from tiktok_portability.state.models import Grant
from tiktok_portability.state.store import StateStore, TokenLike

log = logging.getLogger(__name__)

DEFAULT_HORIZON = timedelta(minutes=10)
CONSENT_EXPIRED = "consent_expired"
OUTCOME_LOST = "refresh outcome lost"
# A refresh's waits end this long (at most a quarter of the lease) before its lease does.
LEASE_MARGIN_S = 10.0
# OAuth error codes that mean the user's authorization itself is gone (not an app misconfiguration).
_USER_AUTH_CODES = frozenset({"invalid_grant", "access_denied", "invalid_scope"})


class RefreshingClient(Protocol):
    def refresh(
        self, refresh_token: Secret | str, *, open_id: str | None = None, deadline: float | None = None
    ) -> TokenLike: ...


class TokenError(Exception):
    """Base class for token errors."""


class GrantUnavailable(TokenError):
    """The grant is not active (needs_reauth, revoked, erased): it must not be synced."""

    def __init__(self, open_id: str, status: str, reason: str | None) -> None:
        self.open_id = open_id
        self.status = status
        self.reason = reason
        super().__init__(f"grant {fingerprint(open_id)} is {status}" + (f": {reason}" if reason else ""))


class ReauthRequired(GrantUnavailable):
    """The refresh was refused for good; the grant is now needs_reauth and the user must consent again."""


class RefreshFailed(TokenError):
    """A transient failure (network, 5xx, 429, unknown outcome); the grant stays active, retry later."""


class LeaseTakenOver(RefreshFailed):
    """This worker's refresh lease passed and another worker took the grant over: nothing written."""


def _lease_deadline(grant: Grant) -> float | None:
    """``time.monotonic()`` by which every wait of the refresh must end (a margin before the lease)."""
    if grant.lease_expires_at is None:
        return None
    remaining = (grant.lease_expires_at - utcnow()).total_seconds()
    return time.monotonic() + max(0.0, remaining - min(LEASE_MARGIN_S, remaining / 4))


@dataclass
class RefreshReport:
    """What refresh_expiring did, by open_id (report lists, not logs: callers fingerprint if logging)."""

    refreshed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    needs_reauth: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return {
            "refreshed": len(self.refreshed),
            "skipped": len(self.skipped),
            "needs_reauth": len(self.needs_reauth),
            "failed": len(self.failed),
        }


def _is_fresh(grant: Grant, horizon: timedelta, now: datetime) -> bool:
    return (
        grant.access_token is not None
        and grant.access_expires_at is not None
        and not grant.refresh_in_progress
        and grant.access_expires_at > now + horizon
    )


def _require_active(grant: Grant) -> None:
    if grant.status != "active":
        raise GrantUnavailable(grant.open_id, grant.status, grant.status_reason)


def _needs_reauth(store: StateStore, grant: Grant, reason: str) -> ReauthRequired:
    open_id = grant.open_id
    try:
        store.mark_grant(open_id, "needs_reauth", reason, lease_owner=grant.lease_owner)
    except LeaseLost as exc:
        raise LeaseTakenOver(f"refresh of grant {fingerprint(open_id)} lost its lease: {exc}") from exc
    log.warning("grant needs re-consent open_id=%s reason=%s", fingerprint(open_id), reason)
    return ReauthRequired(open_id, "needs_reauth", reason)


def _is_user_auth_error(exc: TikTokError) -> bool:
    if isinstance(exc, InvalidClient):
        return False  # the app's credentials are wrong: flagging every user would be wrong
    if isinstance(exc, InvalidGrant | AuthError):
        return True
    return isinstance(exc, OAuthError) and (exc.code or "") in _USER_AUTH_CODES


def _never_reached_server(exc: TikTokError) -> bool:
    return isinstance(exc, RateLimited | InvalidClient) or (
        isinstance(exc, TransportError) and not exc.request_sent
    )


def refresh_locked(store: StateStore, client: RefreshingClient, grant: Grant) -> Grant:
    """Refresh a grant whose lease the caller holds (two-phase; see the module docstring)."""
    open_id = grant.open_id
    now = utcnow()
    if grant.refresh_token is None:
        raise _needs_reauth(store, grant, "no refresh token stored")
    if grant.refresh_expires_at is not None and grant.refresh_expires_at <= now:
        # The deadline is fixed at consent (refresh_expires_in counts down): only a new consent
        # renews it. An expected end, reported apart from failures.
        deadline = grant.refresh_expires_at.isoformat(timespec="seconds")
        raise _needs_reauth(store, grant, f"{CONSENT_EXPIRED}: refresh deadline {deadline} passed")
    recovering = grant.refresh_in_progress
    if recovering:
        log.warning("recovering an unfinished refresh open_id=%s", fingerprint(open_id))
    store.begin_refresh(open_id)
    try:
        tokens = client.refresh(grant.refresh_token, open_id=open_id, deadline=_lease_deadline(grant))
    except RefreshOutcomeUnknown as exc:
        log.warning("refresh outcome unknown open_id=%s; flag kept", fingerprint(open_id))
        raise RefreshFailed(f"refresh of grant {fingerprint(open_id)} has an unknown outcome: {exc}") from exc
    except TikTokError as exc:
        if _is_user_auth_error(exc):
            code = exc.code or type(exc).__name__
            reason = f"{OUTCOME_LOST} ({code})" if recovering else f"refresh rejected: {code}"
            raise _needs_reauth(store, grant, reason) from exc
        if not recovering and _never_reached_server(exc):
            store.abort_refresh(open_id, lease_owner=grant.lease_owner)
        raise RefreshFailed(f"refresh of grant {fingerprint(open_id)} failed: {exc}") from exc
    fresh = store.complete_refresh(open_id, tokens, scopes=getattr(tokens, "scopes", None))
    log.info("grant refreshed open_id=%s expires_at=%s", fingerprint(open_id), fresh.access_expires_at)
    return fresh


def ensure_fresh(
    store: StateStore,
    client: RefreshingClient,
    open_id: str,
    horizon: timedelta = DEFAULT_HORIZON,
    *,
    lock_wait_s: float = 60.0,
    lease_s: float = 120.0,
) -> Secret:
    """An access token valid for at least ``horizon``, refreshing under the grant's lease if needed.

    Raises GrantUnavailable/ReauthRequired for grants that must be left out of the sync,
    RefreshFailed for transient failures and LockNotAcquired if another worker holds the lease
    longer than ``lock_wait_s``.
    """
    grant = store.get_grant(open_id)
    _require_active(grant)
    if _is_fresh(grant, horizon, utcnow()):
        return grant.access_token  # type: ignore[return-value]
    with store.refresh_lock(open_id, lease_s=lease_s, wait_s=lock_wait_s) as locked:
        _require_active(locked)
        # Another worker may have refreshed while we waited for the lease.
        if _is_fresh(locked, horizon, utcnow()):
            return locked.access_token  # type: ignore[return-value]
        fresh = refresh_locked(store, client, locked)
    if fresh.access_token is None or fresh.status != "active":
        raise GrantUnavailable(open_id, fresh.status, fresh.status_reason)
    return fresh.access_token


def refresh_expiring(
    store: StateStore,
    client: RefreshingClient,
    horizon: timedelta = timedelta(hours=1),
    limit: int = 1000,
    *,
    lease_s: float = 120.0,
    done: Container[str] = (),
) -> RefreshReport:
    """Refresh active grants expiring within ``horizon`` (and recover unfinished refreshes).

    Never waits for a lease: a grant another worker is refreshing is reported as skipped. Grants
    in ``done`` (handled earlier in the same run) are left alone and not reported.
    """
    report = RefreshReport()
    for grant in store.grants_expiring(utcnow() + horizon, limit=limit):
        open_id = grant.open_id
        if open_id in done:
            continue
        try:
            with store.refresh_lock(open_id, lease_s=lease_s, wait_s=0) as locked:
                if locked.status != "active" or _is_fresh(locked, horizon, utcnow()):
                    report.skipped.append(open_id)
                    continue
                refresh_locked(store, client, locked)
                report.refreshed.append(open_id)
        except (LockNotAcquired, LeaseTakenOver):
            report.skipped.append(open_id)
        except ReauthRequired as exc:
            report.needs_reauth[open_id] = exc.reason or ""
        except RefreshFailed as exc:
            report.failed[open_id] = str(exc)
    log.info("refresh_expiring done %s", " ".join(f"{k}={v}" for k, v in report.counts().items()))
    return report


def refresh_in_batches(
    store: StateStore,
    client: RefreshingClient,
    horizon: timedelta,
    batch_size: int = 500,
    max_batches: int = 200,
) -> dict[str, int]:
    """:func:`refresh_expiring` batch after batch until the due grants are done; the totals.

    A grant is handled at most once per call: with a horizon longer than the access token's
    lifetime (TikTok's are 2 hours) a refreshed grant is at once due again. Failed and skipped
    grants stay due (soonest first), so it stops when a batch comes back short (the due set is
    exhausted) or made no progress; the next scheduled run retries those.
    """
    totals = {"batches": 0, "refreshed": 0, "needs_reauth": 0, "failed": 0, "skipped": 0}
    done: set[str] = set()
    for _ in range(max_batches):
        report = refresh_expiring(store, client, horizon=horizon, limit=batch_size, done=done)
        done.update(report.refreshed, report.needs_reauth, report.failed)
        counts = report.counts()
        totals["batches"] += 1
        for name, count in counts.items():
            totals[name] += count
        if sum(counts.values()) < batch_size or counts["refreshed"] + counts["needs_reauth"] == 0:
            break
    log.info("token refresh done %s", " ".join(f"{k}={v}" for k, v in totals.items()))
    return totals
