"""Token refresh against the emulator: single flight, commit before use, crash recovery, re-consent."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta

import pytest

from tiktok_portability.client import ClientConfig, TikTokClient, TokenSet
from tiktok_portability.client.errors import InvalidGrant, RefreshOutcomeUnknown
from tiktok_portability.clock import utcnow
from tiktok_portability.redact import Secret
from tiktok_portability.tokens import (
    OUTCOME_LOST,
    GrantUnavailable,
    ReauthRequired,
    RefreshFailed,
    ensure_fresh,
    refresh_expiring,
    refresh_in_batches,
)

ONGOING = ["portability.all.ongoing"]
# Emulator access tokens live hours; a horizon longer than that makes every grant "expiring".
EXPIRING = timedelta(days=2)


@pytest.fixture
def client(emulator):
    config = ClientConfig(
        client_key=emulator.client_key,
        client_secret=Secret(emulator.client_secret),
        base_url=emulator.base_url,
        max_retries=0,
    )
    with TikTokClient(config) as c:
        yield c


def onboard(emulator, store) -> TokenSet:
    user = emulator.create_user(scopes=ONGOING, region="NL", size="tiny")
    tokens = TokenSet.from_response(emulator.issue_tokens(user["open_id"]))
    store.upsert_grant(tokens.open_id, tokens.scopes, tokens)
    return tokens


def refresh_calls(emulator) -> list[dict]:
    return [e for e in emulator.log() if e["endpoint"] == "oauth_token"]


class LosesTheResponse:
    """A worker that dies after TikTok rotated the token but before the commit (client reports it)."""

    def __init__(self, client: TikTokClient, reach_server: bool = True) -> None:
        self.client = client
        self.reach_server = reach_server

    def refresh(self, refresh_token, *, open_id=None, deadline=None):
        if self.reach_server:
            self.client.refresh(refresh_token, open_id=open_id)
        raise RefreshOutcomeUnknown("connection dropped after sending the refresh", operation="refresh")


def test_a_fresh_token_is_returned_without_calling_tiktok(emulator, store, client):
    tokens = onboard(emulator, store)
    assert ensure_fresh(store, client, tokens.open_id, timedelta(minutes=5)) == tokens.access_token
    assert refresh_calls(emulator) == []


def test_an_expiring_token_is_refreshed_and_the_rotated_pair_committed(emulator, store, client):
    tokens = onboard(emulator, store)
    access = ensure_fresh(store, client, tokens.open_id, EXPIRING)
    grant = store.get_grant(tokens.open_id)
    assert access == grant.access_token
    assert access != tokens.access_token
    assert grant.refresh_token != tokens.refresh_token
    assert not grant.refresh_in_progress
    assert grant.last_refreshed_at is not None
    with pytest.raises(InvalidGrant):  # the old refresh token is dead: only the stored one works
        client.refresh(tokens.refresh_token)


def test_concurrent_workers_refresh_a_grant_once(emulator, store, client):
    tokens = onboard(emulator, store)
    # Stored as expiring in a minute; the refreshed token lives hours, so only one refresh is due.
    store.upsert_grant(
        tokens.open_id, tokens.scopes, replace(tokens, expires_at=utcnow() + timedelta(minutes=1))
    )
    results: list[Secret] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            results.append(ensure_fresh(store, client, tokens.open_id, timedelta(minutes=10)))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(refresh_calls(emulator)) == 1
    assert len(results) == 4
    assert set(results) == {store.get_grant(tokens.open_id).access_token}


def test_a_lost_refresh_response_flags_the_grant_and_then_needs_reauth(emulator, store, client):
    tokens = onboard(emulator, store)
    with pytest.raises(RefreshFailed, match="unknown outcome"):
        ensure_fresh(store, LosesTheResponse(client), tokens.open_id, EXPIRING)
    assert store.get_grant(tokens.open_id).refresh_in_progress

    with pytest.raises(ReauthRequired, match=OUTCOME_LOST):
        ensure_fresh(store, client, tokens.open_id, EXPIRING)
    grant = store.get_grant(tokens.open_id)
    assert grant.status == "needs_reauth"
    assert grant.status_reason.startswith(OUTCOME_LOST)
    assert store.due_grants() == []
    with pytest.raises(GrantUnavailable, match="needs_reauth"):
        ensure_fresh(store, client, tokens.open_id, EXPIRING)


def test_a_refresh_that_never_reached_tiktok_is_recovered_with_the_stored_token(emulator, store, client):
    tokens = onboard(emulator, store)
    with pytest.raises(RefreshFailed):
        ensure_fresh(store, LosesTheResponse(client, reach_server=False), tokens.open_id, EXPIRING)
    assert store.get_grant(tokens.open_id).refresh_in_progress
    access = ensure_fresh(store, client, tokens.open_id, timedelta(minutes=1))
    grant = store.get_grant(tokens.open_id)
    assert (grant.status, grant.refresh_in_progress) == ("active", False)
    assert access == grant.access_token


def test_refresh_expiring_reports_refreshed_and_needs_reauth(emulator, store, client):
    kept = onboard(emulator, store)
    gone = onboard(emulator, store)
    emulator.revoke_user(gone.open_id)
    report = refresh_expiring(store, client, EXPIRING, limit=100)
    assert report.refreshed == [kept.open_id]
    assert list(report.needs_reauth) == [gone.open_id]
    assert report.needs_reauth[gone.open_id].startswith("refresh rejected")
    assert report.counts() == {"refreshed": 1, "skipped": 0, "needs_reauth": 1, "failed": 0}
    assert [g.open_id for g in store.due_grants()] == [kept.open_id]


def test_a_grant_whose_lease_is_held_elsewhere_is_skipped(emulator, store, client):
    tokens = onboard(emulator, store)
    assert store.try_lock_refresh(tokens.open_id, "other-worker", lease_s=60)
    report = refresh_expiring(store, client, EXPIRING)
    assert report.skipped == [tokens.open_id]
    assert refresh_calls(emulator) == []


def test_refresh_in_batches_goes_on_until_the_due_grants_are_done(emulator, store, client):
    users = [onboard(emulator, store) for _ in range(5)]
    emulator.revoke_user(users[0].open_id)

    totals = refresh_in_batches(store, client, EXPIRING, batch_size=2, max_batches=10)

    # Batches of 2 over 5 due grants: 2, 2, then a short one that ends the loop.
    assert totals == {"batches": 3, "refreshed": 4, "needs_reauth": 1, "failed": 0, "skipped": 0}
    assert len(refresh_calls(emulator)) == 5


def test_refresh_in_batches_stops_when_a_batch_makes_no_progress(emulator, store, client):
    for _ in range(3):
        tokens = onboard(emulator, store)
        assert store.try_lock_refresh(tokens.open_id, "other-worker", lease_s=60)

    totals = refresh_in_batches(store, client, EXPIRING, batch_size=3, max_batches=10)

    assert totals == {"batches": 1, "refreshed": 0, "needs_reauth": 0, "failed": 0, "skipped": 3}
    assert refresh_calls(emulator) == []
