"""Grants: consent, status, selection for the nightly sync, erasure."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.state.stores import tokens
from tiktok_portability.state import GrantNotFound

ONGOING = ["portability.all.ongoing"]


def test_upsert_stores_scopes_tokens_and_expiry(store):
    t = tokens()
    grant = store.upsert_grant("user-1", "portability.activity.ongoing,portability.all.single", t)
    assert grant.status == "active"
    assert grant.scopes == ["portability.activity.ongoing", "portability.all.single"]
    assert grant.access_token.reveal() == t.access_token.reveal()
    assert grant.refresh_token.reveal() == t.refresh_token.reveal()
    assert grant.access_expires_at == t.expires_at
    assert grant.access_expires_at.tzinfo is not None


def test_re_consent_reactivates_a_grant_and_clears_the_reason(store):
    store.upsert_grant("user-1", ONGOING, tokens())
    store.mark_grant("user-1", "needs_reauth", "refresh rejected: invalid_grant")
    grant = store.upsert_grant("user-1", ONGOING, tokens("2"))
    assert (grant.status, grant.status_reason) == ("active", None)
    assert grant.access_token.reveal().endswith("-2")


def test_unknown_grant_raises_grant_not_found(store):
    assert store.find_grant("nobody") is None
    with pytest.raises(GrantNotFound):
        store.get_grant("nobody")
    with pytest.raises(GrantNotFound):
        store.mark_grant("nobody", "revoked")


def test_due_grants_are_active_with_an_ongoing_scope_and_page_by_open_id(store):
    for i in range(7):
        store.upsert_grant(f"u{i}", ONGOING, tokens(str(i)))
    store.upsert_grant("single-only", ["portability.all.single"], tokens("s"))
    store.mark_grant("u1", "needs_reauth", "refresh rejected")
    store.mark_grant("u2", "revoked", "authorization.removed")
    store.mark_grant("u3", "erased")

    first = store.due_grants(limit=2)
    second = store.due_grants(limit=2, after_open_id=first[-1].open_id)
    third = store.due_grants(limit=2, after_open_id=second[-1].open_id)
    assert [g.open_id for g in first + second + third] == ["u0", "u4", "u5", "u6"]
    assert [g.open_id for g in store.due_grants(open_ids=["u5", "u1", "ghost"])] == ["u5"]


def test_revoking_and_erasing_wipe_tokens(store):
    store.upsert_grant("user-1", ONGOING, tokens())
    store.set_watermark("user-1", "watch_history", "2026-01-01T00:00:00Z")
    revoked = store.revoke_grant("user-1", "user asked")
    assert (revoked.status, revoked.status_reason) == ("revoked", "user asked")
    assert revoked.access_token is None
    assert revoked.refresh_token is None
    erased = store.erase_grant("user-1")
    assert erased.status == "erased"
    assert store.get_watermarks("user-1") == {}


def test_unknown_grant_status_is_rejected(store):
    store.upsert_grant("user-1", ONGOING, tokens())
    with pytest.raises(ValueError, match="not one of"):
        store.mark_grant("user-1", "paused")


def test_grant_counts_by_status(store):
    for i in range(3):
        store.upsert_grant(f"u{i}", ONGOING, tokens(str(i)))
    store.mark_grant("u0", "needs_reauth", "x")
    assert store.grant_counts() == {"active": 2, "needs_reauth": 1}


def test_grant_statuses_of_many_ids_in_chunks(store):
    for i in range(3):
        store.upsert_grant(f"u{i}", ONGOING, tokens(str(i)))
    store.erase_grant("u1")
    asked = [f"x{i}" for i in range(1200)] + ["u2", "u1", "u0", "u1"]
    assert store.grant_statuses(asked) == {"u0": "active", "u1": "erased", "u2": "active"}
    assert store.grant_statuses([]) == {}


def test_refresh_lease_is_exclusive_and_reclaimed_after_expiry(store):
    store.upsert_grant("user-1", ONGOING, tokens())
    assert store.try_lock_refresh("user-1", "worker-a", lease_s=60)
    assert not store.try_lock_refresh("user-1", "worker-b", lease_s=60)
    store.release_refresh_lock("user-1", "worker-a")
    assert store.try_lock_refresh("user-1", "worker-b", lease_s=-1)  # already expired: a crashed holder
    assert store.try_lock_refresh("user-1", "worker-c", lease_s=60)


def test_watermarks_per_user_and_table(store):
    assert store.get_watermark("u", "likes") is None
    store.set_watermark("u", "likes", "10")
    store.set_watermark("u", "likes", "20")
    store.set_watermark("u", "watch_history", "5")
    store.set_watermark("v", "likes", "1")
    assert store.get_watermark("u", "likes") == "20"
    assert store.get_watermarks("u") == {"likes": "20", "watch_history": "5"}


def test_a_re_consent_keeps_an_ineligible_grant_parked_with_its_reason(store):
    """TikTok decides eligibility by the account's region, which a consent does not change."""
    store.upsert_grant("user-1", ONGOING, tokens())
    store.mark_grant("user-1", "ineligible", "ineligible_region: outside the EEA/UK")

    grant = store.upsert_grant("user-1", ONGOING, tokens("2"))

    assert (grant.status, grant.status_reason) == ("ineligible", "ineligible_region: outside the EEA/UK")
    assert grant.access_token.reveal().endswith("-2"), "the new tokens are kept for a later reactivation"
    assert store.due_grants() == []


def test_grants_whose_refresh_deadline_is_near_are_reconsent_due(store):
    from dataclasses import replace
    from datetime import timedelta

    store.upsert_grant("far", ONGOING, tokens())
    near = tokens()
    store.upsert_grant("near", ONGOING, replace(near, refresh_expires_at=near.expires_at + timedelta(days=3)))
    store.upsert_grant("gone", ONGOING, tokens())
    store.mark_grant("gone", "revoked")

    due = store.grants_reconsent_due(timedelta(days=14))

    assert [g.open_id for g in due] == ["near"]


def test_an_oauth_state_is_spent_once_and_pruned_after_it_expires(store):
    from datetime import timedelta

    from tiktok_portability.clock import utcnow

    soon = utcnow() + timedelta(minutes=10)
    assert store.spend_oauth_state("nonce-1", soon) is True
    assert store.spend_oauth_state("nonce-1", soon) is False
    assert store.spend_oauth_state("nonce-2", utcnow() - timedelta(seconds=1)) is True
    assert store.spend_oauth_state("nonce-3", soon) is True  # prunes nonce-2, already expired
    with store.engine.connect() as conn:
        kept = conn.execute(sa.text("SELECT nonce_hash FROM oauth_states")).scalars().all()
    assert len(kept) == 2
    assert not any("nonce" in k for k in kept), "only hashes are stored"
