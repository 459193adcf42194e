"""The quota limiter: sliding-window guarantee, global pause on 429, async use, usage records."""

from __future__ import annotations

import time

import pytest

from tests.state.stores import KEY_A
from tiktok_portability.quota import QuotaConfig, QuotaLimiter, QuotaTimeout
from tiktok_portability.state import StateStore


def test_limit_keeps_the_safety_margin_and_never_drops_to_zero():
    assert QuotaConfig(per_window=1000, safety_margin=0.05).limit_for("add") == 950
    assert QuotaConfig(per_window=30, safety_margin=0).limit_for("download") == 30
    assert QuotaConfig(per_window=1, safety_margin=0.5).limit_for("add") == 1
    assert QuotaConfig(oauth_per_window=100, safety_margin=0.1).limit_for("oauth") == 90


def test_buckets_per_endpoint_or_shared_with_oauth_apart():
    per = QuotaConfig()
    shared = QuotaConfig(mode="shared", namespace="app1")
    assert [per.bucket_for(e) for e in ("add", "check", "oauth")] == ["add", "check", "oauth"]
    assert [shared.bucket_for(e) for e in ("add", "download", "oauth")] == [
        "app1:shared",
        "app1:shared",
        "app1:oauth",
    ]


@pytest.mark.parametrize(
    "bad",
    [
        {"per_window": 0},
        {"window_s": 0},
        {"safety_margin": 1.0},
        {"mode": "global"},
        {"window_padding_s": -1},
    ],
)
def test_invalid_settings_are_refused(bad):
    with pytest.raises(ValueError, match="quota"):
        QuotaConfig(**bad)


def test_no_rolling_window_ever_holds_more_than_the_limit(store):
    limit, window = 5, 0.4
    granted: list[float] = []
    while len(granted) < 4 * limit:
        decision = store.quota_try_acquire("check", limit, window)
        if decision.granted:
            granted.append(decision.granted_at)
        else:
            time.sleep(decision.wait_s)
    for i, start in enumerate(granted):
        assert sum(1 for ts in granted[i:] if ts < start + window) <= limit


def test_the_call_after_the_limit_waits(store):
    limiter = QuotaLimiter(store, QuotaConfig(per_window=3, window_s=60, safety_margin=0))
    for _ in range(3):
        limiter.acquire("add", timeout=1)
    with pytest.raises(QuotaTimeout, match="'add'"):
        limiter.acquire("add", timeout=0.05)
    limiter.acquire("download", timeout=1)  # per-endpoint buckets are independent


def test_a_rate_limit_seen_by_one_worker_pauses_every_worker(store, store_url):
    config = QuotaConfig(per_window=100, window_s=60, mode="shared")
    worker_a = QuotaLimiter(store, config)
    worker_b = QuotaLimiter(StateStore.from_url(store_url, fernet_keys=[KEY_A]), config)
    worker_a.report_rate_limited("add", retry_after_s=30)
    with pytest.raises(QuotaTimeout, match="paused=True"):
        worker_b.acquire("download", timeout=0.05)
    worker_b.acquire("oauth", timeout=1)  # the OAuth bucket is not TikTok's portability quota
    worker_b.store.close()


def test_without_retry_after_the_pause_lasts_a_window(store):
    limiter = QuotaLimiter(store, QuotaConfig(window_s=60))
    limiter.report_rate_limited("add", None)
    decision = store.quota_try_acquire("add", 10, 60)
    assert decision.paused
    assert 55 < decision.wait_s <= 60


async def test_async_acquire_shares_the_same_slots(store):
    limiter = QuotaLimiter(store, QuotaConfig(per_window=2, window_s=60, safety_margin=0))
    await limiter.acquire_async("check")
    limiter.acquire("check")
    with pytest.raises(QuotaTimeout):
        await limiter.acquire_async("check", timeout=0.05)


def test_usage_is_recorded_per_bucket(store):
    limiter = QuotaLimiter(store, QuotaConfig(per_window=50, safety_margin=0))
    for endpoint in ("add", "add", "download", "oauth"):
        limiter.acquire(endpoint)
    assert limiter.usage() == {"add": 2, "download": 1, "oauth": 1}
    assert sum(calls for _, calls in store.quota_usage_by_minute("add")) == 2
