"""Fault injection: each kind, its count and its endpoint/open_id filters."""

from __future__ import annotations

import io
import zipfile
import zlib

import httpx
import pytest

from tests.emulator.helpers import add, add_ok, api, check, download, error_code, status_of, user_with_token


def archive_is_intact(content: bytes) -> bool:
    """Whether every member reads back with a good CRC (a flipped byte breaks headers, data or CRC)."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as zf:
            return zf.testzip() is None
    except (zipfile.BadZipFile, zlib.error, EOFError, UnicodeDecodeError):
        return False


def test_rate_limit_burst_answers_429_for_count_calls(emulator):
    _, token = user_with_token(emulator)
    emulator.fault("rate_limit_burst", count=2, retry_after_s=7)
    with api(emulator) as c:
        first, second, third = (check(c, token, 1) for _ in range(3))

    assert [r.status_code for r in (first, second, third)] == [429, 429, 400]
    assert error_code(first) == "rate_limit_exceeded"
    assert first.headers["retry-after"] == "7"


def test_server_error_hits_only_the_chosen_endpoint_with_the_chosen_status(emulator):
    _, token = user_with_token(emulator)
    emulator.fault("server_error", endpoint="add", status=503)
    with api(emulator) as c:
        checked = check(c, token, 1)
        failed = add(c, token)
        retried = add(c, token)

    assert checked.status_code == 400
    assert failed.status_code == 503
    assert error_code(failed) == "internal_error"
    assert retried.status_code == 200


def test_faults_can_target_one_user(emulator):
    a, token_a = user_with_token(emulator)
    _, token_b = user_with_token(emulator)
    emulator.fault("server_error", open_id=a, count=None)
    with api(emulator) as c:
        b_ok = add(c, token_b)
        a_failed = [add(c, token_a).status_code for _ in range(2)]
    emulator.clear_faults()
    with api(emulator) as c:
        a_ok = add(c, token_a)

    assert b_ok.status_code == 200
    assert a_failed == [500, 500]
    assert a_ok.status_code == 200


def test_slow_responses_still_succeed(emulator):
    _, token = user_with_token(emulator)
    emulator.fault("slow", delay_s=0.2)
    with api(emulator) as c:
        resp = add(c, token)
    assert resp.status_code == 200
    assert emulator.log()[-1]["fault"] == "slow"


def test_timeout_holds_the_response_past_the_clients_timeout(emulator):
    _, token = user_with_token(emulator)
    emulator.fault("timeout", delay_s=1)
    with httpx.Client(base_url=emulator.base_url, timeout=0.3) as c, pytest.raises(httpx.ReadTimeout):
        check(c, token, 1)


def test_drop_download_cuts_the_connection_mid_body(emulator):
    _, token = user_with_token(emulator)
    with api(emulator) as c:
        rid = add_ok(c, token)
        emulator.fault("drop_download", after_bytes=100)
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            download(c, token, rid)
        complete = download(c, token, rid)

    assert complete.status_code == 200
    assert zipfile.ZipFile(io.BytesIO(complete.content)).testzip() is None


def test_truncate_zip_sends_a_short_but_well_formed_http_body(emulator):
    _, token = user_with_token(emulator)
    with api(emulator) as c:
        rid = add_ok(c, token)
        emulator.fault("truncate_zip")
        resp = download(c, token, rid)
        full = download(c, token, rid)

    assert resp.status_code == 200
    assert len(resp.content) == len(full.content) // 2
    with pytest.raises(zipfile.BadZipFile):
        zipfile.ZipFile(io.BytesIO(resp.content))


def test_corrupt_zip_keeps_the_length_but_breaks_the_archive(emulator):
    _, token = user_with_token(emulator)
    with api(emulator) as c:
        rid = add_ok(c, token)
        emulator.fault("corrupt_zip")
        resp = download(c, token, rid)
        full = download(c, token, rid)

    assert len(resp.content) == len(full.content)
    assert resp.content != full.content
    assert not archive_is_intact(resp.content)
    assert archive_is_intact(full.content)


def test_revoke_token_deauthorizes_the_user_mid_run(emulator):
    open_id, token = user_with_token(emulator)
    emulator.fault("revoke_token", endpoint="check")
    with api(emulator) as c:
        rid = add_ok(c, token)
        resp = check(c, token, rid)

    assert resp.status_code == 401
    assert error_code(resp) == "access_token_invalid"
    assert emulator.user(open_id)["authorized"] is False


def test_expire_request_makes_the_named_request_expired(emulator):
    _, token = user_with_token(emulator)
    with api(emulator) as c:
        rid = add_ok(c, token)
        emulator.fault("expire_request", endpoint="download")
        resp = download(c, token, rid)
        status = status_of(c, token, rid)

    assert error_code(resp) == "invalid_params"
    assert status == "expired"


def test_oauth_endpoints_only_get_faults_aimed_at_them(emulator):
    user = emulator.create_user()
    tokens = emulator.issue_tokens(user["open_id"])
    emulator.fault("server_error")
    form = {
        "client_key": emulator.client_key,
        "client_secret": emulator.client_secret,
        "grant_type": "refresh_token",
        "refresh_token": tokens["refresh_token"],
    }
    with api(emulator) as c:
        untouched = c.post("/v2/oauth/token/", data=form)
        emulator.fault("server_error", endpoint="oauth_token", status=502)
        form["refresh_token"] = untouched.json()["refresh_token"]
        failed = c.post("/v2/oauth/token/", data=form)

    assert untouched.status_code == 200
    assert failed.status_code == 502


def test_unknown_fault_kind_is_refused(emulator):
    resp = emulator.admin.post("/_admin/faults", json={"kind": "meteor"})
    assert resp.status_code == 400


def test_lose_response_creates_the_request_but_the_client_sees_a_transport_error(emulator):
    open_id, token = user_with_token(emulator)
    emulator.fault("lose_response", endpoint="add")
    with api(emulator) as c:
        with pytest.raises(httpx.TransportError):
            add(c, token)
        second = add(c, token)

    created = emulator.user(open_id)["requests"]
    assert len(created) == 1
    assert created[0]["status"] in ("pending", "downloading")
    assert second.status_code == 400
    assert error_code(second) == "invalid_params"
    lost = emulator.log(endpoint="add")[0]
    assert (lost["fault"], lost["status"], lost["request_id"]) == (
        "lose_response",
        200,
        created[0]["request_id"],
    )


def test_lose_response_on_refresh_rotates_the_token_the_client_never_got(emulator):
    user = emulator.create_user()
    tokens = emulator.issue_tokens(user["open_id"])
    form = {
        "client_key": emulator.client_key,
        "client_secret": emulator.client_secret,
        "grant_type": "refresh_token",
        "refresh_token": tokens["refresh_token"],
    }
    emulator.fault("lose_response", endpoint="oauth_token")
    with api(emulator) as c:
        with pytest.raises(httpx.TransportError):
            c.post("/v2/oauth/token/", data=form)
        replay = c.post("/v2/oauth/token/", data=form)

    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"
    assert [e["fault"] for e in emulator.log(endpoint="oauth_token")] == ["lose_response", None]


def test_lose_response_honours_count_and_open_id(emulator):
    a, token_a = user_with_token(emulator)
    _, token_b = user_with_token(emulator)
    emulator.fault("lose_response", open_id=a, count=2)
    with api(emulator) as c:
        b_checked = check(c, token_b, 1)
        for _ in range(2):
            with pytest.raises(httpx.TransportError):
                check(c, token_a, 1)
        a_checked = check(c, token_a, 1)

    assert b_checked.status_code == 400
    assert a_checked.status_code == 400
    assert emulator.admin.get("/_admin/faults").json()["active"] == []
