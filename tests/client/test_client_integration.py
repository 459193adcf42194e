"""The sync client against the real emulator over loopback HTTP: every endpoint, every documented
error, quota and every fault kind, each with the client's defined outcome."""

from __future__ import annotations

import hashlib
import logging
import zipfile

import pytest

from tiktok_portability.client import TikTokClient
from tiktok_portability.client import errors as e
from tiktok_portability.client.models import TokenSet
from tiktok_portability.redact import Secret

from .fakes import RecordingLimiter
from .integration import ONGOING_ALL, REDIRECT_URI, emulator_config, user_with_tokens

FOUR_DAYS = 4 * 24 * 3600


@pytest.fixture
def client(emulator):
    with TikTokClient(emulator_config(emulator), RecordingLimiter()) as c:
        yield c


# Happy paths


def test_consent_to_archive_end_to_end(emulator, client, tmp_path):
    user = emulator.create_user(scopes=ONGOING_ALL, region="NL", size="tiny")
    code = emulator.authorization_code(user["open_id"], REDIRECT_URI)
    tokens = client.exchange_code(code, REDIRECT_URI)
    assert tokens.open_id == user["open_id"]
    assert tokens.scopes == ONGOING_ALL
    assert isinstance(tokens.access_token, Secret)

    rid = client.add_data_request(tokens.access_token, ["all_data"], "json", open_id=tokens.open_id)
    assert rid > 2**53  # the emulator hands out int64 ids beyond float precision
    assert emulator.request(rid)["request_id"] == rid

    status = client.check_status(tokens.access_token, rid)
    assert status.request_id == rid
    assert status.status == "downloading"
    assert status.categories == ["all_data"]
    assert status.data_format == "json"
    assert status.apply_time is not None

    target = tmp_path / "raw" / f"{rid}.zip"
    result = client.download(tokens.access_token, rid, target, open_id=tokens.open_id)
    data = target.read_bytes()
    assert result.size == len(data)
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    assert result.content_type.startswith("application/zip")
    with zipfile.ZipFile(target) as archive:
        assert archive.testzip() is None
        assert archive.namelist()
    assert emulator.request(rid)["downloaded"] is True
    assert client.limiter.acquired == ["oauth", "add", "check", "download"]


def test_refresh_rotates_the_pair_and_the_old_refresh_token_dies(emulator, client):
    open_id, tokens = user_with_tokens(emulator)
    fresh = client.refresh(tokens.refresh_token, open_id=open_id)
    assert fresh.refresh_token != tokens.refresh_token
    assert fresh.access_token != tokens.access_token
    assert fresh.open_id == open_id
    client.add_data_request(fresh.access_token)
    with pytest.raises(e.InvalidGrant):
        client.refresh(tokens.refresh_token, open_id=open_id)


def test_revoke_kills_the_access_token(emulator, client):
    _, tokens = user_with_tokens(emulator)
    client.revoke(tokens.access_token)
    with pytest.raises(e.TokenExpired):
        client.add_data_request(tokens.access_token)


def test_cancel_then_an_ongoing_grant_may_request_again(emulator, client):
    emulator.configure(prep_delay_s=3600)
    _, tokens = user_with_tokens(emulator)
    rid = client.add_data_request(tokens.access_token)
    assert client.check_status(tokens.access_token, rid).status == "pending"
    client.cancel(tokens.access_token, rid)
    cancelled = client.check_status(tokens.access_token, rid)
    assert cancelled.status == "cancelled"
    assert cancelled.is_final
    assert client.add_data_request(tokens.access_token) != rid


def test_ongoing_allows_one_request_in_flight_and_another_after_download(emulator, client, tmp_path):
    _, tokens = user_with_tokens(emulator)
    first = client.add_data_request(tokens.access_token)
    with pytest.raises(e.InvalidRequest, match="in flight"):
        client.add_data_request(tokens.access_token)
    client.download(tokens.access_token, first, tmp_path / "1.zip")
    second = client.add_data_request(tokens.access_token)
    assert second != first


def test_a_single_scope_serves_one_request_only(emulator, client):
    _, tokens = user_with_tokens(emulator, scopes=["portability.activity.single"])
    client.add_data_request(tokens.access_token, ["activity"])
    with pytest.raises(e.ScopeNotAuthorized):
        client.add_data_request(tokens.access_token, ["activity"])


def test_a_ready_archive_expires_after_four_days(emulator, client, tmp_path):
    _, tokens = user_with_tokens(emulator)
    emulator.configure(access_token_ttl_s=10 * FOUR_DAYS)
    tokens = TokenSet.from_response(emulator.issue_tokens(tokens.open_id))
    rid = client.add_data_request(tokens.access_token)
    emulator.advance(FOUR_DAYS + 60)
    assert client.check_status(tokens.access_token, rid).status == "expired"
    with pytest.raises(e.InvalidRequest, match="expired"):
        client.download(tokens.access_token, rid, tmp_path / "a.zip")
    assert list(tmp_path.iterdir()) == []


# Documented errors


def test_unknown_request_id_is_invalid(emulator, client, tmp_path):
    _, tokens = user_with_tokens(emulator)
    with pytest.raises(e.InvalidRequest) as info:
        client.check_status(tokens.access_token, 2**62 + 1)
    assert info.value.http_status == 400
    assert info.value.code == "invalid_params"
    assert info.value.log_id
    with pytest.raises(e.InvalidRequest):
        client.download(tokens.access_token, 2**62 + 1, tmp_path / "a.zip")
    with pytest.raises(e.InvalidRequest):
        client.cancel(tokens.access_token, 2**62 + 1)


def test_a_wrong_or_expired_access_token_is_token_expired(emulator, client):
    _, tokens = user_with_tokens(emulator)
    with pytest.raises(e.TokenExpired) as info:
        client.add_data_request("act.not-a-real-token")
    assert info.value.http_status == 401
    emulator.advance(2 * 3600 + 1)
    with pytest.raises(e.TokenExpired):
        client.add_data_request(tokens.access_token)


def test_a_category_outside_the_grant_is_scope_not_authorized(emulator, client):
    _, tokens = user_with_tokens(emulator, scopes=["portability.activity.ongoing"])
    with pytest.raises(e.ScopeNotAuthorized):
        client.add_data_request(tokens.access_token, ["video"])


def test_users_outside_the_eea_are_scope_not_authorized(emulator, client):
    _, tokens = user_with_tokens(emulator, region="US")
    with pytest.raises(e.ScopeNotAuthorized, match="region"):
        client.add_data_request(tokens.access_token)


def test_oauth_errors(emulator, client):
    user = emulator.create_user(scopes=ONGOING_ALL, region="NL")
    code = emulator.authorization_code(user["open_id"], REDIRECT_URI)
    client.exchange_code(code, REDIRECT_URI)
    with pytest.raises(e.InvalidGrant):
        client.exchange_code(code, REDIRECT_URI)  # codes are single use
    with pytest.raises(e.InvalidGrant):
        client.refresh("rft.unknown")
    bad_config = emulator_config(emulator, client_secret="wrong-secret")
    with TikTokClient(bad_config) as bad, pytest.raises(e.InvalidClient):
        bad.refresh("rft.unknown")


def test_a_user_who_removed_the_app_loses_tokens_and_refresh(emulator, client):
    open_id, tokens = user_with_tokens(emulator)
    emulator.revoke_user(open_id)
    with pytest.raises(e.TokenExpired):
        client.check_status(tokens.access_token, 1)
    with pytest.raises(e.InvalidGrant):
        client.refresh(tokens.refresh_token)


# Quota


def test_quota_exhaustion_is_absorbed_by_backoff_and_recovers(emulator):
    emulator.configure(quota_per_minute=2, quota_window_s=0.5)
    _, tokens = user_with_tokens(emulator)
    limiter = RecordingLimiter()
    with TikTokClient(emulator_config(emulator, max_retries=8), limiter) as c:
        rid = c.add_data_request(tokens.access_token)
        statuses = [c.check_status(tokens.access_token, rid).status for _ in range(5)]
    assert statuses == ["downloading"] * 5
    checks = [row for row in emulator.log(endpoint="check")]
    assert sum(1 for row in checks if row["status"] == 429) >= 1
    assert sum(1 for row in checks if row["status"] == 200) == 5
    assert limiter.rate_limited
    assert all(endpoint == "check" for endpoint, _ in limiter.rate_limited)


def test_quota_is_counted_per_endpoint_by_default(emulator, client):
    emulator.configure(quota_per_minute=1, quota_window_s=60)
    _, tokens = user_with_tokens(emulator)
    rid = client.add_data_request(tokens.access_token)
    client.check_status(tokens.access_token, rid)  # its own budget, not the add one
    assert client.limiter.rate_limited == []


def test_a_shared_quota_runs_out_across_endpoints(emulator):
    emulator.configure(quota_per_minute=2, quota_window_s=60, quota_mode="shared")
    _, tokens = user_with_tokens(emulator)
    with TikTokClient(emulator_config(emulator)) as c:
        rid = c.add_data_request(tokens.access_token)
        c.check_status(tokens.access_token, rid)
    with TikTokClient(emulator_config(emulator, max_retries=0)) as c, pytest.raises(e.RateLimited) as info:
        c.cancel(tokens.access_token, rid)
    assert info.value.http_status == 429
    assert info.value.code == "rate_limit_exceeded"


def test_retry_after_is_honoured_when_the_server_sends_it(emulator):
    emulator.configure(quota_per_minute=1, quota_window_s=1, retry_after=True)
    _, tokens = user_with_tokens(emulator)
    limiter = RecordingLimiter()
    with TikTokClient(emulator_config(emulator), limiter) as c:
        rid = c.add_data_request(tokens.access_token)
        c.check_status(tokens.access_token, rid)
        c.check_status(tokens.access_token, rid)
    assert limiter.rate_limited == [("check", 1.0)]


# Faults


def test_rate_limit_burst_is_retried(emulator, client):
    _, tokens = user_with_tokens(emulator)
    emulator.fault("rate_limit_burst", count=2, endpoint="add")
    rid = client.add_data_request(tokens.access_token)
    assert rid
    assert [row["status"] for row in emulator.log(endpoint="add")] == [429, 429, 200]
    assert client.limiter.rate_limited == [("add", None), ("add", None)]


def test_server_errors_are_retried_on_every_portability_endpoint(emulator, client, tmp_path):
    _, tokens = user_with_tokens(emulator)
    for endpoint in ("add", "check", "download"):
        emulator.fault("server_error", count=1, endpoint=endpoint, status=503)
    rid = client.add_data_request(tokens.access_token)
    client.check_status(tokens.access_token, rid)
    assert client.download(tokens.access_token, rid, tmp_path / "a.zip").attempts == 2


def test_persistent_server_errors_give_up_with_server_error(emulator):
    _, tokens = user_with_tokens(emulator)
    emulator.fault("server_error", count=None, endpoint="check")
    with TikTokClient(emulator_config(emulator, max_retries=2)) as c, pytest.raises(e.ServerError) as info:
        c.check_status(tokens.access_token, 1)
    assert info.value.code == "internal_error"
    assert len(emulator.log(endpoint="check")) == 3


def test_a_slow_answer_within_the_timeout_is_fine(emulator, client):
    _, tokens = user_with_tokens(emulator)
    emulator.fault("slow", count=1, endpoint="add", delay_s=0.2)
    assert client.add_data_request(tokens.access_token)


def test_a_timeout_on_check_is_retried(emulator):
    _, tokens = user_with_tokens(emulator)
    with TikTokClient(emulator_config(emulator, timeout_s=0.3)) as c:
        rid = c.add_data_request(tokens.access_token)
        emulator.fault("timeout", count=1, endpoint="check", delay_s=1.0)
        assert c.check_status(tokens.access_token, rid).is_ready


def test_a_timeout_on_add_is_an_unknown_outcome_never_a_blind_retry(emulator):
    open_id, tokens = user_with_tokens(emulator)
    emulator.fault("timeout", count=1, endpoint="add", delay_s=0.6)
    with (
        TikTokClient(emulator_config(emulator, timeout_s=0.3)) as c,
        pytest.raises(e.AddOutcomeUnknown) as info,
    ):
        c.add_data_request(tokens.access_token, open_id=open_id)
    assert isinstance(info.value.__cause__, e.TransportTimeout)
    emulator.wait_until(lambda: emulator.log(endpoint="add"), what="the delayed add to finish")
    assert len(emulator.log(endpoint="add")) == 1


def test_a_dropped_download_is_restarted(emulator, client, tmp_path):
    _, tokens = user_with_tokens(emulator)
    rid = client.add_data_request(tokens.access_token)
    emulator.fault("drop_download", count=1)
    result = client.download(tokens.access_token, rid, tmp_path / "a.zip")
    assert result.attempts == 2
    with zipfile.ZipFile(tmp_path / "a.zip") as archive:
        assert archive.testzip() is None


@pytest.mark.parametrize("kind", ["truncate_zip", "corrupt_zip"])
def test_a_bad_archive_is_downloaded_again(emulator, client, tmp_path, kind):
    _, tokens = user_with_tokens(emulator)
    rid = client.add_data_request(tokens.access_token)
    emulator.fault(kind, count=1)
    result = client.download(tokens.access_token, rid, tmp_path / "a.zip")
    assert result.attempts == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.zip"]


@pytest.mark.parametrize(
    ("kind", "error"), [("truncate_zip", e.ArchiveError), ("corrupt_zip", e.ArchiveCorrupt)]
)
def test_an_archive_that_stays_bad_is_an_archive_error(emulator, tmp_path, kind, error):
    _, tokens = user_with_tokens(emulator)
    with TikTokClient(emulator_config(emulator, max_retries=1)) as c:
        rid = c.add_data_request(tokens.access_token)
        emulator.fault(kind, count=None)
        with pytest.raises(error):
            c.download(tokens.access_token, rid, tmp_path / "a.zip")
    assert list(tmp_path.iterdir()) == []


def test_a_token_revoked_mid_run_is_token_expired(emulator, client):
    open_id, tokens = user_with_tokens(emulator)
    rid = client.add_data_request(tokens.access_token)
    emulator.fault("revoke_token", count=1, endpoint="check", open_id=open_id)
    with pytest.raises(e.TokenExpired):
        client.check_status(tokens.access_token, rid)
    with pytest.raises(e.InvalidGrant):
        client.refresh(tokens.refresh_token)


def test_an_expired_request_is_reported_as_expired(emulator, client, tmp_path):
    _, tokens = user_with_tokens(emulator)
    rid = client.add_data_request(tokens.access_token)
    emulator.fault("expire_request", count=1, endpoint="check")
    assert client.check_status(tokens.access_token, rid).status == "expired"
    with pytest.raises(e.InvalidRequest):
        client.download(tokens.access_token, rid, tmp_path / "a.zip")


def test_a_server_error_on_refresh_is_an_unknown_outcome_not_a_retry(emulator, client):
    open_id, tokens = user_with_tokens(emulator)
    emulator.fault("server_error", count=1, endpoint="oauth_token")
    with pytest.raises(e.RefreshOutcomeUnknown):
        client.refresh(tokens.refresh_token, open_id=open_id)
    assert len(emulator.log(endpoint="oauth_token")) == 1
    # Here the server had not rotated, so the stored refresh token still works.
    assert client.refresh(tokens.refresh_token, open_id=open_id).open_id == open_id


# Secrets


def test_no_secret_reaches_the_logs_of_a_real_exchange(emulator, caplog, tmp_path):
    user = emulator.create_user(scopes=ONGOING_ALL, region="NL")
    code = emulator.authorization_code(user["open_id"], REDIRECT_URI)
    emulator.fault("server_error", count=1, endpoint="check")
    with caplog.at_level(logging.DEBUG), TikTokClient(emulator_config(emulator)) as c:
        tokens = c.exchange_code(code, REDIRECT_URI)
        fresh = c.refresh(tokens.refresh_token, open_id=tokens.open_id)
        rid = c.add_data_request(fresh.access_token, open_id=tokens.open_id)
        c.check_status(fresh.access_token, rid, open_id=tokens.open_id)
        c.download(fresh.access_token, rid, tmp_path / "a.zip", open_id=tokens.open_id)
        c.revoke(fresh.access_token, open_id=tokens.open_id)
        with pytest.raises(e.TokenExpired) as info:
            c.check_status(fresh.access_token, rid, open_id=tokens.open_id)
    secrets = [
        code,
        emulator.client_secret,
        tokens.access_token.reveal(),
        tokens.refresh_token.reveal(),
        fresh.access_token.reveal(),
        fresh.refresh_token.reveal(),
    ]
    texts = [caplog.text, str(info.value), repr(info.value), repr(tokens), repr(fresh), repr(c.config)]
    assert any("retrying" in r.getMessage() for r in caplog.records)
    for text in texts:
        for secret in secrets:
            assert secret not in text
        assert user["open_id"] not in text
