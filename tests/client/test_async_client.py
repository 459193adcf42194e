"""The async client makes the same calls and follows the same rules as the sync one."""

from __future__ import annotations

import hashlib
import io
import json
import random

import httpx
import pytest

from tiktok_portability.client import AsyncTikTokClient
from tiktok_portability.client import errors as e
from tiktok_portability.redact import Secret

from .fakes import (
    ACCESS_TOKEN,
    BIG_REQUEST_ID,
    REFRESH_TOKEN,
    RecordingLimiter,
    Script,
    Sleeps,
    archive_response,
    config,
    corrupt_member_crc,
    dropping_response,
    fail,
    ok,
    token_body,
    zip_bytes,
)

ARCHIVE = zip_bytes()


class BlockingOnlyLimiter:
    """A limiter without ``acquire_async``: the client runs its ``acquire`` in a thread."""

    def __init__(self) -> None:
        self.acquired: list[str] = []

    def acquire(self, endpoint: str) -> None:
        self.acquired.append(endpoint)

    def report_rate_limited(self, endpoint: str, retry_after_s: float | None) -> None:
        self.acquired.append(f"429:{endpoint}")


def make(script: Script, limiter=None, **overrides) -> tuple[AsyncTikTokClient, Sleeps]:
    sleeps = Sleeps()
    client = AsyncTikTokClient(
        config(**overrides),
        limiter,
        transport=script.transport(),
        sleep=sleeps.async_sleep,
        rng=random.Random(5),
    )
    return client, sleeps


async def test_every_endpoint_round_trips(tmp_path):
    script = Script(
        httpx.Response(200, json=token_body()),
        httpx.Response(200, json=token_body(access="act.2", refresh="rft.2")),
        ok({"request_id": BIG_REQUEST_ID}),
        ok({"request_id": BIG_REQUEST_ID, "status": "pending", "apply_time": 1_700_000_000}),
        archive_response(ARCHIVE),
        ok(),
        httpx.Response(200, json={}),
    )
    limiter = RecordingLimiter()
    client, _ = make(script, limiter)
    async with client:
        tokens = await client.exchange_code("code-1", "https://app.example/cb")
        fresh = await client.refresh(tokens.refresh_token)
        rid = await client.add_data_request(fresh.access_token, ["all_data"], "json")
        status = await client.check_status(fresh.access_token, rid)
        result = await client.download(fresh.access_token, rid, tmp_path / "a.zip")
        await client.cancel(fresh.access_token, rid)
        await client.revoke(fresh.access_token)
    assert fresh.access_token == Secret("act.2")
    assert rid == BIG_REQUEST_ID
    assert status.status == "pending"
    assert not status.is_ready
    assert result.sha256 == hashlib.sha256(ARCHIVE).hexdigest()
    assert (tmp_path / "a.zip").read_bytes() == ARCHIVE
    assert limiter.acquired == ["oauth", "oauth", "add", "check", "download", "cancel", "oauth"]
    assert [r.url.path for r in script.requests] == [
        "/v2/oauth/token/",
        "/v2/oauth/token/",
        "/v2/user/data/add/",
        "/v2/user/data/check/",
        "/v2/user/data/download/",
        "/v2/user/data/cancel/",
        "/v2/oauth/revoke/",
    ]
    assert json.loads(script.requests[5].content) == {"request_id": BIG_REQUEST_ID}


async def test_retries_with_backoff_and_a_blocking_limiter():
    script = Script(
        fail(429, "rate_limit_exceeded", headers={"Retry-After": "2"}),
        fail(502, "bad_gateway"),
        ok({"status": "downloading"}),
    )
    limiter = BlockingOnlyLimiter()
    client, sleeps = make(script, limiter)
    async with client:
        status = await client.check_status(ACCESS_TOKEN, 4)
    assert status.is_ready
    assert limiter.acquired == ["check", "429:check", "check", "check"]
    assert sleeps.delays[0] >= 2.0
    assert len(sleeps.delays) == 2


async def test_add_and_refresh_are_not_resent_after_an_unknown_outcome():
    script = Script(httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("dropped"))
    client, sleeps = make(script)
    async with client:
        with pytest.raises(e.AddOutcomeUnknown):
            await client.add_data_request(ACCESS_TOKEN)
        with pytest.raises(e.RefreshOutcomeUnknown):
            await client.refresh(REFRESH_TOKEN)
    assert len(script.requests) == 2
    assert sleeps.delays == []


async def test_download_restarts_after_a_drop_and_verifies_the_zip():
    sink = io.BytesIO()
    script = Script(dropping_response(ARCHIVE, after=50, asynchronous=True), archive_response(ARCHIVE))
    client, _ = make(script)
    async with client:
        result = await client.download(ACCESS_TOKEN, 8, sink)
    assert sink.getvalue() == ARCHIVE
    assert result.attempts == 2


@pytest.mark.parametrize("content_type", ["application/json", "application/zip", "application/octet-stream"])
async def test_an_error_envelope_with_http_200_is_an_error_like_in_the_sync_client(tmp_path, content_type):
    body = b'{"data":{},"error":{"code":"invalid_params","message":"request_id 8 is expired","log_id":"l"}}'
    script = Script(httpx.Response(200, content=body, headers={"Content-Type": content_type}))
    client, _ = make(script)
    async with client:
        with pytest.raises(e.InvalidRequest, match="expired"):
            await client.download(ACCESS_TOKEN, 8, tmp_path / "a.zip")
    assert len(script.requests) == 1
    assert script.requests[0].headers["accept"] == "*/*"
    assert list(tmp_path.iterdir()) == []


async def test_download_errors_map_like_the_sync_client(tmp_path):
    script = Script(fail(400, "invalid_params"), *[archive_response(corrupt_member_crc(ARCHIVE))] * 2)
    client, _ = make(script, max_retries=1)
    async with client:
        with pytest.raises(e.InvalidRequest):
            await client.download(ACCESS_TOKEN, 8, tmp_path / "a.zip")
        with pytest.raises(e.ArchiveCorrupt):
            await client.download(ACCESS_TOKEN, 8, tmp_path / "a.zip")
    assert list(tmp_path.iterdir()) == []
