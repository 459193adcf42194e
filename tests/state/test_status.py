"""Read-only status queries: filters by status, reason and date, each user's last sync, no token."""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa

from tests.state.stores import tokens
from tiktok_portability.clock import utcnow
from tiktok_portability.state.status import list_grant_statuses, list_transfer_statuses
from tiktok_portability.state.tables import grants


def _normalized(store, open_id: str, run_id: str, request_id: int):
    t = store.create_transfer(open_id, run_id, ["all_data"], request_id)
    store.transition(t.id, "ready")
    store.transition(t.id, "downloaded", raw_location="raw/x.zip", raw_size=1, raw_sha256="0" * 64)
    return store.transition(t.id, "normalized")


def _failed(store, open_id: str, run_id: str, request_id: int, reason: str):
    t = store.create_transfer(open_id, run_id, ["all_data"], request_id)
    return store.transition(t.id, "failed", reason=reason)


def test_grants_carry_their_last_sync_and_what_the_last_run_left(store):
    for open_id in ("u1", "u2", "u3"):
        store.upsert_grant(open_id, ["portability.all.ongoing"], tokens(open_id))
    store.mark_grant("u2", "needs_reauth", "refresh token expired")
    store.revoke_grant("u3", "authorization.removed: user disconnected")
    synced = _normalized(store, "u1", "run-1", 1)
    _failed(store, "u1", "run-2", 2, "archive_corrupt: truncated zip")

    by_id = {g.open_id: g for g in list_grant_statuses(store)}

    assert by_id["u1"].last_synced_at == synced.normalized_at
    assert (by_id["u1"].last_transfer_status, by_id["u1"].last_transfer_reason) == (
        "failed",
        "archive_corrupt: truncated zip",
    )
    assert by_id["u2"].last_synced_at is None
    assert by_id["u2"].refresh_expires_at is not None  # the consent deadline the grant stores
    assert [g.open_id for g in list_grant_statuses(store, status="needs_reauth")] == ["u2"]
    # A free-text reason is found by the status that names it.
    assert [g.open_id for g in list_grant_statuses(store, reason="revoked")] == ["u3"]
    assert [g.open_id for g in list_grant_statuses(store, open_id="u1")] == ["u1"]
    assert [g.open_id for g in list_grant_statuses(store, open_ids=["u3", "u1", "nobody"])] == ["u1", "u3"]


def test_an_active_grant_near_its_refresh_deadline_is_reconsent_due(store):
    store.upsert_grant("soon", ["portability.all.ongoing"], tokens("s"))
    store.upsert_grant("later", ["portability.all.ongoing"], tokens("l"))
    store.upsert_grant("gone", ["portability.all.ongoing"], tokens("g"))
    store.mark_grant("gone", "needs_reauth", "consent_expired: deadline passed")
    with store.engine.begin() as conn:
        conn.execute(
            sa.update(grants)
            .where(grants.c.open_id.in_(["soon", "gone"]))
            .values(refresh_expires_at=utcnow() + timedelta(days=3))
        )

    by_id = {g.open_id: g.reconsent_due for g in list_grant_statuses(store)}
    due = list_grant_statuses(store, reconsent_due=True)
    within_a_day = list_grant_statuses(store, reconsent_due=True, reconsent_notice=timedelta(days=1))

    assert by_id == {"soon": True, "later": False, "gone": False}
    assert [g.open_id for g in due] == ["soon"]
    assert within_a_day == []


def test_a_reason_filter_matches_the_category_not_a_look_alike(store):
    _failed(store, "u1", "run-1", 1, "needs_reauth: token refused")
    _failed(store, "u2", "run-1", 2, "needs_reauth")
    _failed(store, "u3", "run-1", 3, "needsXreauth: LIKE's _ must not match any character")
    _failed(store, "u4", "run-1", 4, "needs_reauth_later: another category")

    found = list_transfer_statuses(store, reason="needs_reauth")

    assert [t.open_id for t in found] == ["u1", "u2"]


def test_transfers_are_found_by_their_runs_snapshot_date(store):
    store.save_run_plan("backfill-1", "2026-11-30", "sync", [["u1"]])
    first = _failed(store, "u1", "backfill-1", 1, "server_error: 503")
    second = _failed(store, "u2", "no-plan-run", 2, "server_error: 503")

    on_the_30th = list_transfer_statuses(store, on_date=date(2026, 11, 30))
    today = list_transfer_statuses(store, on_date=second.created_at.date())

    assert [(t.open_id, t.snapshot_date) for t in on_the_30th] == [("u1", "2026-11-30")]
    assert [(t.open_id, t.snapshot_date) for t in today] == [("u2", None)]
    assert [t.open_id for t in list_transfer_statuses(store, run_id="backfill-1")] == ["u1"]
    assert [t.id for t in list_transfer_statuses(store, newest_first=True)] == [second.id, first.id]


def test_no_status_query_reads_an_encrypted_column(store):
    store.upsert_grant("u1", ["portability.all.ongoing"], tokens())
    _failed(store, "u1", "run-1", 1, "server_error: 503")
    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    sa.event.listen(store.engine, "before_cursor_execute", record)
    try:
        list_grant_statuses(store)
        list_transfer_statuses(store)
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", record)

    assert statements
    assert not [s for s in statements if "token_enc" in s]
