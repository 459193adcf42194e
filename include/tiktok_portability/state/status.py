"""Read-only status queries: who is in which state and why, without touching a token.

The status view in the Airflow UI and the CLI's list commands read from here. No query selects
an encrypted column, so none needs a Fernet key: a store opened without keys answers them all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from tiktok_portability.clock import utcnow
from tiktok_portability.state.tables import grants, sync_runs, transfers

if TYPE_CHECKING:
    from tiktok_portability.state.store import StateStore

DEFAULT_LIMIT = 500
# How close to the refresh deadline (fixed at consent) an active grant counts as reconsent_due;
# the same default as the sync summary's (the connection's reconsent_notice_days).
DEFAULT_RECONSENT_NOTICE = timedelta(days=14)
# Grant columns that hold ciphertext: never selected here.
_TOKEN_COLUMNS = frozenset({"access_token_enc", "refresh_token_enc"})


@dataclass(frozen=True)
class GrantStatus:
    """A grant as Ops see it: status and reason, deadlines, and how its syncs went."""

    open_id: str
    status: str
    status_reason: str | None
    scopes: list[str]
    access_expires_at: datetime | None
    refresh_expires_at: datetime | None
    last_refreshed_at: datetime | None
    updated_at: datetime
    last_synced_at: datetime | None
    last_transfer_status: str | None
    last_transfer_reason: str | None
    # Active, and the refresh deadline is within the notice: the user must sign in again soon.
    reconsent_due: bool = False


@dataclass(frozen=True)
class TransferStatus:
    """A transfer with the snapshot date of its run (None when the run saved no plan)."""

    id: int
    open_id: str
    run_id: str
    batch: int | None
    snapshot_date: str | None
    request_id: int | None
    status: str
    attempts: int
    failure_reason: str | None
    created_at: datetime
    updated_at: datetime
    normalized_at: datetime | None
    # Records kept in other_records and records that failed to parse, by section (normalized only).
    normalize_counts: dict[str, dict[str, int]] | None = None


def _reason_is(column: sa.ColumnElement[Any], category: str) -> sa.ColumnElement[bool]:
    """A stored reason of ``category``: the bare category or ``"<category>: <detail>"``."""
    return sa.or_(column == category, column.startswith(f"{category}:", autoescape=True))


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=UTC)
    return start, start + timedelta(days=1)


def list_grant_statuses(
    store: StateStore,
    *,
    status: str | None = None,
    reason: str | None = None,
    open_id: str | None = None,
    open_ids: Sequence[str] | None = None,
    reconsent_due: bool = False,
    reconsent_notice: timedelta = DEFAULT_RECONSENT_NOTICE,
    limit: int = DEFAULT_LIMIT,
    after_open_id: str | None = None,
) -> list[GrantStatus]:
    """Grants by open_id, filtered by status and reason category, with each one's sync history.

    ``reason`` matches the category of the grant's reason or, for a free-text reason, its status
    (``needs_reauth``, ``revoked``, ``erased``), as :func:`tiktok_portability.sync.reasons.grant_category`
    names it. ``open_ids`` narrows to those users (at most ``limit`` of them count).
    ``reconsent_due`` keeps only the active grants whose refresh deadline falls within
    ``reconsent_notice``.
    """
    notice_until = utcnow() + reconsent_notice
    columns = [c for c in grants.c if c.name not in _TOKEN_COLUMNS]
    query = sa.select(*columns).order_by(grants.c.open_id).limit(limit)
    if status:
        query = query.where(grants.c.status == status)
    if reason:
        query = query.where(sa.or_(_reason_is(grants.c.status_reason, reason), grants.c.status == reason))
    if open_id:
        query = query.where(grants.c.open_id == open_id)
    if open_ids is not None:
        query = query.where(grants.c.open_id.in_(sorted(set(open_ids))[:limit]))
    if after_open_id:
        query = query.where(grants.c.open_id > after_open_id)
    if reconsent_due:
        query = query.where(grants.c.status == "active", grants.c.refresh_expires_at < notice_until)
    with store.engine.connect() as conn:
        rows = conn.execute(query).all()
        ids = [r.open_id for r in rows]
        synced = _last_synced(conn, ids)
        latest = _latest_transfers(conn, ids)
    out = []
    for row in rows:
        last = latest.get(row.open_id)
        deadline = row.refresh_expires_at
        out.append(
            GrantStatus(
                open_id=row.open_id,
                status=row.status,
                status_reason=row.status_reason,
                scopes=list(row.scopes or []),
                access_expires_at=row.access_expires_at,
                refresh_expires_at=row.refresh_expires_at,
                last_refreshed_at=row.last_refreshed_at,
                updated_at=row.updated_at,
                last_synced_at=synced.get(row.open_id),
                last_transfer_status=last.status if last is not None else None,
                last_transfer_reason=last.failure_reason if last is not None else None,
                reconsent_due=row.status == "active" and deadline is not None and deadline < notice_until,
            )
        )
    return out


def _chunks(ids: Sequence[str], size: int = 500) -> list[Sequence[str]]:
    return [ids[i : i + size] for i in range(0, len(ids), size)]


def _last_synced(conn: sa.Connection, open_ids: Sequence[str]) -> dict[str, datetime]:
    """When each user's newest transfer reached the lake (status normalized)."""
    found: dict[str, datetime] = {}
    for chunk in _chunks(open_ids):
        query = (
            sa.select(transfers.c.open_id, sa.func.max(transfers.c.normalized_at))
            .where(transfers.c.open_id.in_(chunk), transfers.c.status == "normalized")
            .group_by(transfers.c.open_id)
        )
        # max() keeps the column's type, so the value comes back as an aware UTC datetime.
        found.update({open_id: at for open_id, at in conn.execute(query).all() if at is not None})
    return found


def _latest_transfers(conn: sa.Connection, open_ids: Sequence[str]) -> dict[str, sa.Row]:
    """Each user's newest transfer (what the last run left behind)."""
    found: dict[str, sa.Row] = {}
    for chunk in _chunks(open_ids):
        newest = (
            sa.select(sa.func.max(transfers.c.id).label("id"))
            .where(transfers.c.open_id.in_(chunk))
            .group_by(transfers.c.open_id)
            .subquery()
        )
        query = sa.select(transfers.c.open_id, transfers.c.status, transfers.c.failure_reason).join(
            newest, newest.c.id == transfers.c.id
        )
        found.update({row.open_id: row for row in conn.execute(query).all()})
    return found


def list_transfer_statuses(
    store: StateStore,
    *,
    status: str | None = None,
    reason: str | None = None,
    on_date: date | None = None,
    open_id: str | None = None,
    run_id: str | None = None,
    limit: int = DEFAULT_LIMIT,
    after_id: int | None = None,
    newest_first: bool = False,
) -> list[TransferStatus]:
    """Transfers filtered by status, reason category, date, user and run.

    ``on_date`` is the run's snapshot date (the lake partition it wrote); a transfer whose run saved
    no plan counts on the day it was created (UTC).
    """
    query = (
        sa.select(transfers, sync_runs.c.snapshot_date)
        .select_from(transfers.outerjoin(sync_runs, sync_runs.c.run_id == transfers.c.run_id))
        .order_by(transfers.c.id.desc() if newest_first else transfers.c.id)
        .limit(limit)
    )
    if status:
        query = query.where(transfers.c.status == status)
    if reason:
        query = query.where(_reason_is(transfers.c.failure_reason, reason))
    if on_date is not None:
        start, end = _day_bounds(on_date)
        query = query.where(
            sa.or_(
                sync_runs.c.snapshot_date == on_date.isoformat(),
                sa.and_(
                    sync_runs.c.snapshot_date.is_(None),
                    transfers.c.created_at >= start,
                    transfers.c.created_at < end,
                ),
            )
        )
    if open_id:
        query = query.where(transfers.c.open_id == open_id)
    if run_id:
        query = query.where(transfers.c.run_id == run_id)
    if after_id is not None:
        query = query.where(transfers.c.id < after_id if newest_first else transfers.c.id > after_id)
    with store.engine.connect() as conn:
        rows = conn.execute(query).all()
    return [
        TransferStatus(
            id=r.id,
            open_id=r.open_id,
            run_id=r.run_id,
            batch=r.batch,
            snapshot_date=r.snapshot_date,
            request_id=r.request_id,
            status=r.status,
            attempts=r.attempts,
            failure_reason=r.failure_reason,
            created_at=r.created_at,
            updated_at=r.updated_at,
            normalized_at=r.normalized_at,
            normalize_counts=r.normalize_counts,
        )
        for r in rows
    ]
