"""Where TikTok's docs leave a shape open, the emulator offers each reading as an option."""

from __future__ import annotations

import json

import pytest

from tests.emulator.helpers import (
    CANCEL_PATH,
    add_ok,
    api,
    bearer,
    download,
    error_code,
    status_of,
    user_with_token,
)


@pytest.mark.parametrize(
    ("accepts", "where", "ok"),
    [
        ("either", "query", True),
        ("either", "body", True),
        ("query", "query", True),
        ("query", "body", False),
        ("body", "body", True),
        ("body", "query", False),
    ],
)
def test_cancel_reads_request_id_from_where_it_is_configured_to(emulator, accepts, where, ok):
    emulator.configure(prep_delay_s=600, cancel_request_id_from=accepts)
    _, token = user_with_token(emulator)
    with api(emulator) as c:
        rid = add_ok(c, token)
        if where == "query":
            resp = c.post(CANCEL_PATH, params={"request_id": rid}, headers=bearer(token))
        else:
            resp = c.post(CANCEL_PATH, json={"request_id": rid}, headers=bearer(token))
        assert (resp.status_code == 200) is ok, resp.text
        assert status_of(c, token, rid) == ("cancelled" if ok else "pending")


def test_cancel_with_both_places_agreeing_is_accepted_and_disagreeing_is_refused(emulator):
    emulator.configure(prep_delay_s=600)
    _, token = user_with_token(emulator)
    with api(emulator) as c:
        rid = add_ok(c, token)
        wrong = c.post(
            CANCEL_PATH, params={"request_id": rid + 1}, json={"request_id": rid}, headers=bearer(token)
        )
        assert wrong.status_code == 400
        both = c.post(
            CANCEL_PATH, params={"request_id": rid}, json={"request_id": rid}, headers=bearer(token)
        )
        assert both.status_code == 200, both.text


def test_download_by_default_is_a_zip_with_content_length(emulator):
    _, token = user_with_token(emulator)
    with api(emulator) as c:
        resp = download(c, token, add_ok(c, token))
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/zip"
    assert int(resp.headers["content-length"]) == len(resp.content)
    assert resp.content[:2] == b"PK"


def test_download_can_be_chunked_without_content_length_and_typed_octet_stream(emulator):
    emulator.configure(download_chunked=True, download_content_type="application/octet-stream")
    _, token = user_with_token(emulator)
    with api(emulator) as c:
        resp = download(c, token, add_ok(c, token))
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/octet-stream"
    assert "content-length" not in resp.headers
    assert resp.headers["transfer-encoding"] == "chunked"
    assert resp.content[:2] == b"PK"


@pytest.mark.parametrize(
    ("mode", "status", "content_type"),
    [
        ("status", 400, "application/json"),
        ("http_200", 200, "application/json"),
        ("http_200_binary", 200, "application/zip"),
    ],
)
def test_download_errors_come_as_configured(emulator, mode, status, content_type):
    emulator.configure(download_errors=mode)
    _, token = user_with_token(emulator)
    with api(emulator) as c:
        rid = add_ok(c, token)
        emulator.fault("expire_request", endpoint="download")  # the four-day window has passed
        resp = download(c, token, rid)
    assert resp.status_code == status
    assert resp.headers["content-type"] == content_type
    assert resp.content.startswith(b"{")
    assert error_code(resp) == "invalid_params"
    assert "expired" in json.loads(resp.content)["error"]["message"]


def test_only_download_errors_change_shape(emulator):
    emulator.configure(download_errors="http_200")
    _, token = user_with_token(emulator)
    with api(emulator) as c:
        resp = c.post(CANCEL_PATH, json={"request_id": 12345}, headers=bearer(token))
    assert resp.status_code == 400


@pytest.mark.parametrize(("error", "http_status"), [("temporarily_unavailable", 200), ("invalid_grant", 200)])
def test_the_oauth_error_fault_answers_the_oauth_envelope_at_the_status_asked(emulator, error, http_status):
    user = emulator.create_user()
    refresh = emulator.issue_tokens(user["open_id"])["refresh_token"]
    emulator.fault("oauth_error", endpoint="oauth_token", error=error, http_status=http_status)
    form = {
        "client_key": emulator.client_key,
        "client_secret": emulator.client_secret,
        "grant_type": "refresh_token",
        "refresh_token": refresh,
    }
    with api(emulator) as c:
        resp = c.post("/v2/oauth/token/", data=form)
        assert resp.status_code == http_status
        assert resp.json()["error"] == error
        assert resp.json()["log_id"]
        # The fault answered before the call was handled: the refresh token still works.
        assert c.post("/v2/oauth/token/", data=form).json()["open_id"] == user["open_id"]


def test_the_oauth_error_fault_never_fires_on_the_portability_surface(emulator):
    emulator.fault("oauth_error", count=None)
    _, token = user_with_token(emulator)
    with api(emulator) as c:
        add_ok(c, token)
