"""Token lifetimes as documented: refresh_expires_in is the REMAINING lifetime, fixed at consent.

The emulator's default counts the refresh deadline down from the consent; the option
``refresh_deadline_restarts`` keeps the other reading (180 days again on every refresh). The
pipeline must reach the same deadline from either answer's ``refresh_expires_in`` and, once it
has passed, end the grant as ``needs_reauth`` with reason ``consent_expired``.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from tests.sync.harness import make_runtime, onboard
from tiktok_portability.client import ClientConfig, TikTokClient
from tiktok_portability.clock import OFFSET_ENV
from tiktok_portability.sync import SyncOptions
from tiktok_portability.sync.engine import run_sync
from tiktok_portability.tokens import ReauthRequired, ensure_fresh

DAY = 86_400
REDIRECT = "https://app.example/tiktok/oauth/callback"


def client_for(emulator) -> TikTokClient:
    config = ClientConfig(
        client_key=emulator.client_key, client_secret=emulator.client_secret, base_url=emulator.base_url
    )
    return TikTokClient(config, limiter=None)


def consent_then_refresh_after(emulator, monkeypatch, days: int):
    open_id = emulator.create_user(scopes=["portability.all.ongoing"])["open_id"]
    with client_for(emulator) as client:
        consented = client.exchange_code(emulator.authorization_code(open_id, REDIRECT), REDIRECT)
        emulator.advance(days * DAY)
        monkeypatch.setenv(OFFSET_ENV, str(days * DAY))
        refreshed = client.refresh(consented.refresh_token, open_id=open_id)
    return consented, refreshed


def test_by_default_a_refresh_keeps_the_deadline_fixed_at_consent(emulator, monkeypatch):
    consented, refreshed = consent_then_refresh_after(emulator, monkeypatch, days=10)

    drift = abs((refreshed.refresh_expires_at - consented.refresh_expires_at).total_seconds())
    assert drift <= 2, "refresh_expires_in counts down: the deadline does not move"


def test_the_restart_option_moves_the_deadline_on_every_refresh(emulator, monkeypatch):
    emulator.configure(refresh_deadline_restarts=True)

    consented, refreshed = consent_then_refresh_after(emulator, monkeypatch, days=10)

    moved = refreshed.refresh_expires_at - consented.refresh_expires_at
    assert abs(moved - timedelta(days=10)) <= timedelta(seconds=2)


def test_past_the_deadline_the_grant_ends_consent_expired_without_a_refresh_call(
    tmp_path, emulator, monkeypatch
):
    emulator.configure(refresh_token_ttl_s=3 * DAY)
    runtime = make_runtime(tmp_path, emulator)
    open_id = onboard(runtime, emulator, scopes=["portability.all.ongoing"])
    emulator.advance(3 * DAY + 60)
    monkeypatch.setenv(OFFSET_ENV, str(3 * DAY + 60))

    with runtime.client() as client, pytest.raises(ReauthRequired) as ended:
        ensure_fresh(runtime.store, client, open_id)

    assert ended.value.reason.startswith("consent_expired: ")
    grant = runtime.store.get_grant(open_id)
    assert (grant.status, grant.status_reason.split(":")[0]) == ("needs_reauth", "consent_expired")
    assert emulator.log(endpoint="oauth_token") == []


def test_the_sync_warns_before_the_deadline_and_counts_its_passing_as_expected(
    tmp_path, emulator, monkeypatch
):
    emulator.configure(refresh_token_ttl_s=10 * DAY)
    runtime = make_runtime(tmp_path, emulator)
    runtime.oauth_start_url = "https://airflow.example/tiktok/oauth/start"
    late = onboard(runtime, emulator, scopes=["portability.all.ongoing"])
    options = SyncOptions(batch_size=10, poll_interval_s=0.05, max_failure_rate=0.0)

    first = run_sync(runtime, "night-1", date(2026, 11, 20), options)
    # A user who consents later has a deadline far away.
    emulator.advance(5 * DAY)
    monkeypatch.setenv(OFFSET_ENV, str(5 * DAY))
    emulator.configure(refresh_token_ttl_s=180 * DAY)
    fresh = onboard(runtime, emulator, scopes=["portability.all.ongoing"])
    emulator.advance(6 * DAY)
    monkeypatch.setenv(OFFSET_ENV, str(11 * DAY))
    expired_night = run_sync(runtime, "night-2", date(2026, 12, 1), options)
    emulator.advance(DAY)
    monkeypatch.setenv(OFFSET_ENV, str(12 * DAY))
    next_night = run_sync(runtime, "night-3", date(2026, 12, 2), options)

    due = first["reconsent_due"]
    assert (due["users"], due["within_days"]) == (1, 14)
    assert due["sign_in_link"] == "https://airflow.example/tiktok/oauth/start"
    assert [u["fingerprint"] for u in due["soonest"]] == [runtime.store.get_grant(late).fingerprint]
    assert expired_night["failed_by_reason"] == {"consent_expired": 1}
    assert (expired_night["failed_expected"], expired_night["failure_rate"]) == (1, 0.0)
    assert expired_night["users_synced"] == 1
    assert runtime.store.get_grant(fresh).status == "active"
    assert next_night["users_planned"] == 1, "a grant whose consent expired is not planned again"
