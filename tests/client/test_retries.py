"""Retries: only retryable failures, full-jitter backoff, Retry-After, and no blind re-sends of
calls that are not idempotent (Add Data Request, token grants)."""

from __future__ import annotations

import random

import httpx
import pytest

from tiktok_portability.client import TikTokClient
from tiktok_portability.client import errors as e
from tiktok_portability.client.retry import RetryPolicy, parse_retry_after, seconds_to_next_window

from .fakes import (
    ACCESS_TOKEN,
    REFRESH_TOKEN,
    RecordingLimiter,
    Script,
    Sleeps,
    config,
    fail,
    ok,
    token_body,
)


def make(script: Script, **overrides) -> tuple[TikTokClient, Sleeps, RecordingLimiter]:
    sleeps, limiter = Sleeps(), RecordingLimiter()
    client = TikTokClient(
        config(**overrides), limiter, transport=script.transport(), sleep=sleeps, rng=random.Random(7)
    )
    return client, sleeps, limiter


def read_timeout() -> httpx.ReadTimeout:
    return httpx.ReadTimeout("timed out")


def connect_error() -> httpx.ConnectError:
    return httpx.ConnectError("connection refused")


def test_full_jitter_backoff_stays_under_the_capped_exponential():
    policy = RetryPolicy(backoff_base_s=0.5, backoff_max_s=4, rng=random.Random(1))
    for n, ceiling in enumerate([0.5, 1, 2, 4, 4, 4]):
        samples = [policy.backoff(n) for _ in range(200)]
        assert all(0 <= s <= ceiling for s in samples)
        assert max(samples) > ceiling * 0.8  # actually spread over the range, not a constant


def test_server_errors_are_retried_and_the_limiter_is_asked_each_time():
    script = Script(fail(500, "internal_error"), fail(503, "internal_error"), ok({"status": "pending"}))
    client, sleeps, limiter = make(script)
    with client:
        status = client.check_status(ACCESS_TOKEN, 9)
    assert status.status == "pending"
    assert len(script.requests) == 3
    assert limiter.acquired == ["check"] * 3
    assert len(sleeps.delays) == 2
    assert 0 <= sleeps.delays[0] <= 0.5
    assert 0 <= sleeps.delays[1] <= 1.0


def test_retries_stop_after_max_retries_with_the_last_error():
    script = Script(*[fail(500, "internal_error")] * 3)
    client, sleeps, _ = make(script, max_retries=2)
    with client, pytest.raises(e.ServerError):
        client.cancel(ACCESS_TOKEN, 9)
    assert len(script.requests) == 3
    assert len(sleeps.delays) == 2


@pytest.mark.parametrize(
    "answer",
    [fail(400, "invalid_params"), fail(401, "access_token_invalid"), fail(401, "scope_not_authorized")],
)
def test_non_retryable_errors_are_raised_at_once(answer):
    script = Script(answer)
    client, sleeps, _ = make(script)
    with client, pytest.raises(e.TikTokError) as info:
        client.check_status(ACCESS_TOKEN, 9)
    assert not info.value.retryable
    assert len(script.requests) == 1
    assert sleeps.delays == []


def test_429_honours_retry_after_and_reports_to_the_limiter():
    script = Script(fail(429, "rate_limit_exceeded", headers={"Retry-After": "3"}), ok({"request_id": 11}))
    client, sleeps, limiter = make(script)
    with client:
        assert client.add_data_request(ACCESS_TOKEN) == 11
    assert limiter.rate_limited == [("add", 3.0)]
    assert limiter.acquired == ["add", "add"]
    assert 3.0 <= sleeps.delays[0] <= 3.5


def test_429_without_retry_after_waits_for_the_next_window(monkeypatch):
    monkeypatch.setattr("tiktok_portability.client.retry.clock.now_ts", lambda: 600 + 45.0)
    script = Script(fail(429, "rate_limit_exceeded"), ok({"status": "pending"}))
    client, sleeps, limiter = make(script)
    with client:
        client.check_status(ACCESS_TOKEN, 1)
    assert limiter.rate_limited == [("check", None)]
    assert 15.0 <= sleeps.delays[0] <= 15.5


def test_a_retry_after_beyond_the_cap_goes_back_to_the_caller():
    script = Script(fail(429, "rate_limit_exceeded", headers={"Retry-After": "3600"}))
    client, sleeps, _ = make(script, max_retry_after_s=120)
    with client, pytest.raises(e.RateLimited) as info:
        client.check_status(ACCESS_TOKEN, 1)
    assert info.value.retry_after_s == 3600
    assert sleeps.delays == []


def test_retry_after_parsing():
    assert parse_retry_after("12") == 12.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now=1445412500.0) == 10.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412500.0) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
    assert seconds_to_next_window(60, now=125.0) == 55.0


def test_idempotent_calls_retry_timeouts_and_dropped_connections():
    script = Script(read_timeout(), httpx.RemoteProtocolError("server hung up"), ok())
    client, sleeps, _ = make(script)
    with client:
        client.cancel(ACCESS_TOKEN, 3)
    assert len(script.requests) == 3
    assert len(sleeps.delays) == 2


def test_timeouts_surface_as_transport_timeout_when_retries_run_out():
    script = Script(read_timeout(), read_timeout())
    client, _, _ = make(script, max_retries=1)
    with client, pytest.raises(e.TransportTimeout) as info:
        client.check_status(ACCESS_TOKEN, 3)
    assert info.value.retryable
    assert info.value.request_sent


def test_add_is_not_resent_after_the_request_may_have_arrived():
    script = Script(read_timeout())
    client, _, _ = make(script)
    with client, pytest.raises(e.AddOutcomeUnknown) as info:
        client.add_data_request(ACCESS_TOKEN)
    assert len(script.requests) == 1
    assert not info.value.retryable
    assert isinstance(info.value.__cause__, e.TransportTimeout)
    assert "add_data_request" in str(info.value)


def test_add_is_retried_when_the_connection_never_opened_or_the_server_reported_failure():
    script = Script(connect_error(), fail(500, "internal_error"), ok({"request_id": 77}))
    client, _, _ = make(script)
    with client:
        assert client.add_data_request(ACCESS_TOKEN) == 77
    assert len(script.requests) == 3


@pytest.mark.parametrize(
    "failure", [read_timeout(), httpx.RemoteProtocolError("dropped"), httpx.Response(502, text="bad gateway")]
)
def test_refresh_is_never_resent_when_the_token_may_have_rotated(failure):
    script = Script(failure)
    client, sleeps, _ = make(script)
    with client, pytest.raises(e.RefreshOutcomeUnknown) as info:
        client.refresh(REFRESH_TOKEN, open_id="alice")
    assert len(script.requests) == 1
    assert sleeps.delays == []
    assert REFRESH_TOKEN not in str(info.value)


def test_refresh_retries_when_the_server_provably_did_nothing():
    script = Script(connect_error(), fail(429, "rate_limit_exceeded", headers={"Retry-After": "1"}))
    script.steps.append(httpx.Response(200, json=token_body(access="act.ROTATED")))
    client, _, limiter = make(script)
    with client:
        tokens = client.refresh(REFRESH_TOKEN)
    assert tokens.access_token.reveal() == "act.ROTATED"
    assert limiter.acquired == ["oauth"] * 3


def test_exchange_code_outcome_unknown_after_a_read_timeout():
    script = Script(read_timeout())
    client, _, _ = make(script)
    with client, pytest.raises(e.OutcomeUnknown):
        client.exchange_code("code-1", "https://app.example/cb")
    assert len(script.requests) == 1


def test_max_retries_zero_means_one_attempt():
    script = Script(fail(500, "internal_error"))
    client, sleeps, _ = make(script, max_retries=0)
    with client, pytest.raises(e.ServerError):
        client.check_status(ACCESS_TOKEN, 1)
    assert len(script.requests) == 1
    assert sleeps.delays == []
