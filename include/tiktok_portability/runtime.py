"""The things a sync step works with, built once per task: state store, limiter, lake, clients."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from tiktok_portability.client import AsyncTikTokClient, ClientConfig, TikTokClient

if TYPE_CHECKING:
    from tiktok_portability.lake import Lake
    from tiktok_portability.quota import QuotaLimiter
    from tiktok_portability.state import StateStore


@dataclass
class SyncRuntime:
    """Everything the sync functions need; the Airflow hook or the CLI builds it.

    Holds no per-run state, so the same runtime may serve any run, batch or worker.
    """

    store: StateStore
    client_config: ClientConfig
    lake: Lake | None = None
    limiter: QuotaLimiter | None = None
    scratch_dir: str | None = None
    # A grant whose refresh deadline (fixed at consent) is this close is reported reconsent_due,
    # with the public sign-in link to send the user (None: the path under the plugin's prefix).
    reconsent_notice: timedelta = timedelta(days=14)
    oauth_start_url: str | None = None

    @contextmanager
    def client(self) -> Iterator[TikTokClient]:
        """A sync client (thread-safe: one is shared by a step's worker threads)."""
        client = TikTokClient(self.client_config, limiter=self.limiter)
        try:
            yield client
        finally:
            client.close()

    def async_client(self) -> AsyncTikTokClient:
        """An async client; use it as ``async with runtime.async_client() as c``."""
        return AsyncTikTokClient(self.client_config, limiter=self.limiter)
