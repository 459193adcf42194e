"""Both TikTok error envelopes map onto the client's exception hierarchy."""

from __future__ import annotations

import httpx
import pytest

from tiktok_portability.client import TikTokClient
from tiktok_portability.client import errors as e
from tiktok_portability.redact import fingerprint

from .fakes import (
    ACCESS_TOKEN,
    CLIENT_SECRET,
    OPEN_ID,
    REFRESH_TOKEN,
    Script,
    config,
    fail,
    oauth_fail,
    token_body,
)


def client_for(script: Script, **overrides) -> TikTokClient:
    return TikTokClient(
        config(**{"max_retries": 0, **overrides}), transport=script.transport(), sleep=lambda s: None
    )


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (401, "access_token_invalid", e.TokenExpired),
        (401, "scope_not_authorized", e.ScopeNotAuthorized),
        (400, "scope_permission_missed", e.ScopeNotAuthorized),
        (400, "invalid_params", e.InvalidRequest),
        (429, "rate_limit_exceeded", e.RateLimited),
        (500, "internal_error", e.ServerError),
        # Codes we have never seen fall back to the HTTP status class.
        (403, "brand_new_code", e.AuthError),
        (404, "brand_new_code", e.InvalidRequest),
        (503, "brand_new_code", e.ServerError),
        (429, "brand_new_code", e.RateLimited),
    ],
)
def test_portability_envelope_maps_code_then_status(status, code, expected):
    script = Script(fail(status, code, "explained"))
    with client_for(script) as client, pytest.raises(expected) as info:
        client.check_status(ACCESS_TOKEN, 42, open_id=OPEN_ID)
    err = info.value
    assert type(err) is expected
    assert (err.code, err.http_status, err.log_id) == (code, status, f"log-{code}")
    assert "check_status" in str(err)
    assert f"user={fingerprint(OPEN_ID)}" in str(err)
    assert "request_id=42" in str(err)
    assert "explained" in str(err)
    assert OPEN_ID not in str(err)


@pytest.mark.parametrize(
    ("cls", "retryable"),
    [
        (e.TokenExpired, False),
        (e.ScopeNotAuthorized, False),
        (e.InvalidRequest, False),
        (e.RateLimited, True),
        (e.ServerError, True),
        (e.TransportError, True),
        (e.ArchiveTruncated, True),
        (e.ArchiveCorrupt, True),
        (e.InvalidGrant, False),
        (e.AddOutcomeUnknown, False),
        (e.RefreshOutcomeUnknown, False),
    ],
)
def test_retryable_flag_per_class(cls, retryable):
    assert cls("x").retryable is retryable


def test_hierarchy_lets_callers_catch_by_family():
    assert issubclass(e.TokenExpired, e.AuthError)
    assert issubclass(e.ScopeNotAuthorized, e.AuthError)
    assert issubclass(e.InvalidGrant, e.OAuthError)
    assert issubclass(e.TransportTimeout, e.TransportError)
    assert issubclass(e.ArchiveTruncated, e.ArchiveError)
    assert not issubclass(e.RefreshOutcomeUnknown, e.TransportError)
    assert all(
        issubclass(c, e.TikTokError) for c in (e.AuthError, e.OAuthError, e.ArchiveError, e.OutcomeUnknown)
    )


def test_rate_limited_carries_retry_after_seconds():
    script = Script(fail(429, "rate_limit_exceeded", headers={"Retry-After": "7"}))
    with client_for(script) as client, pytest.raises(e.RateLimited) as info:
        client.check_status(ACCESS_TOKEN, 1)
    assert info.value.retry_after_s == 7.0


def test_rate_limited_without_retry_after_has_none():
    script = Script(fail(429, "rate_limit_exceeded"))
    with client_for(script) as client, pytest.raises(e.RateLimited) as info:
        client.add_data_request(ACCESS_TOKEN, ["activity"])
    assert info.value.retry_after_s is None


def test_non_json_5xx_is_a_server_error():
    script = Script(httpx.Response(502, text="<html>Bad gateway</html>"))
    with client_for(script) as client, pytest.raises(e.ServerError) as info:
        client.cancel(ACCESS_TOKEN, 5)
    assert info.value.http_status == 502


def test_success_status_without_an_envelope_is_unexpected():
    script = Script(httpx.Response(200, text="hello"))
    with client_for(script) as client, pytest.raises(e.UnexpectedResponse):
        client.check_status(ACCESS_TOKEN, 5)


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (400, "invalid_grant", e.InvalidGrant),
        (401, "invalid_client", e.InvalidClient),
        (400, "unauthorized_client", e.InvalidClient),
        (400, "access_denied", e.OAuthError),
        (400, "unsupported_grant_type", e.OAuthError),
        # TikTok's token endpoint sometimes answers 200 with an error body: an error at any status.
        (200, "invalid_grant", e.InvalidGrant),
        (200, "invalid_client", e.InvalidClient),
        (200, "access_denied", e.OAuthError),
        (201, "invalid_grant", e.InvalidGrant),
        (429, "rate_limit_exceeded", e.RateLimited),
    ],
)
def test_oauth_envelope_maps_to_oauth_errors(status, code, expected):
    script = Script(oauth_fail(status, code, "refresh token is revoked"))
    with client_for(script) as client, pytest.raises(expected) as info:
        client.refresh(REFRESH_TOKEN, open_id=OPEN_ID)
    assert type(info.value) is expected
    assert info.value.code == code
    assert info.value.log_id == f"log-{code}"
    assert "refresh" in str(info.value)


@pytest.mark.parametrize("status", [200, 400, 503])
def test_temporarily_unavailable_is_retried_at_any_status_even_for_a_refresh(status):
    # RFC 6749: the server did not act, so even a refresh (never resent after a 5xx, which may
    # have rotated the token) is safe to send again.
    script = Script(oauth_fail(status, "temporarily_unavailable"), httpx.Response(200, json=token_body()))
    with client_for(script, max_retries=2) as client:
        tokens = client.refresh(REFRESH_TOKEN, open_id=OPEN_ID)
    assert tokens.open_id == OPEN_ID
    assert len(script.requests) == 2


def test_temporarily_unavailable_until_the_retries_run_out_is_raised_as_such():
    script = Script(*[oauth_fail(200, "temporarily_unavailable")] * 3)
    with client_for(script, max_retries=2) as client, pytest.raises(e.TemporarilyUnavailable) as info:
        client.refresh(REFRESH_TOKEN, open_id=OPEN_ID)
    assert info.value.code == "temporarily_unavailable"
    assert info.value.http_status == 200


def test_a_server_echoing_a_secret_does_not_leak_it_into_the_error():
    script = Script(oauth_fail(400, "invalid_grant", f"token {REFRESH_TOKEN} with secret {CLIENT_SECRET}"))
    with client_for(script) as client, pytest.raises(e.InvalidGrant) as info:
        client.refresh(REFRESH_TOKEN)
    for text in (str(info.value), repr(info.value)):
        assert REFRESH_TOKEN not in text
        assert CLIENT_SECRET not in text


def test_an_ok_code_with_a_failing_status_is_still_a_failure():
    body = {"data": {}, "error": {"code": "ok", "message": "", "log_id": "l"}}
    script = Script(httpx.Response(503, json=body))
    with client_for(script) as client, pytest.raises(e.ServerError):
        client.check_status(ACCESS_TOKEN, 1)
