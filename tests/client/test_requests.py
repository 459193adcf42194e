"""What goes on the wire: paths, fields, bodies, auth and int64 request ids (docs/tiktok-api.md)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import parse_qs

import httpx
import pytest

from tiktok_portability.client import TikTokClient
from tiktok_portability.client import errors as e
from tiktok_portability.redact import Secret

from .fakes import (
    ACCESS_TOKEN,
    BIG_REQUEST_ID,
    CLIENT_SECRET,
    REFRESH_TOKEN,
    RecordingLimiter,
    Script,
    archive_response,
    config,
    ok,
    token_body,
    zip_bytes,
)

CHECK_FIELDS = "request_id,apply_time,collect_time,status,data_format,category_selection_list"


def run(script: Script, limiter=None) -> TikTokClient:
    return TikTokClient(config(), limiter, transport=script.transport(), sleep=lambda s: None)


def test_add_posts_json_with_bearer_and_returns_an_exact_int64_request_id():
    # The raw body spells the id out so no JSON library in the fake can round it through a float.
    raw = b'{"data": {"request_id": 7234567890123456789}, "error": {"code": "ok", "message": ""}}'
    script = Script(httpx.Response(200, content=raw, headers={"content-type": "application/json"}))
    with run(script) as client:
        rid = client.add_data_request(ACCESS_TOKEN, ["video", "activity"], "text")
    assert rid == BIG_REQUEST_ID
    assert isinstance(rid, int)
    request = script.requests[0]
    assert request.method == "POST"
    assert request.url.path == "/v2/user/data/add/"
    assert request.url.params["fields"] == "request_id"
    assert str(request.url).endswith("/v2/user/data/add/?fields=request_id")
    assert request.headers["authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"].startswith("tiktok-portability/")
    # Canonical category order from scopes.validate_categories.
    assert json.loads(request.content) == {
        "data_format": "text",
        "category_selection_list": ["activity", "video"],
    }


def test_add_with_all_data_sends_only_all_data():
    script = Script(ok({"request_id": 5}))
    with run(script) as client:
        client.add_data_request(Secret(ACCESS_TOKEN), ["profile", "all_data"])
    assert script.json_bodies()[0]["category_selection_list"] == ["all_data"]


def test_add_rejects_unknown_categories_and_formats_before_calling():
    script = Script()
    with run(script) as client:
        with pytest.raises(ValueError, match="unknown categories"):
            client.add_data_request(ACCESS_TOKEN, ["photos"])
        with pytest.raises(ValueError, match="data_format"):
            client.add_data_request(ACCESS_TOKEN, ["all_data"], "xml")
    assert script.requests == []


def test_check_asks_for_every_field_and_types_the_answer():
    script = Script(
        ok(
            {
                "request_id": BIG_REQUEST_ID,
                "apply_time": 1_700_000_000,
                "collect_time": 1_700_000_060,
                "status": "downloading",
                "data_format": "json",
                "category_selection_list": ["all_data"],
            }
        )
    )
    with run(script) as client:
        status = client.check_status(ACCESS_TOKEN, BIG_REQUEST_ID)
    request = script.requests[0]
    assert request.url.path == "/v2/user/data/check/"
    assert request.url.params["fields"] == CHECK_FIELDS
    assert b'"request_id":7234567890123456789' in request.content.replace(b" ", b"")
    assert f"fields={CHECK_FIELDS}" in str(request.url)  # literal commas, as documented
    assert status.request_id == BIG_REQUEST_ID
    assert status.is_ready
    assert not status.is_final
    assert status.apply_time == datetime.fromtimestamp(1_700_000_000, tz=UTC)
    assert status.categories == ["all_data"]


def test_cancel_sends_the_request_id_in_the_query_string_and_the_json_body():
    # TikTok's parameter table says query string, its example a JSON body: both are sent.
    script = Script(ok())
    with run(script) as client:
        client.cancel(ACCESS_TOKEN, BIG_REQUEST_ID)
    request = script.requests[0]
    assert request.url.path == "/v2/user/data/cancel/"
    assert request.url.params["request_id"] == str(BIG_REQUEST_ID)
    assert json.loads(request.content) == {"request_id": BIG_REQUEST_ID}


def test_download_accepts_any_content_type_and_json_calls_ask_for_json(tmp_path):
    script = Script(ok({"request_id": 5}), archive_response(zip_bytes()))
    with run(script) as client:
        client.add_data_request(ACCESS_TOKEN, ["activity"])
        client.download(ACCESS_TOKEN, 5, tmp_path / "a.zip")
    assert [r.headers["accept"] for r in script.requests] == ["application/json", "*/*"]


def test_request_ids_must_be_ints_not_floats():
    with run(Script()) as client, pytest.raises(TypeError, match="float"):
        client.check_status(ACCESS_TOKEN, 7.2e18)


def test_refresh_posts_a_form_and_returns_the_rotated_pair():
    script = Script(httpx.Response(200, json=token_body(access="act.NEW", refresh="rft.NEW")))
    before = datetime.now(UTC)
    with run(script) as client:
        tokens = client.refresh(Secret(REFRESH_TOKEN))
    request = script.requests[0]
    assert request.url.path == "/v2/oauth/token/"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
    assert form == {
        "client_key": "ck-test",
        "client_secret": CLIENT_SECRET,
        "grant_type": "refresh_token",
        "refresh_token": REFRESH_TOKEN,
    }
    assert "authorization" not in request.headers
    assert tokens.access_token == Secret("act.NEW")
    assert tokens.refresh_token == Secret("rft.NEW")
    assert tokens.scopes == ["portability.all.ongoing", "portability.activity.single"]
    assert 7199 <= (tokens.expires_at - before).total_seconds() <= 7260
    assert tokens.refresh_expires_at > tokens.expires_at


def test_exchange_code_sends_the_authorization_code_grant():
    script = Script(httpx.Response(200, json=token_body()))
    with run(script) as client:
        tokens = client.exchange_code("code-123", "https://app.example/cb", code_verifier="v" * 43)
    form = {k: v[0] for k, v in parse_qs(script.requests[0].content.decode()).items()}
    assert form["grant_type"] == "authorization_code"
    assert form["code"] == "code-123"
    assert form["redirect_uri"] == "https://app.example/cb"
    assert form["code_verifier"] == "v" * 43
    assert tokens.open_id == "open-id-alice"


def test_token_response_missing_fields_is_unexpected():
    script = Script(httpx.Response(200, json={"open_id": "x"}))
    with run(script) as client, pytest.raises(e.UnexpectedResponse, match="access_token"):
        client.refresh(REFRESH_TOKEN)


def test_revoke_posts_client_credentials_and_the_token():
    script = Script(httpx.Response(200, json={}))
    with run(script) as client:
        client.revoke(Secret(ACCESS_TOKEN))
    request = script.requests[0]
    assert request.url.path == "/v2/oauth/revoke/"
    form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
    assert form == {"client_key": "ck-test", "client_secret": CLIENT_SECRET, "token": ACCESS_TOKEN}


def test_the_limiter_is_asked_before_each_call_with_the_endpoint_name():
    script = Script(
        ok({"request_id": 1}), ok({"status": "pending"}), ok(), httpx.Response(200, json=token_body())
    )
    limiter = RecordingLimiter()
    with run(script, limiter) as client:
        client.add_data_request(ACCESS_TOKEN)
        client.check_status(ACCESS_TOKEN, 1)
        client.cancel(ACCESS_TOKEN, 1)
        client.refresh(REFRESH_TOKEN)
    assert limiter.acquired == ["add", "check", "cancel", "oauth"]


def test_every_call_has_a_timeout_on_every_phase():
    timeout = config(timeout_s=12, connect_timeout_s=3).httpx_timeout()
    assert (timeout.connect, timeout.read, timeout.write, timeout.pool) == (3, 12, 12, 12)
