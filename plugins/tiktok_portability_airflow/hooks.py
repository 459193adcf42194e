"""TikTokPortabilityHook: Airflow Connections -> client config, state store, quota limiter, client.

The hook owns the two connections (``tiktok_default`` for the app, ``tiktok_state`` for the state
store) and hands out core objects; DAGs, triggers and the webhook app never read connections
themselves. ``load_connection`` is the one place a connection is fetched: the Task SDK's
``Connection.get`` picks the right secrets chain for the process it runs in (the Execution API
inside a task, the metadata DB and ``AIRFLOW_CONN_*`` in the API server, which marks itself as a
server process), so the same code serves tasks and the plugin's FastAPI app.
"""

from __future__ import annotations

import logging
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

from tiktok_portability.contract import STATE_CONN_ID, TIKTOK_CONN_ID
from tiktok_portability_airflow.settings import (
    AppSettings,
    ConnectionLike,
    StateSettings,
    app_settings,
    state_settings,
)

if TYPE_CHECKING:
    from tiktok_portability.client import ClientConfig, TikTokClient
    from tiktok_portability.quota import QuotaLimiter
    from tiktok_portability.state import StateStore

log = logging.getLogger(__name__)

DEFAULT_CONN_ID = TIKTOK_CONN_ID
DEFAULT_STATE_CONN_ID = STATE_CONN_ID


def load_connection(conn_id: str) -> ConnectionLike:
    """Fetch an Airflow Connection by id in a task, a trigger or the API server."""
    from airflow.sdk import Connection

    return Connection.get(conn_id)


def _mask(value: str) -> None:
    """Register a secret with Airflow's log masker (a second line of defence behind ``Secret``)."""
    from airflow.sdk.log import mask_secret

    if value:
        mask_secret(value)


class TikTokPortabilityHook(BaseHook):
    """Build the core objects for one TikTok app and its state store.

    :param tiktok_conn_id: the app connection (host = API base URL, login = client key,
        password = client secret, extra = redirect_uri, scopes, webhook and quota settings).
    :param state_conn_id: the state store connection (SQLAlchemy URL + Fernet keys).
    """

    conn_name_attr = "tiktok_conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = "tiktok_portability"
    hook_name = "TikTok Data Portability"

    def __init__(
        self,
        tiktok_conn_id: str = DEFAULT_CONN_ID,
        state_conn_id: str = DEFAULT_STATE_CONN_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.tiktok_conn_id = tiktok_conn_id
        self.state_conn_id = state_conn_id

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        return {
            "hidden_fields": ["schema", "port"],
            "relabeling": {"host": "API base URL", "login": "Client key", "password": "Client secret"},
            "placeholders": {
                "host": "https://open.tiktokapis.com",
                "extra": '{"redirect_uri": "https://airflow.example.com/tiktok/oauth/callback"}',
            },
        }

    @cached_property
    def app(self) -> AppSettings:
        app = app_settings(load_connection(self.tiktok_conn_id))
        _mask(app.client_secret.reveal())
        return app

    @cached_property
    def state(self) -> StateSettings:
        state = state_settings(load_connection(self.state_conn_id))
        # Airflow masks connection passwords itself, but not Fernet keys kept in the extra.
        for key in state.fernet_keys:
            _mask(key.reveal())
        return state

    def client_config(self) -> ClientConfig:
        from tiktok_portability.client import ClientConfig

        app = self.app
        return ClientConfig(
            base_url=app.base_url,
            client_key=app.client_key,
            client_secret=app.client_secret,
            timeout_s=app.timeout_s,
            max_retries=app.max_retries,
            rate_limit_window_s=app.quota.window_s,
        )

    @cached_property
    def state_store(self) -> StateStore:
        from tiktok_portability.state import StateStore

        state = self.state
        store = StateStore.from_url(state.url.reveal(), fernet_keys=[k.reveal() for k in state.fernet_keys])
        log.info("state store opened conn_id=%s dialect=%s", state.conn_id, store.engine.dialect.name)
        return store

    def get_state_store(self) -> StateStore:
        return self.state_store

    def get_limiter(self) -> QuotaLimiter:
        from tiktok_portability.quota import QuotaConfig, QuotaLimiter

        quota = self.app.quota
        kwargs: dict[str, Any] = {}
        if quota.oauth_per_window is not None:
            kwargs["oauth_per_window"] = quota.oauth_per_window
        config = QuotaConfig(
            per_window=quota.per_window,
            window_s=quota.window_s,
            mode=quota.mode,
            safety_margin=quota.safety_margin,
            **kwargs,
        )
        return QuotaLimiter(self.state_store, config)

    def get_client(self) -> TikTokClient:
        """A sync client paced by the global quota limiter; use it as a context manager."""
        from tiktok_portability.client import TikTokClient

        return TikTokClient(self.client_config(), limiter=self.get_limiter())

    def get_conn(self) -> TikTokClient:
        return self.get_client()

    def test_connection(self) -> tuple[bool, str]:
        """Airflow's "Test" button: both connections parse and the state store answers."""
        try:
            app = self.app
            self.state_store.migrate()
        except Exception as exc:
            return False, f"{type(exc).__name__}: {exc}"
        return True, f"app {app.client_key} at {app.base_url}; state store reachable"
