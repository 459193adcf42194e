"""The conformance suite's servers: the session emulator and the plugin's webhook receiver, both
real uvicorn servers on 127.0.0.1, the receiver on a SQLite state store this suite reads.

Each test starts from the emulator's documented defaults (the ``emulator`` fixture resets it) and
switches on the one option whose reading it checks.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fixtures.emulator import EmulatorHandle, free_port
from tests.fixtures.threaded_server import serve_on_thread
from tiktok_portability.client import AsyncTikTokClient, ClientConfig, TikTokClient
from tiktok_portability.client.models import TokenSet
from tiktok_portability.redact import Secret
from tiktok_portability.state import StateStore, generate_key
from tiktok_portability_airflow.serve import StaticServices, mounted_app
from tiktok_portability_airflow.settings import AppSettings


@dataclass
class Receiver:
    """The webhook receiver as TikTok reaches it, and the state store behind it."""

    url: str
    store: StateStore

    def counts(self) -> dict[str, int]:
        return self.store.webhook_counts()


@pytest.fixture(scope="module")
def receiver_server(emulator_server, tmp_path_factory) -> Iterator[Receiver]:
    db = Path(tmp_path_factory.mktemp("conformance")) / "state.db"
    store = StateStore.from_url(f"sqlite:///{db}", [generate_key()])
    settings = AppSettings(
        conn_id="tiktok_default",
        base_url=emulator_server.base_url,
        client_key=emulator_server.client_key,
        client_secret=Secret(emulator_server.client_secret),
        authorize_url=f"{emulator_server.base_url}/v2/auth/authorize/",
    )
    port = free_port()
    try:
        with serve_on_thread(mounted_app(StaticServices(settings, store)), port, "the webhook receiver"):
            yield Receiver(f"http://127.0.0.1:{port}/tiktok/webhook", store)
    finally:
        store.close()


@pytest.fixture
def receiver(receiver_server: Receiver, emulator: EmulatorHandle) -> Receiver:
    """The receiver, with the freshly reset emulator sending its webhooks there."""
    emulator.configure(webhook_url=receiver_server.url)
    return receiver_server


def client_config(emulator: EmulatorHandle, **overrides) -> ClientConfig:
    values = {
        "base_url": emulator.base_url,
        "client_key": emulator.client_key,
        "client_secret": Secret(emulator.client_secret),
        "max_retries": 3,
        "backoff_base_s": 0.01,
        "backoff_max_s": 0.05,
    }
    values.update(overrides)
    return ClientConfig(**values)


@pytest.fixture
def sync_client(emulator: EmulatorHandle) -> Iterator[TikTokClient]:
    with TikTokClient(client_config(emulator)) as client:
        yield client


@pytest.fixture
async def async_client(emulator: EmulatorHandle):
    async with AsyncTikTokClient(client_config(emulator)) as client:
        yield client


def consent(emulator: EmulatorHandle, store: StateStore | None = None, **spec) -> TokenSet:
    """A new emulator user who consents; the grant is stored as the OAuth callback stores it."""
    user = emulator.create_user(**spec)
    tokens = TokenSet.from_response(emulator.issue_tokens(user["open_id"]))
    if store is not None:
        store.upsert_grant(tokens.open_id, tokens.scopes, tokens)
    return tokens
