"""Tokens and the client secret never show up in reprs, error messages or log output."""

from __future__ import annotations

import logging
import random

import httpx
import pytest

from tiktok_portability.client import ClientConfig, TikTokClient
from tiktok_portability.client import errors as e
from tiktok_portability.client.models import TokenSet
from tiktok_portability.redact import Secret

from .fakes import (
    ACCESS_TOKEN,
    CLIENT_SECRET,
    OPEN_ID,
    REFRESH_TOKEN,
    Script,
    archive_response,
    config,
    fail,
    ok,
    token_body,
    zip_bytes,
)

SECRETS = (ACCESS_TOKEN, REFRESH_TOKEN, CLIENT_SECRET, "act.NEW-SECRET", "rft.NEW-SECRET", "code-SECRET")


def assert_clean(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"secret leaked into: {text[:200]}"


def test_config_accepts_a_plain_secret_string_and_masks_it():
    cfg = ClientConfig(client_key="ck", client_secret=CLIENT_SECRET)
    assert isinstance(cfg.client_secret, Secret)
    assert_clean(repr(cfg))
    assert_clean(str(cfg))


def test_token_set_repr_masks_tokens_and_hashes_the_open_id():
    tokens = TokenSet.from_response(token_body())
    text = repr(tokens)
    assert_clean(text)
    assert OPEN_ID not in text
    assert "portability.all.ongoing" in text


def test_a_whole_exchange_logs_nothing_secret(caplog, tmp_path):
    """Every log record of every library involved, at DEBUG, across success, retry and failure."""
    script = Script(
        httpx.Response(200, json=token_body()),
        httpx.Response(200, json=token_body(access="act.NEW-SECRET", refresh="rft.NEW-SECRET")),
        fail(500, "internal_error"),
        ok({"request_id": 12}),
        ok({"request_id": 12, "status": "downloading"}),
        archive_response(zip_bytes()),
        ok(),
        httpx.Response(200, json={}),
        fail(401, "access_token_invalid", f"token {ACCESS_TOKEN} is dead"),
        httpx.ReadTimeout("timed out"),
    )
    client = TikTokClient(config(), transport=script.transport(), sleep=lambda s: None, rng=random.Random(1))
    raised: list[Exception] = []
    with caplog.at_level(logging.DEBUG), client:
        tokens = client.exchange_code("code-SECRET", "https://app.example/cb")
        fresh = client.refresh(tokens.refresh_token, open_id=tokens.open_id)
        rid = client.add_data_request(fresh.access_token, open_id=OPEN_ID)
        client.check_status(fresh.access_token, rid, open_id=OPEN_ID)
        client.download(fresh.access_token, rid, tmp_path / "a.zip", open_id=OPEN_ID)
        client.cancel(fresh.access_token, rid, open_id=OPEN_ID)
        client.revoke(fresh.access_token, open_id=OPEN_ID)
        with pytest.raises(e.TokenExpired) as expired:
            client.check_status(ACCESS_TOKEN, rid, open_id=OPEN_ID)
        raised.append(expired.value)
        with pytest.raises(e.RefreshOutcomeUnknown) as unknown:
            client.refresh(REFRESH_TOKEN, open_id=OPEN_ID)
        raised.append(unknown.value)
    assert len(script.requests) == 10
    assert caplog.records, "the exchange should log something"
    for record in caplog.records:
        assert_clean(record.getMessage())
        assert OPEN_ID not in record.getMessage()
    assert_clean(caplog.text)
    for err in raised:
        assert_clean(str(err))
        assert_clean(repr(err))
        assert_clean(repr(err.__cause__))
    for thing in (tokens, fresh, client, client.config):
        assert_clean(repr(thing))


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(
            400,
            json={
                "error": {
                    "code": f"bad_{ACCESS_TOKEN}",
                    "message": f"token {ACCESS_TOKEN}",
                    "log_id": f"log-{ACCESS_TOKEN}",
                }
            },
        ),
        httpx.Response(
            401,
            json={
                "error": f"invalid_{ACCESS_TOKEN}",
                "error_description": f"token {ACCESS_TOKEN}",
                "log_id": f"log-{ACCESS_TOKEN}",
            },
        ),
    ],
    ids=["api_envelope", "oauth_envelope"],
)
def test_a_secret_echoed_in_any_server_controlled_field_is_scrubbed(response):
    """error/code, error_description/message and log_id all come from the server: none is trusted."""
    client = TikTokClient(config(max_retries=0), transport=Script(response).transport(), sleep=lambda s: None)
    with client, pytest.raises(e.TikTokError) as caught:
        client.check_status(ACCESS_TOKEN, 12, open_id=OPEN_ID)

    err = caught.value
    for text in (str(err), repr(err), err.code or "", err.log_id or ""):
        assert_clean(text)
