"""Login Kit's user info beside the portability scopes: the display name needs ``user.info.basic``."""

from __future__ import annotations

import asyncio

import pytest

from tiktok_portability.client import AsyncTikTokClient, ClientConfig, TikTokClient
from tiktok_portability.client.errors import ScopeNotAuthorized
from tiktok_portability.client.models import TokenSet


def config(emulator) -> ClientConfig:
    return ClientConfig(
        client_key=emulator.client_key, client_secret=emulator.client_secret, base_url=emulator.base_url
    )


def consented(emulator, scopes: list[str]) -> TokenSet:
    user = emulator.create_user(scopes=scopes, display_name="Grace H.")
    return TokenSet.from_response(emulator.issue_tokens(user["open_id"]))


def test_both_clients_read_the_display_name_when_the_scope_was_granted(emulator):
    tokens = consented(emulator, ["portability.all.ongoing", "user.info.basic"])

    with TikTokClient(config(emulator), limiter=None) as client:
        info = client.user_info(tokens.access_token, open_id=tokens.open_id)

    async def read():
        async with AsyncTikTokClient(config(emulator), limiter=None) as client:
            return await client.user_info(tokens.access_token, open_id=tokens.open_id)

    assert (info.open_id, info.display_name) == (tokens.open_id, "Grace H.")
    assert asyncio.run(read()) == info
    assert tokens.open_id not in repr(info)


def test_without_user_info_basic_the_call_is_refused(emulator):
    tokens = consented(emulator, ["portability.all.ongoing"])

    with TikTokClient(config(emulator), limiter=None) as client, pytest.raises(ScopeNotAuthorized):
        client.user_info(tokens.access_token, open_id=tokens.open_id)
