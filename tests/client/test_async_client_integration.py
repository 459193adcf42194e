"""The async client against the real emulator: every endpoint, retries, faults."""

from __future__ import annotations

import hashlib
import zipfile

import pytest

from tiktok_portability.client import AsyncTikTokClient
from tiktok_portability.client import errors as e

from .fakes import RecordingLimiter
from .integration import ONGOING_ALL, REDIRECT_URI, emulator_config, user_with_tokens


async def test_every_endpoint_end_to_end(emulator, tmp_path):
    user = emulator.create_user(scopes=ONGOING_ALL, region="NL")
    code = emulator.authorization_code(user["open_id"], REDIRECT_URI)
    limiter = RecordingLimiter()
    async with AsyncTikTokClient(emulator_config(emulator), limiter) as c:
        tokens = await c.exchange_code(code, REDIRECT_URI)
        fresh = await c.refresh(tokens.refresh_token, open_id=tokens.open_id)
        rid = await c.add_data_request(fresh.access_token, ["all_data"], "text")
        status = await c.check_status(fresh.access_token, rid)
        result = await c.download(fresh.access_token, rid, tmp_path / "a.zip")
        second = await c.add_data_request(fresh.access_token)
        await c.cancel(fresh.access_token, second)
        cancelled = await c.check_status(fresh.access_token, second)
        await c.revoke(fresh.access_token)
        with pytest.raises(e.TokenExpired):
            await c.check_status(fresh.access_token, rid)
    assert rid > 2**53
    assert status.is_ready
    assert status.data_format == "text"
    assert result.sha256 == hashlib.sha256((tmp_path / "a.zip").read_bytes()).hexdigest()
    with zipfile.ZipFile(tmp_path / "a.zip") as archive:
        assert archive.testzip() is None
    assert cancelled.status == "cancelled"
    assert limiter.acquired[:5] == ["oauth", "oauth", "add", "check", "download"]


async def test_faults_get_the_same_outcomes_as_with_the_sync_client(emulator, tmp_path):
    open_id, tokens = user_with_tokens(emulator)
    limiter = RecordingLimiter()
    async with AsyncTikTokClient(emulator_config(emulator, timeout_s=0.3), limiter) as c:
        emulator.fault("rate_limit_burst", count=1, endpoint="add")
        rid = await c.add_data_request(tokens.access_token)
        emulator.fault("server_error", count=1, endpoint="check")
        emulator.fault("timeout", count=1, endpoint="check", delay_s=1.0)
        assert (await c.check_status(tokens.access_token, rid)).is_ready
        emulator.fault("drop_download", count=1)
        emulator.fault("corrupt_zip", count=1)
        result = await c.download(tokens.access_token, rid, tmp_path / "a.zip")
        emulator.fault("timeout", count=1, endpoint="add", delay_s=1.0)
        with pytest.raises(e.AddOutcomeUnknown):
            await c.add_data_request(tokens.access_token, open_id=open_id)
    assert result.attempts == 3
    assert limiter.rate_limited == [("add", None)]
    assert [row["status"] for row in emulator.log(endpoint="check")][-1] == 200


async def test_quota_exhaustion_recovers(emulator):
    emulator.configure(quota_per_minute=2, quota_window_s=0.5)
    _, tokens = user_with_tokens(emulator)
    async with AsyncTikTokClient(emulator_config(emulator, max_retries=8)) as c:
        rid = await c.add_data_request(tokens.access_token)
        for _ in range(4):
            assert (await c.check_status(tokens.access_token, rid)).is_ready
    assert any(row["status"] == 429 for row in emulator.log(endpoint="check"))
