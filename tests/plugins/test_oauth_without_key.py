"""A state store without a Fernet key refuses a sign-in before TikTok's one-time code is spent."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tiktok_portability.redact import Secret
from tiktok_portability.state import StateStore
from tiktok_portability.state.status import list_grant_statuses
from tiktok_portability_airflow.oauth_routes import CallbackFailed, exchange_and_store
from tiktok_portability_airflow.settings import AppSettings


class RecordingClient:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def __enter__(self) -> RecordingClient:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def exchange_code(self, code: str, redirect_uri: str):
        self.calls.append("exchange_code")
        raise AssertionError("the code must not be exchanged when the tokens cannot be kept")


def test_the_code_is_not_exchanged_when_the_store_has_no_key(tmp_path, monkeypatch, caplog):
    monkeypatch.delenv("TIKTOK_FERNET_KEYS", raising=False)
    store = StateStore.from_url(f"sqlite:///{tmp_path / 'state.db'}")
    client = RecordingClient()
    app = AppSettings(
        conn_id="tiktok_default",
        base_url="http://127.0.0.1:9",
        client_key="key",
        client_secret=Secret("client-secret-value"),
        authorize_url="http://127.0.0.1:9/v2/auth/authorize/",
    )
    services = SimpleNamespace(app=app, state_store=store, get_client=lambda: client)

    with pytest.raises(CallbackFailed):
        exchange_and_store(services, "one-time-code", "http://127.0.0.1:9/tiktok/oauth/callback")

    assert client.calls == []
    assert list_grant_statuses(store) == []
    assert "TIKTOK_FERNET_KEYS" in caplog.text
    assert "one-time-code" not in caplog.text
    store.close()
