"""The plugin inside the real Airflow API server, with the state store on PostgreSQL.

Airflow loads plugins/ and mounts the app under /tiktok; the hook reads the connections the way
API server code does (here from AIRFLOW_CONN_* environment variables).
"""

from __future__ import annotations

import json
import time

import httpx
import pytest

from tests.fixtures.airflow import conn_env
from tests.plugins.test_webhooks import add_grant, event_body, hmac_header
from tiktok_portability.state import StateStore, generate_key

pytestmark = [pytest.mark.airflow, pytest.mark.postgres, pytest.mark.scheduler]


@pytest.fixture(scope="module")
def deployment(airflow_api_server_factory, postgres_server, emulator_server):
    key = generate_key()
    state_db = postgres_server.create_database("tiktok_state_api")
    env = {
        **conn_env(
            "tiktok_default",
            conn_type="http",
            host=emulator_server.base_url,
            login=emulator_server.client_key,
            password=emulator_server.client_secret,
            extra={},
        ),
        **conn_env(
            "tiktok_state",
            conn_type="postgres",
            host=postgres_server.host,
            port=postgres_server.port,
            login=postgres_server.superuser,
            schema="tiktok_state_api",
            extra={"fernet_keys": [key]},
        ),
    }
    server = airflow_api_server_factory(env)
    store = StateStore.from_url(state_db, [key])
    yield server, store, emulator_server
    store.close()


def test_the_api_server_mounts_the_plugin_app(deployment):
    server, _, _ = deployment
    response = httpx.get(f"{server.base_url}/tiktok/health", timeout=30)
    assert response.status_code == 200, server.log()[-3000:]
    assert response.json() == {"status": "ok"}


def test_a_signed_webhook_through_the_api_server_revokes_the_grant(deployment):
    server, store, emu = deployment
    add_grant(store, "api-user")
    body = event_body(emu.client_key, "authorization.removed", "api-user", {"reason": 5})

    response = httpx.post(
        f"{server.base_url}/tiktok/webhook",
        content=body,
        headers={"TikTok-Signature": hmac_header(emu.client_secret, body, int(time.time()))},
        timeout=30,
    )

    assert response.status_code == 200, server.log()[-3000:]
    assert response.json() == {"status": "recorded"}
    grant = store.get_grant("api-user")
    assert grant.status == "revoked"
    assert grant.status_reason == "authorization.removed: developer revoked"


def test_a_forged_webhook_through_the_api_server_is_rejected(deployment):
    server, store, emu = deployment
    body = event_body(emu.client_key, "authorization.removed", "api-user-2", {"reason": 1})

    response = httpx.post(
        f"{server.base_url}/tiktok/webhook",
        content=body,
        headers={"TikTok-Signature": hmac_header("forged", body, int(time.time()))},
        timeout=30,
    )

    assert response.status_code == 401
    assert json.loads(response.text) == {"error": "invalid signature"}
    assert store.webhook_event_count() == 1
