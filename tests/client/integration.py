"""Helpers shared by the client's integration tests against the emulator fixture."""

from __future__ import annotations

from typing import Any

from tiktok_portability.client import ClientConfig
from tiktok_portability.client.models import TokenSet

ONGOING_ALL = ["portability.all.ongoing"]
REDIRECT_URI = "https://app.example/callback"


def emulator_config(emulator, **overrides: Any) -> ClientConfig:
    """Fast backoff so retry paths run in milliseconds; everything else as in production."""
    values: dict[str, Any] = {
        "base_url": emulator.base_url,
        "client_key": emulator.client_key,
        "client_secret": emulator.client_secret,
        "timeout_s": 10,
        "max_retries": 4,
        "backoff_base_s": 0.02,
        "backoff_max_s": 0.2,
        "rate_limit_window_s": 0.5,
        "max_retry_after_s": 5,
    }
    values.update(overrides)
    return ClientConfig(**values)


def user_with_tokens(emulator, scopes: list[str] | None = None, **spec: Any) -> tuple[str, TokenSet]:
    user = emulator.create_user(scopes=scopes or ONGOING_ALL, region=spec.pop("region", "NL"), **spec)
    tokens = TokenSet.from_response(emulator.issue_tokens(user["open_id"]))
    return user["open_id"], tokens
