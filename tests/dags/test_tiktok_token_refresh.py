"""tiktok_token_refresh under `airflow dags test`, against the emulator, two hours later."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.fixtures.airflow import tiktok_env
from tiktok_portability.client.models import TokenSet
from tiktok_portability.clock import OFFSET_ENV, utcnow
from tiktok_portability.state import StateStore, generate_key

pytestmark = pytest.mark.airflow

ALMOST_TWO_HOURS_S = 2 * 3600 - 600  # access tokens live 2 h: 10 minutes left after this


@pytest.fixture(scope="module")
def world(emulator_m, tmp_path_factory):
    """Four users with stored grants; one revoked at TikTok without us knowing (no webhook)."""
    emulator, tmp_path = emulator_m, tmp_path_factory.mktemp("token_refresh")
    key = generate_key()
    store = StateStore.from_url(f"sqlite:///{tmp_path / 'state.db'}", [key])
    users = [
        emulator.create_user(scopes=["portability.all.ongoing"], region="NL")["open_id"] for _ in range(4)
    ]
    expiring, revoked, fresh = users[:2], users[2], users[3]
    for open_id in users[:3]:
        body = emulator.issue_tokens(open_id)
        store.upsert_grant(open_id, body["scope"], TokenSet.from_response(body))
    emulator.revoke_user(revoked, reason=1)
    emulator.advance(ALMOST_TWO_HOURS_S)
    # Consented just now (emulator time), so its token is not due within the horizon.
    body = emulator.issue_tokens(fresh)
    now = utcnow() + timedelta(seconds=ALMOST_TWO_HOURS_S)
    store.upsert_grant(fresh, body["scope"], TokenSet.from_response(body, now=now))
    env = {
        **tiktok_env(emulator, f"sqlite:///{tmp_path / 'state.db'}", key, max_retries=1),
        OFFSET_ENV: str(ALMOST_TWO_HOURS_S),
    }
    before = {g.open_id: g for g in store.list_grants()}
    yield {
        "store": store,
        "env": env,
        "expiring": expiring,
        "revoked": revoked,
        "fresh": fresh,
        "before": before,
    }
    store.close()


@pytest.fixture(scope="module")
def refresh_run(airflow_home, world, emulator_m):
    emulator = emulator_m
    since = emulator.now() - 1
    result = airflow_home.dags_test(
        "tiktok_token_refresh", {"horizon_minutes": 30, "batch_size": 2}, env=world["env"]
    )
    return result, emulator.log(since=since)


def test_the_run_succeeds(refresh_run):
    result, _ = refresh_run
    assert result.ok, str(result)


def test_tokens_expiring_within_the_horizon_are_refreshed_and_rotated(refresh_run, world):
    store, before = world["store"], world["before"]
    for open_id in world["expiring"]:
        grant = store.get_grant(open_id)
        assert grant.status == "active"
        assert grant.access_token != before[open_id].access_token
        assert grant.refresh_token != before[open_id].refresh_token
        assert grant.access_expires_at > before[open_id].access_expires_at + timedelta(hours=1)


def test_a_grant_whose_refresh_is_refused_needs_reauth_with_the_reason(refresh_run, world):
    result, _ = refresh_run
    grant = world["store"].get_grant(world["revoked"])
    assert grant.status == "needs_reauth"
    assert grant.status_reason
    assert world["revoked"] not in [g.open_id for g in world["store"].due_grants()]
    assert "needs_reauth total=1" in result.output


def test_tokens_not_due_are_left_alone(refresh_run, world):
    open_id = world["fresh"]
    assert world["store"].get_grant(open_id).access_token == world["before"][open_id].access_token


def test_each_due_grant_costs_one_token_call(refresh_run, world):
    _, log = refresh_run
    token_calls = [e for e in log if e["endpoint"].startswith("oauth")]
    # Two refreshes and one refused (the emulator cannot name the user of a dead refresh token).
    assert len(token_calls) == 3
    assert sorted(e["open_id"] for e in token_calls if e["status"] == 200) == sorted(world["expiring"])


def test_the_refresh_is_logged_without_tokens(refresh_run, world):
    result, _ = refresh_run
    for grant in world["store"].list_grants():
        if grant.access_token is not None:
            assert grant.access_token.reveal() not in result.output
    assert "refreshed=2" in result.output
