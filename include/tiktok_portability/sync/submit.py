"""Submit step: make sure each user of a batch has exactly one export request in flight.

For every user: a valid access token (single-flight refresh), then Add Data Request for the
categories their ongoing scopes allow, through the global limiter. A retried or cleared task finds
the transfer already recorded for this run (or one still in flight from an earlier night) and does
not submit again: TikTok allows one request in flight per user, and a second add would waste quota.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import exc as sa_exc

from tiktok_portability.client import TikTokClient
from tiktok_portability.client.errors import AuthError, InvalidRequest, ScopeNotAuthorized, TikTokError
from tiktok_portability.clock import utcnow
from tiktok_portability.eligibility import GRANT_STATUS, mentions_region
from tiktok_portability.redact import fingerprint
from tiktok_portability.runtime import SyncRuntime
from tiktok_portability.scopes import ongoing_categories
from tiktok_portability.state.models import Transfer
from tiktok_portability.sync import outcomes as oc
from tiktok_portability.sync.options import SyncOptions
from tiktok_portability.sync.readiness import latest_per_user
from tiktok_portability.sync.workers import map_users
from tiktok_portability.tokens import GrantUnavailable, ReauthRequired, RefreshFailed, ensure_fresh

if TYPE_CHECKING:
    from tiktok_portability.state import StateStore

log = logging.getLogger(__name__)

# How long an accepted add waits for the state store to come back before the task fails.
RECORD_ADD_WAIT_S = 120.0

# A token that TikTok rejects although we believed it valid (revoked mid-run, clock skew) gets
# one forced refresh: a horizon longer than any token lifetime makes ensure_fresh refresh.
_FORCE_REFRESH = timedelta(days=400)
# TikTok keeps a prepared export downloadable for four days (docs/tiktok-api.md, Download).
DOWNLOAD_WINDOW = timedelta(days=4)


def retry_download(t: Transfer) -> bool:
    """A failed download whose export is still inside TikTok's four-day window."""
    return (
        t.status == "failed"
        and t.request_id is not None
        and t.ready_at is not None
        and utcnow() - t.ready_at < DOWNLOAD_WINDOW
        and oc.category_of(t.failure_reason) in oc.RETRYABLE_DOWNLOAD
    )


def _add_answer_lost(t: Transfer) -> bool:
    """A failed add that may have created an export at TikTok we hold no request_id for."""
    return (
        t.status == "failed"
        and t.request_id is None
        and oc.category_of(t.failure_reason) in (oc.ADD_OUTCOME_UNKNOWN, oc.REQUEST_IN_FLIGHT)
    )


def _park_ineligible(store, open_id: str, why: str) -> tuple[str, str]:
    """Park the grant as ineligible (region); returns the failure's (category, detail)."""
    store.mark_grant(open_id, GRANT_STATUS, oc.reason(oc.INELIGIBLE_REGION, why))
    log.info("grant parked open_id=%s reason=%s", fingerprint(open_id), oc.INELIGIBLE_REGION)
    return oc.INELIGIBLE_REGION, why


def submit_batch(runtime: SyncRuntime, run_id: str, batch: int, options: SyncOptions) -> oc.StepReport:
    """Submit the batch's data requests; one user's failure is recorded, never raised."""
    report = oc.StepReport("submit", run_id, batch)
    store = runtime.store
    if options.reprocess_from_raw:
        report.details["mode"] = "reprocess_from_raw"
        return report
    members = store.batch_members(run_id, batch)
    if options.dry_run:
        report.outcomes["planned"] = len(members)
        report.details["mode"] = "dry_run"
        return report
    already = {t.open_id: t for t in latest_per_user(store.transfers_for_run(run_id, batch))}

    with runtime.client() as client:

        def one(open_id: str) -> tuple[str, str | None]:
            return _submit_user(runtime, client, run_id, batch, open_id, options, already.get(open_id))

        for outcome, failure in map_users(one, members, options.concurrency):
            report.add(outcome, failure)
    log.info("submit done run_id=%s batch=%d %s", run_id, batch, dict(report.outcomes))
    return report


def _submit_user(
    runtime: SyncRuntime,
    client: TikTokClient,
    run_id: str,
    batch: int,
    open_id: str,
    options: SyncOptions,
    existing: Transfer | None,
) -> tuple[str, str | None]:
    store = runtime.store
    if existing is not None and not (existing.status == "failed" and existing.request_id is None):
        return "already_submitted", None
    in_flight = store.in_flight_transfer(open_id)
    if in_flight is not None:
        # Still in flight from an earlier run (not ready by its deadline): this run takes it over.
        store.adopt_transfer(in_flight.id, run_id, batch)
        return "adopted", None
    previous = store.latest_transfer(open_id)
    if previous is not None and retry_download(previous):
        # Last night's download failed but TikTok still holds the export (and refuses a second
        # request while it does): download it again instead of requesting a new one.
        store.transition(previous.id, "ready")
        store.adopt_transfer(previous.id, run_id, batch)
        return "adopted", None

    grant = store.find_grant(open_id)
    if grant is None:
        return "skipped", oc.reason(oc.GRANT_INACTIVE, "no grant")
    categories = options.requested_categories(ongoing_categories(grant.scopes))
    if not categories:
        return "skipped", None

    if previous is not None and _add_answer_lost(previous):
        request_id = store.unclaimed_ready_request(open_id, newer_than=utcnow() - DOWNLOAD_WINDOW)
        if request_id is not None:
            # The export that lost add created is ready, and its webhook named it: download it
            # (TikTok would refuse a new request while it is held). Same categories and format.
            store.create_transfer(
                open_id,
                run_id,
                previous.categories,
                request_id,
                batch=batch,
                data_format=previous.data_format,
            )
            log.info("lost add recovered open_id=%s request_id=%s", fingerprint(open_id), request_id)
            return "recovered", None

    data_format = grant.data_format or options.data_format

    def fail(category: str, detail: object) -> tuple[str, str]:
        why = oc.reason(category, detail)
        store.record_failed_request(open_id, run_id, categories, why, batch=batch, data_format=data_format)
        return "failed", why

    try:
        token = ensure_fresh(store, client, open_id, options.token_horizon)
    except ReauthRequired as exc:
        if oc.category_of(exc.reason) == oc.CONSENT_EXPIRED:
            # Expected: the user did not consent again before the deadline (reconsent_due warned).
            return fail(oc.CONSENT_EXPIRED, (exc.reason or "").split(":", 1)[-1])
        return fail(oc.NEEDS_REAUTH, exc.reason or "")
    except GrantUnavailable as exc:
        return fail(oc.GRANT_INACTIVE, exc.status)
    except RefreshFailed as exc:
        return fail(oc.TOKEN_REFRESH_FAILED, exc)
    except Exception as exc:  # e.g. the refresh lease held too long by a stuck worker
        return fail(oc.TOKEN_REFRESH_FAILED, f"{type(exc).__name__}: {exc}")

    for attempt in range(2):
        try:
            request_id = client.add_data_request(token, categories, data_format, open_id=open_id)
            break
        except ScopeNotAuthorized as exc:
            if mentions_region(exc.code, exc.message):
                # Outside the EEA/UK: parked once, never asked again (a re-consent keeps it so).
                return fail(*_park_ineligible(store, open_id, "TikTok refused the export for the region"))
            # Scope removed: no request can succeed until the user consents again, so the grant
            # leaves the nightly selection with the reason.
            store.mark_grant(open_id, "needs_reauth", oc.reason(oc.SCOPE_NOT_AUTHORIZED, exc.code))
            return fail(oc.SCOPE_NOT_AUTHORIZED, exc.code)
        except AuthError as exc:
            if attempt:
                return fail(oc.NEEDS_REAUTH, exc.code)
            try:
                token = ensure_fresh(store, client, open_id, _FORCE_REFRESH)
            except ReauthRequired as reauth:
                return fail(oc.NEEDS_REAUTH, reauth.reason or exc.code)
            except GrantUnavailable as gone:
                # The user's authorization.removed webhook landed between the 401 and this
                # refresh: the grant is revoked, not a transient refresh failure.
                return fail(oc.GRANT_INACTIVE, gone.status)
            except RefreshFailed as refresh_exc:
                return fail(oc.TOKEN_REFRESH_FAILED, refresh_exc)
        except InvalidRequest as exc:
            # TikTok refuses a second request while one is in flight (one we lost track of).
            return fail(oc.REQUEST_IN_FLIGHT if "flight" in str(exc).lower() else oc.INVALID_REQUEST, exc)
        except TikTokError as exc:
            return fail(oc.classify(exc), exc)
    _record_add(store, open_id, run_id, categories, request_id, batch=batch, data_format=data_format)
    log.debug("submitted open_id=%s request_id=%s", fingerprint(open_id), request_id)
    return "submitted", None


def _record_add(
    store: StateStore,
    open_id: str,
    run_id: str,
    categories: Sequence[str],
    request_id: int,
    *,
    batch: int,
    data_format: str,
) -> None:
    """Record an add TikTok accepted, waiting out a state store that is briefly unreachable.

    The add cannot be taken back and TikTok refuses a second one while this export is in flight,
    so an id we fail to record costs the user every night until the export expires (four days
    after it is ready). A PostgreSQL restart mid-run did exactly that (tests/reliability/): the
    task failed after the add, and its retry got ``request_in_flight``. ``create_transfer`` is
    idempotent on the request id, so writing again after a lost commit acknowledgement is safe.
    """
    deadline = time.monotonic() + RECORD_ADD_WAIT_S
    delay = 0.5
    while True:
        try:
            store.create_transfer(
                open_id, run_id, categories, request_id, batch=batch, data_format=data_format
            )
            return
        except sa_exc.OperationalError as exc:  # connection-level only: a bad row still raises at once
            if time.monotonic() + delay > deadline:
                log.error(
                    "add accepted but not recorded open_id=%s request_id=%s: %s",
                    fingerprint(open_id),
                    request_id,
                    type(exc).__name__,
                )
                raise
            log.warning("state store unreachable recording request_id=%s; again in %.1f s", request_id, delay)
            time.sleep(delay)
            delay = min(delay * 2, 10.0)
