"""Serve the plugin's webhook/OAuth app without Airflow (the demo, tests).

In production Airflow's API server mounts the same app under ``/tiktok`` (``plugin.py``) and the
hook supplies its settings. Here a ``StaticServices`` holds them instead::

    TIKTOK_CLIENT_SECRET=... TIKTOK_STATE_URL=sqlite:///state.db TIKTOK_FERNET_KEYS=... \\
    python -m tiktok_portability_airflow.serve --base-url http://127.0.0.1:8765 \\
        --client-key demo-client-key --port 8081

The client secret and the Fernet keys come from the environment only (a command line shows in
the process list). The webhook URL is ``http://<host>:<port>/tiktok/webhook``.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tiktok_portability.redact import Secret
from tiktok_portability_airflow.settings import AppSettings

if TYPE_CHECKING:
    from fastapi import FastAPI

    from tiktok_portability.client import TikTokClient
    from tiktok_portability.state import StateStore

SECRET_ENV = "TIKTOK_CLIENT_SECRET"  # noqa: S105 - the name of a variable, not a secret
PREFIX = "/tiktok"


@dataclass
class StaticServices:
    """The app's ``Services`` from fixed settings and an open state store (no Airflow)."""

    app: AppSettings
    state_store: StateStore

    def get_client(self) -> TikTokClient:
        from tiktok_portability.client import ClientConfig, TikTokClient

        config = ClientConfig(
            base_url=self.app.base_url,
            client_key=self.app.client_key,
            client_secret=self.app.client_secret,
            timeout_s=self.app.timeout_s,
            max_retries=self.app.max_retries,
        )
        return TikTokClient(config)


def mounted_app(services: StaticServices, prefix: str = PREFIX) -> FastAPI:
    """The plugin app mounted under ``prefix``, as Airflow's API server mounts it."""
    from fastapi import FastAPI

    from tiktok_portability_airflow.webhooks import create_app

    root = FastAPI()
    root.mount(prefix, create_app(lambda: services))
    return root


def main(argv: list[str] | None = None) -> int:
    import uvicorn

    from tiktok_portability.state import StateStore

    parser = argparse.ArgumentParser(prog="python -m tiktok_portability_airflow.serve", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--base-url", required=True, help="TikTok's API base URL (or the emulator's)")
    parser.add_argument("--client-key", required=True)
    parser.add_argument("--state-url", default=None, help="default: $TIKTOK_STATE_URL")
    parser.add_argument("--redirect-uri", default=None, help="default: derived from the request")
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    secret = os.environ.get(SECRET_ENV)
    if not secret:
        parser.error(f"set {SECRET_ENV} to the app's client secret")
    settings = AppSettings(
        conn_id="serve",
        base_url=args.base_url.rstrip("/"),
        client_key=args.client_key,
        client_secret=Secret(secret),
        authorize_url=f"{args.base_url.rstrip('/')}/v2/auth/authorize/",
        redirect_uri=args.redirect_uri,
    )
    store = StateStore.from_url(args.state_url) if args.state_url else StateStore.from_env()
    try:
        uvicorn.run(
            mounted_app(StaticServices(settings, store)),
            host=args.host,
            port=args.port,
            log_level=args.log_level,
            access_log=False,
        )
    finally:
        store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
