"""Several OS processes share one limiter through the state store, against the emulator's quota.

The emulator enforces 30 calls per 3 s sliding window on Check Status; four processes hammer it for
~9.5 s. From the emulator's own request log: no rolling window over the limit, no 429, and the
throughput within 10% of the quota.
"""

from __future__ import annotations

import multiprocessing
import time

from tests.state.stores import KEY_A
from tiktok_portability.client import ClientConfig, TikTokClient, TokenSet
from tiktok_portability.quota import QuotaConfig, QuotaLimiter
from tiktok_portability.redact import Secret
from tiktok_portability.state import StateStore

QUOTA = 30
WINDOW_S = 3.0
PROCESSES = 4
RUN_S = 9.5


def _hammer(store_url: str, base_url: str, key: str, secret: str, token: str, request_id: int, until: float):
    store = StateStore.from_url(store_url, fernet_keys=[KEY_A])
    limiter = QuotaLimiter(
        store, QuotaConfig(per_window=QUOTA, window_s=WINDOW_S, safety_margin=0, window_padding_s=0.15)
    )
    config = ClientConfig(client_key=key, client_secret=Secret(secret), base_url=base_url, max_retries=0)
    with TikTokClient(config, limiter=limiter) as client:
        while time.time() < until:
            client.check_status(Secret(token), request_id)
    store.close()


def test_processes_sharing_the_limiter_stay_within_the_emulator_quota(emulator, store_url):
    emulator.configure(quota_per_minute=QUOTA, quota_window_s=WINDOW_S, quota_mode="per_endpoint")
    user = emulator.create_user(scopes=["portability.all.ongoing"], region="NL", size="tiny")
    tokens = TokenSet.from_response(emulator.issue_tokens(user["open_id"]))
    config = ClientConfig(
        client_key=emulator.client_key,
        client_secret=Secret(emulator.client_secret),
        base_url=emulator.base_url,
    )
    with TikTokClient(config) as client:
        request_id = client.add_data_request(tokens.access_token, ["all_data"])
    StateStore.from_url(store_url, fernet_keys=[KEY_A]).close()  # migrate once before the race

    start = time.time()
    ctx = multiprocessing.get_context("fork")
    args = (
        store_url,
        emulator.base_url,
        emulator.client_key,
        emulator.client_secret,
        tokens.access_token.reveal(),
        request_id,
        start + RUN_S,
    )
    procs = [ctx.Process(target=_hammer, args=args) for _ in range(PROCESSES)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0

    calls = [e for e in emulator.log(since=start - 1) if e["endpoint"] == "check"]
    assert [e for e in calls if e["status"] == 429] == []
    stamps = sorted(e["ts"] for e in calls)
    busiest = max(sum(1 for t in stamps[i:] if t < s + WINDOW_S) for i, s in enumerate(stamps))
    assert busiest <= QUOTA
    first = stamps[0]
    windows = 3
    in_three_windows = sum(1 for t in stamps if t < first + windows * WINDOW_S)
    assert in_three_windows >= 0.9 * QUOTA * windows
