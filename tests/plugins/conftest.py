"""The plugin's FastAPI app served by a real uvicorn on 127.0.0.1, wired to the session emulator.

The app gets its services from a plain object (settings, a SQLite state store, a client factory)
instead of the hook, so these tests need no Airflow; the Airflow API server test covers the hook.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.fixtures.threaded_server import serve_on_thread
from tiktok_portability.client import ClientConfig, TikTokClient
from tiktok_portability.redact import Secret
from tiktok_portability.state import StateStore, generate_key
from tiktok_portability_airflow.settings import AppSettings
from tiktok_portability_airflow.webhooks import create_app

PREFIX = "/tiktok"


@dataclass
class PlainServices:
    app: AppSettings
    state_store: StateStore

    def get_client(self) -> TikTokClient:
        return TikTokClient(
            ClientConfig(
                base_url=self.app.base_url,
                client_key=self.app.client_key,
                client_secret=self.app.client_secret,
                max_retries=0,
            ),
            limiter=None,
        )


@dataclass
class PluginServer:
    base_url: str  # the mount prefix included: <base_url>/webhook
    services: PlainServices

    @property
    def store(self) -> StateStore:
        return self.services.state_store


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def plugin_server(emulator_server, tmp_path_factory) -> Iterator[PluginServer]:
    """The webhook/OAuth app mounted under /tiktok (as Airflow mounts it) on a free port."""
    from fastapi import FastAPI

    db = Path(tmp_path_factory.mktemp("plugin_state")) / "state.db"
    port = _free_port()
    settings = AppSettings(
        conn_id="tiktok_default",
        base_url=emulator_server.base_url,
        client_key=emulator_server.client_key,
        client_secret=Secret(emulator_server.client_secret),
        authorize_url=f"{emulator_server.base_url}/v2/auth/authorize/",
        redirect_uri=f"http://127.0.0.1:{port}{PREFIX}/oauth/callback",
        oauth_cookie_secure=False,  # plain http on 127.0.0.1: a Secure cookie would never come back
    )
    services = PlainServices(settings, StateStore.from_url(f"sqlite:///{db}", [generate_key()]))
    root = FastAPI()
    root.mount(PREFIX, create_app(lambda: services))
    try:
        with serve_on_thread(root, port, "plugin app"):
            yield PluginServer(f"http://127.0.0.1:{port}{PREFIX}", services)
    finally:
        services.state_store.close()


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30) as client:
        yield client
