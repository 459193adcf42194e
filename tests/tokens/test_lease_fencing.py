"""The refresh lease fences what its holder writes, and bounds how long it waits, across processes.

The race: worker A holds a grant's lease and sends the refresh; its call hangs past the lease;
worker B takes the lease over and refreshes (TikTok rotates the token); A's call then reaches
TikTok with the old token and is refused. A must not mark the healthy grant needs_reauth.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from datetime import timedelta

import pytest

from tests.state.stores import KEY_A
from tiktok_portability.client import ClientConfig, TikTokClient, TokenSet
from tiktok_portability.client.errors import RateLimited
from tiktok_portability.quota import QuotaConfig, QuotaLimiter
from tiktok_portability.redact import Secret
from tiktok_portability.state import LeaseLost, StateStore
from tiktok_portability.tokens import RefreshFailed, ensure_fresh, refresh_locked

# Worker A, in its own process: take the lease for ``lease_s``, refresh (its call is slowed by the
# emulator past the lease), print what happened as JSON.
WORKER_A = textwrap.dedent(
    """
    import json, sys
    from tiktok_portability.client import ClientConfig, TikTokClient
    from tiktok_portability.redact import Secret
    from tiktok_portability.state import StateStore
    from tiktok_portability.tokens import TokenError, refresh_locked

    url, key, base, client_key, secret, open_id, lease_s = sys.argv[1:]
    store = StateStore.from_url(url, [key])
    config = ClientConfig(client_key=client_key, client_secret=Secret(secret), base_url=base,
                          max_retries=0, timeout_s=30)
    with TikTokClient(config) as client, store.refresh_lock(open_id, lease_s=float(lease_s)) as grant:
        print("LOCKED", flush=True)
        try:
            refresh_locked(store, client, grant)
            outcome = "refreshed"
        except TokenError as exc:
            outcome = f"{type(exc).__name__}: {exc}"
    print(json.dumps({"outcome": outcome}), flush=True)
    """
)


@pytest.fixture
def config(emulator) -> ClientConfig:
    return ClientConfig(
        client_key=emulator.client_key,
        client_secret=Secret(emulator.client_secret),
        base_url=emulator.base_url,
        max_retries=0,
    )


def _onboard(emulator, store: StateStore) -> str:
    user = emulator.create_user(scopes=["portability.all.ongoing"], region="NL", size="tiny")
    tokens = TokenSet.from_response(emulator.issue_tokens(user["open_id"]))
    store.upsert_grant(tokens.open_id, tokens.scopes, tokens)
    return tokens.open_id


def test_a_worker_whose_lease_was_taken_over_does_not_mark_the_grant(emulator, store_url, config):
    store = StateStore.from_url(store_url, [KEY_A])
    open_id = _onboard(emulator, store)
    # A's refresh reaches TikTok 4 s late, with the token B will have rotated by then.
    emulator.fault("slow", endpoint="oauth_token", delay_s=4, count=1)
    worker_a = subprocess.Popen(
        [
            sys.executable,
            "-c",
            WORKER_A,
            store_url,
            KEY_A,
            emulator.base_url,
            emulator.client_key,
            emulator.client_secret,
            open_id,
            "1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert worker_a.stdout.readline().strip() == "LOCKED", worker_a.stderr.read()
        time.sleep(0.3)  # A's call is in flight (held by the emulator)
        with TikTokClient(config) as client, store.refresh_lock(open_id, lease_s=30, wait_s=10) as grant:
            refreshed_by_b = refresh_locked(store, client, grant)
        out, err = worker_a.communicate(timeout=60)
    finally:
        if worker_a.poll() is None:
            worker_a.kill()
    result = json.loads(out.strip().splitlines()[-1])

    assert result["outcome"].startswith("LeaseTakenOver"), (result, err[-2000:])
    grant = store.get_grant(open_id)
    assert grant.status == "active"
    assert grant.refresh_token == refreshed_by_b.refresh_token
    assert grant.refresh_started_at is None
    with TikTokClient(config) as client:  # B's rotated token is the live one
        assert ensure_fresh(store, client, open_id, timedelta(days=2)) is not None
    store.close()


def test_a_fenced_write_names_the_lost_lease(emulator, store_url):
    store = StateStore.from_url(store_url, [KEY_A])
    open_id = _onboard(emulator, store)
    assert store.try_lock_refresh(open_id, "worker-b", lease_s=60)
    with pytest.raises(LeaseLost, match="taken over: not marking it needs_reauth"):
        store.mark_grant(open_id, "needs_reauth", "refused", lease_owner="worker-a")
    assert store.get_grant(open_id).status == "active"
    store.mark_grant(open_id, "needs_reauth", "refused", lease_owner="worker-b")
    assert store.get_grant(open_id).status == "needs_reauth"
    store.close()


def test_no_wait_inside_a_refresh_outlives_the_lease(emulator, store_url, config):
    store = StateStore.from_url(store_url, [KEY_A])
    open_id = _onboard(emulator, store)
    limiter = QuotaLimiter(store, QuotaConfig(per_window=1000, window_s=60, safety_margin=0.0))
    limiter.report_rate_limited("oauth", retry_after_s=30)  # every process must wait 30 s
    calls_before = len(emulator.log())
    with TikTokClient(config, limiter=limiter) as client:
        started = time.monotonic()
        with store.refresh_lock(open_id, lease_s=2) as grant, pytest.raises(RefreshFailed, match="failed"):
            refresh_locked(store, client, grant)
        waited = time.monotonic() - started
    assert waited < 2.0, "the quota wait ran past the lease"
    assert len(emulator.log()) == calls_before, "nothing was sent"
    grant = store.get_grant(open_id)
    assert grant.status == "active"
    assert grant.refresh_started_at is None, "a call never sent leaves no in-progress flag"
    store.close()


def test_the_client_gives_up_a_retry_pause_that_would_pass_its_deadline(emulator, config):
    emulator.fault("rate_limit_burst", endpoint="oauth_token", count=5, retry_after_s=30)
    user = emulator.create_user(scopes=["portability.all.ongoing"], region="NL", size="tiny")
    tokens = TokenSet.from_response(emulator.issue_tokens(user["open_id"]))
    retrying = replace(config, max_retries=3)
    with TikTokClient(retrying) as client:
        started = time.monotonic()
        with pytest.raises(RateLimited):
            client.refresh(tokens.refresh_token, open_id=user["open_id"], deadline=time.monotonic() + 5)
        assert time.monotonic() - started < 5
