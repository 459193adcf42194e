"""Connection fields -> settings: what each field means and how mistakes are reported."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from tests.state.stores import tokens
from tiktok_portability.state import KeyConfigError, StateStore
from tiktok_portability.state.status import list_grant_statuses
from tiktok_portability_airflow.settings import SettingsError, app_settings, state_settings


@dataclass
class Conn:
    conn_id: str = "tiktok_default"
    conn_type: str | None = "http"
    host: str | None = "https://open.tiktokapis.com"
    schema: str | None = None
    login: str | None = "key"
    password: str | None = "s3cr3t-value"
    port: int | None = None
    extra: str | None = None


def test_the_official_api_uses_tiktoks_consent_page_and_documented_quota():
    app = app_settings(Conn())
    assert app.base_url == "https://open.tiktokapis.com"
    assert app.authorize_url == "https://www.tiktok.com/v2/auth/authorize/"
    assert app.quota.per_window == 1000
    assert app.scopes == ("portability.all.ongoing",)
    assert "s3cr3t-value" not in repr(app)


def test_an_emulator_host_serves_its_own_consent_page_and_extra_overrides_defaults():
    extra = {
        "redirect_uri": "http://x/cb",
        "quota_per_window": 10,
        "quota_window_s": 1,
        "scopes": "portability.activity.ongoing",
    }
    app = app_settings(Conn(host="127.0.0.1", schema="http", port=8765, extra=json.dumps(extra)))
    assert app.base_url == "http://127.0.0.1:8765"
    assert app.authorize_url == "http://127.0.0.1:8765/v2/auth/authorize/"
    assert (app.redirect_uri, app.quota.per_window, app.quota.window_s) == ("http://x/cb", 10, 1.0)
    assert app.scopes == ("portability.activity.ongoing",)


@pytest.mark.parametrize(
    ("conn", "message"),
    [
        (Conn(host=""), "host"),
        (Conn(login=None), "client key"),
        (Conn(password=""), "client secret"),
        (Conn(extra="{not json"), "not valid JSON"),
        (Conn(extra='{"quota_per_window": "many"}'), "quota_per_window"),
        (Conn(extra='{"scopes": ["user.info.basic"]}'), "not a Data Portability scope"),
        (Conn(extra='{"scopes": ["portability.all.ongoing", "video.list"]}'), "video.list"),
    ],
)
def test_app_mistakes_name_the_connection_and_field(conn, message):
    with pytest.raises(SettingsError, match=message) as info:
        app_settings(conn)
    assert "tiktok_default" in str(info.value)
    assert "s3cr3t-value" not in str(info.value)


def test_state_url_from_postgres_parts_escapes_the_password_and_hides_it():
    conn = Conn(
        "tiktok_state", "postgres", "db", "tiktok", "u", "p@ss/word", 5432, '{"fernet_keys": ["k1", "k2"]}'
    )
    state = state_settings(conn, environ={})
    assert state.url.reveal() == "postgresql+psycopg2://u:p%40ss%2Fword@db:5432/tiktok"
    assert [k.reveal() for k in state.fernet_keys] == ["k1", "k2"]
    assert "p%40ss" not in repr(state)


def test_state_url_from_extra_and_keys_from_the_environment():
    conn = Conn("tiktok_state", "generic", None, None, None, None, None, '{"url": "sqlite:///s.db"}')
    state = state_settings(conn, environ={"TIKTOK_FERNET_KEYS": "new, old"})
    assert state.url.reveal() == "sqlite:///s.db"
    assert [k.reveal() for k in state.fernet_keys] == ["new", "old"]


def test_a_state_connection_without_keys_is_accepted_for_reading_statuses(tmp_path, monkeypatch):
    monkeypatch.delenv("TIKTOK_FERNET_KEYS", raising=False)
    conn = Conn("tiktok_state", "sqlite", str(tmp_path / "s.db"), extra=None)
    state = state_settings(conn, environ={})
    assert state.fernet_keys == ()
    # Keys are checked where tokens are used: the store opens and refuses only a token.
    store = StateStore.from_url(state.url.reveal(), fernet_keys=[])
    assert list_grant_statuses(store) == []
    with pytest.raises(KeyConfigError, match="fernet_keys"):
        store.upsert_grant("u1", ["portability.all.ongoing"], tokens())
    store.close()


def test_user_info_basic_may_be_asked_beside_the_portability_scopes():
    app = app_settings(Conn(extra='{"scopes": "portability.all.ongoing, user.info.basic"}'))

    assert app.scopes == ("portability.all.ongoing", "user.info.basic")
