"""Erase a user everywhere we hold their data (GDPR art. 17): at TikTok, in the state store, in the lake.

The order is what makes it safe to run at any time and to re-run:

1. **TikTok** (optional, best effort): cancel the user's pending export requests and revoke the
   app's authorization, with the stored token (refreshed first if it expired). A refusal (the user
   already revoked us, the token is gone) is recorded, not fatal: our copy is erased regardless.
2. **State store**: the grant becomes ``erased`` (tokens and watermarks deleted; the planner and
   every step skip it from now on) and in-flight transfers are closed, so no step loads the user
   again. Transfers stay as the audit trail (they hold ids, not personal data).
3. **Lake**: rows in every table, raw archives, ledger and manifests, with an audit record
   (:meth:`tiktok_portability.lake.Lake.erase_user`).

The lake step holds the lake's writer lock exclusively (:meth:`StateStore.lake_lock`; batch
commits hold it shared), so no commit rewrites a file the erasure is rewriting. A commit that
listed its transfers before step 2 and lands after step 3 is caught by the normalize step, which
erases again any user whose grant is erased after it commits.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from tiktok_portability.redact import fingerprint

if TYPE_CHECKING:
    from tiktok_portability.runtime import SyncRuntime

log = logging.getLogger(__name__)

ERASED_REASON = "grant_inactive: user erased"
# Transfers that may still lead to rows: closed so that no step picks them up again.
_OPEN = ("requested", "ready", "failed", "downloaded")


@dataclass
class UserErasure:
    """What erasing one user did; holds the user's fingerprint, never the open_id."""

    user: str
    requested_by: str
    revoked_at_tiktok: bool = False
    tiktok_requests_cancelled: int = 0
    tiktok_error: str | None = None
    grant_found: bool = False
    transfers_closed: int = 0
    lake: dict[str, Any] | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _check_requested_by(requested_by: str) -> None:
    if not requested_by.strip():
        raise ValueError("requested_by must name who asked for the erasure (it goes in the audit record)")


def erase_user(
    runtime: SyncRuntime,
    open_id: str,
    *,
    requested_by: str,
    revoke_at_tiktok: bool = True,
    full_scan: bool = False,
) -> UserErasure:
    """Erase one user (see the module docstring). Raises only if a step of ours fails."""
    _check_requested_by(requested_by)
    result = UserErasure(user=fingerprint(open_id), requested_by=requested_by)
    store = runtime.store
    grant = store.find_grant(open_id)
    result.grant_found = grant is not None
    if revoke_at_tiktok and grant is not None and grant.is_active:
        _leave_tiktok(runtime, open_id, result)
    if grant is not None and grant.status != "erased":
        store.erase_grant(open_id, reason=f"erasure requested by {requested_by}")
    for status in _OPEN:
        for transfer in store.list_transfers(open_id=open_id, status=status, limit=10_000):
            closed = "failed" if status == "downloaded" else "cancelled"
            store.transition(transfer.id, closed, reason=ERASED_REASON)
            result.transfers_closed += 1
    if runtime.lake is not None:
        with store.lake_lock(exclusive=True):  # no commit rewrites a file under our feet
            record = runtime.lake.erase_user(open_id, requested_by=requested_by, full_scan=full_scan)
        result.lake = record.to_dict()
    log.info(
        "user erased user=%s revoked_at_tiktok=%s transfers_closed=%d lake_rows=%d",
        result.user,
        result.revoked_at_tiktok,
        result.transfers_closed,
        sum((result.lake or {}).get("rows_deleted", {}).values()),
    )
    return result


def _leave_tiktok(runtime: SyncRuntime, open_id: str, result: UserErasure) -> None:
    from tiktok_portability.client.errors import TikTokError
    from tiktok_portability.tokens import TokenError, ensure_fresh

    problems: list[str] = []
    try:
        with runtime.client() as client:
            token = ensure_fresh(runtime.store, client, open_id)
            for status in ("requested", "ready"):
                for transfer in runtime.store.list_transfers(open_id=open_id, status=status, limit=10_000):
                    if transfer.request_id is None:
                        continue
                    try:  # an export that finished meanwhile cannot be cancelled: revoke anyway
                        client.cancel(token, transfer.request_id, open_id=open_id)
                        result.tiktok_requests_cancelled += 1
                    except TikTokError as exc:
                        problems.append(f"cancel: {type(exc).__name__}: {exc}")
            client.revoke(token, open_id=open_id)
            result.revoked_at_tiktok = True
    except (TikTokError, TokenError) as exc:
        # Already revoked by the user, refresh refused, TikTok down: our copy goes anyway.
        problems.append(f"{type(exc).__name__}: {exc}")
    if problems:
        result.tiktok_error = "; ".join(problems)
        log.warning("erasure: TikTok not fully told user=%s reason=%s", result.user, result.tiktok_error)


def erase_users(
    runtime: SyncRuntime,
    open_ids: Sequence[str],
    *,
    requested_by: str,
    revoke_at_tiktok: bool = True,
    full_scan: bool = False,
) -> list[UserErasure]:
    """Erase each user in turn; one user's failure is recorded and the others still go."""
    _check_requested_by(requested_by)
    results = []
    for open_id in dict.fromkeys(open_ids):  # each once, in the order given
        try:
            results.append(
                erase_user(
                    runtime,
                    open_id,
                    requested_by=requested_by,
                    revoke_at_tiktok=revoke_at_tiktok,
                    full_scan=full_scan,
                )
            )
        except Exception as exc:  # one user's failure never stops the others; it is reported
            log.exception("erasure failed user=%s", fingerprint(open_id))
            failed = UserErasure(user=fingerprint(open_id), requested_by=requested_by)
            failed.error = f"{type(exc).__name__}: {exc}"
            results.append(failed)
    return results


def erase_again_if_erased(runtime: SyncRuntime, open_ids: Sequence[str]) -> list[str]:
    """After a commit: erase the rows of any of ``open_ids`` whose grant was erased meanwhile.

    Closes the race between an erasure and a sync commit that listed its transfers before the
    grant was erased (the erasure's lake pass may have run before that commit landed).
    """
    if runtime.lake is None or not open_ids:
        return []
    again = []
    for open_id, status in sorted(runtime.store.grant_statuses(open_ids).items()):
        if status == "erased":
            with runtime.store.lake_lock(exclusive=True):
                runtime.lake.erase_user(open_id, requested_by="sync: committed after the user's erasure")
            again.append(fingerprint(open_id))
    if again:
        log.warning("erased again after a racing commit users=%s", ",".join(again))
    return again
