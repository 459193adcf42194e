"""The TikTok Data Portability API client (httpx; sync and async). See docs/client.md."""

from __future__ import annotations

from tiktok_portability.client.async_client import AsyncTikTokClient
from tiktok_portability.client.config import ClientConfig, ConfigError
from tiktok_portability.client.limiter import Limiter
from tiktok_portability.client.models import DownloadResult, RequestStatus, TokenSet
from tiktok_portability.client.sync_client import TikTokClient

__all__ = [
    "AsyncTikTokClient",
    "ClientConfig",
    "ConfigError",
    "DownloadResult",
    "Limiter",
    "RequestStatus",
    "TikTokClient",
    "TokenSet",
]
