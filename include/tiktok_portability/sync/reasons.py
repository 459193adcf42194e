"""What each failure reason means in words and what Ops do about it: the one table.

The status view in the Airflow UI, the CLI and the docs read it from here, so the words for a
category are written once. A reason stored on a transfer or a grant is ``"<category>: <detail>"``
(:func:`tiktok_portability.sync.outcomes.reason`); grants revoked or erased, and grants flagged
needs_reauth with a free-text reason, take their category from their status.
"""

from __future__ import annotations

from dataclasses import dataclass

from tiktok_portability.sync import outcomes as oc

# Not failure categories of a sync step, but what a grant's status says when its reason is free text.
REVOKED = "revoked"
ERASED = "erased"
UNKNOWN = "unknown"
# A grant status that names a category other than itself.
_STATUS_CATEGORY = {"ineligible": "ineligible_region"}
# The sign-in link a user follows to consent again (the plugin serves it under its /tiktok prefix).
OAUTH_START_PATH = "/tiktok/oauth/start"

RESYNC = (
    "Re-sync the user: Trigger tiktok_ongoing_sync with open_ids set to them (or retry_failed on the "
    "same snapshot date)."
)
SEND_SIGN_IN = f"Send the user the sign-in link {OAUTH_START_PATH}; the next night syncs them again."


@dataclass(frozen=True)
class ReasonText:
    """A category in words: what happened, and the next action for Ops."""

    category: str
    words: str
    next_action: str


def _entry(category: str, words: str, next_action: str) -> tuple[str, ReasonText]:
    return category, ReasonText(category, words, next_action)


REASONS: dict[str, ReasonText] = dict(
    (
        _entry(
            oc.NEEDS_REAUTH,
            "TikTok no longer accepts the user's sign-in (refresh token refused or expired); "
            "syncs skip the user.",
            SEND_SIGN_IN,
        ),
        _entry(
            oc.GRANT_INACTIVE,
            "The user has no active grant (needs re-consent, revoked or erased), so no export was requested.",
            "Look at the user's grant: needs_reauth -> send the sign-in link "
            f"{OAUTH_START_PATH}; revoked or erased -> nothing to do.",
        ),
        _entry(
            oc.SCOPE_NOT_AUTHORIZED,
            "TikTok refused the export: the user has not granted (or withdrew) the portability scope "
            "it asks for.",
            f"Send the user the sign-in link {OAUTH_START_PATH} to grant the portability scope again.",
        ),
        _entry(
            oc.CONSENT_EXPIRED,
            "The refresh deadline fixed at the user's consent passed (TikTok counts it down from "
            "the sign-in; refreshing does not extend it). Expected, not a pipeline failure.",
            f"Send the user the sign-in link {OAUTH_START_PATH}; the next night syncs them again. "
            "Before the deadline the grant is listed as reconsent_due (grants list --reconsent-due).",
        ),
        _entry(
            oc.INELIGIBLE_REGION,
            "TikTok offers data portability only to accounts in the EEA and the UK; this account is "
            "outside them.",
            "None: the grant is parked as ineligible and left out of syncs; signing in again does "
            "not change the account's region. If TikTok serves the account again (it moved into the "
            "EEA/UK): tiktok-portability grants reactivate OPEN_ID.",
        ),
        _entry(
            oc.NO_CATEGORIES,
            "The grant holds no ongoing portability scope (or none of the categories asked for), "
            "so there was nothing to request.",
            f"None, unless the user should share more: then send the sign-in link {OAUTH_START_PATH}.",
        ),
        _entry(
            oc.REQUEST_IN_FLIGHT,
            "An export requested earlier is still being prepared by TikTok; no second one was asked for.",
            "None: the next run downloads it once it is ready.",
        ),
        _entry(
            oc.ADD_OUTCOME_UNKNOWN,
            "The answer to the export request was lost (timeout after sending): TikTok may have "
            "started an export.",
            "None at first: its ready webhook is adopted by the next run. If the user still has no "
            "data a day later: " + RESYNC,
        ),
        _entry(
            oc.TOKEN_REFRESH_FAILED,
            "Refreshing the access token failed for a passing reason (TikTok or the network).",
            "None: tiktok_token_refresh tries again. To get today's export: " + RESYNC,
        ),
        _entry(
            oc.RATE_LIMITED,
            "TikTok answered 429 (quota exhausted) on every retry.",
            "Check what else uses the app's quota (the connection's quota settings), then: " + RESYNC,
        ),
        _entry(
            oc.SERVER_ERROR,
            "TikTok answered with a server error (5xx) on every retry.",
            "Wait for TikTok to recover, then: " + RESYNC,
        ),
        _entry(
            oc.TRANSPORT_ERROR,
            "The connection to TikTok failed (timeout, reset, DNS) on every retry.",
            "Check the workers' network path to TikTok, then: " + RESYNC,
        ),
        _entry(
            oc.INVALID_REQUEST,
            "TikTok rejected the request as invalid: a bug on our side or a change in TikTok's API.",
            "Read the detail and the task log and report it; after the fix: " + RESYNC,
        ),
        _entry(
            oc.ARCHIVE_CORRUPT,
            "The downloaded archive was truncated or not a valid zip, also on retry.",
            "Re-sync with open_ids set to the user: a fresh export is requested and downloaded.",
        ),
        _entry(
            oc.DOWNLOAD_EXPIRED,
            "The export was not downloaded within TikTok's four-day window and is gone.",
            "Re-sync with open_ids set to the user: a fresh export is requested.",
        ),
        _entry(
            oc.NORMALIZE_FAILED,
            "The archive is safe in the raw zone but could not be turned into tables.",
            "Read the detail; after the fix, Trigger tiktok_ongoing_sync for the date with "
            "reprocess_from_raw (no call to TikTok).",
        ),
        _entry(
            oc.API_ERROR,
            "TikTok answered with an error that has no category of its own.",
            "Read the detail (TikTok's error code); if it passes: " + RESYNC,
        ),
        _entry(
            REVOKED,
            "The user (or an operator) removed the app's access; TikTok sent authorization.removed "
            "or the grant was revoked by hand.",
            f"None. If the user wants to share again they sign in at {OAUTH_START_PATH}.",
        ),
        _entry(
            ERASED,
            "The user's data was erased on request (GDPR): tokens, rows and raw archives are gone.",
            "None.",
        ),
        _entry(
            UNKNOWN,
            "A reason this version does not know.",
            "Read the detail and the task log.",
        ),
    )
)


def category_of(failure_reason: str | None) -> str:
    """The category of a stored reason; free text (an older or a hand-written reason) is ``unknown``."""
    head = (failure_reason or "").split(":", 1)[0].strip()
    return head if head in REASONS else UNKNOWN


def grant_category(status: str, status_reason: str | None) -> str | None:
    """Why a grant is not active: its reason's category, else its status; None for an active grant."""
    if status == "active":
        return None
    category = category_of(status_reason)
    if category != UNKNOWN:
        return category
    status = _STATUS_CATEGORY.get(status, status)
    return status if status in REASONS else UNKNOWN


def explain(category: str | None) -> ReasonText | None:
    """The words and next action of a category (``unknown`` for one not in the table)."""
    if category is None:
        return None
    return REASONS.get(category, REASONS[UNKNOWN])
