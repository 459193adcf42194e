"""Client settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import httpx

from tiktok_portability import __version__
from tiktok_portability.redact import Secret

DEFAULT_BASE_URL = "https://open.tiktokapis.com"
DEFAULT_USER_AGENT = f"tiktok-portability/{__version__} (+httpx)"


class ConfigError(ValueError):
    """A ClientConfig value that cannot work."""


@dataclass(frozen=True)
class ClientConfig:
    """How to reach TikTok and how hard to try.

    ``max_retries`` counts retries after the first attempt. Backoff is exponential with full
    jitter: attempt n waits uniform(0, min(backoff_max_s, backoff_base_s * 2**n)). A 429 waits for
    Retry-After when sent, else for the next ``rate_limit_window_s`` boundary; a Retry-After longer
    than ``max_retry_after_s`` is raised to the caller instead of slept through.
    """

    client_key: str
    client_secret: Secret
    base_url: str = DEFAULT_BASE_URL
    timeout_s: float = 30.0
    connect_timeout_s: float = 10.0
    max_retries: int = 4
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0
    max_retry_after_s: float = 120.0
    rate_limit_window_s: float = 60.0
    user_agent: str = DEFAULT_USER_AGENT
    download_chunk_bytes: int = 1 << 20
    verify_archive: Literal["full", "directory"] = "full"
    extra_headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.client_secret, Secret):
            object.__setattr__(self, "client_secret", Secret(self.client_secret))
        object.__setattr__(self, "base_url", self.base_url.rstrip("/"))
        if not self.client_key:
            raise ConfigError("client_key is empty")
        if not self.client_secret:
            raise ConfigError("client_secret is empty")
        if self.timeout_s <= 0 or self.connect_timeout_s <= 0:
            raise ConfigError(f"timeouts must be positive (timeout_s={self.timeout_s})")
        if self.max_retries < 0:
            raise ConfigError(f"max_retries must be >= 0, got {self.max_retries}")
        if self.backoff_base_s < 0 or self.backoff_max_s < 0:
            raise ConfigError("backoff_base_s and backoff_max_s must be >= 0")
        if self.rate_limit_window_s <= 0:
            raise ConfigError(f"rate_limit_window_s must be positive, got {self.rate_limit_window_s}")
        if self.download_chunk_bytes < 1024:
            raise ConfigError(f"download_chunk_bytes must be >= 1024, got {self.download_chunk_bytes}")
        if self.verify_archive not in ("full", "directory"):
            raise ConfigError(f"verify_archive must be 'full' or 'directory', got {self.verify_archive!r}")

    def httpx_timeout(self) -> httpx.Timeout:
        """Every phase of every call is bounded; the read timeout applies per chunk for downloads."""
        return httpx.Timeout(self.timeout_s, connect=min(self.connect_timeout_s, self.timeout_s))

    def headers(self) -> dict[str, str]:
        return {"User-Agent": self.user_agent, **self.extra_headers}
