"""Registers the TikTok webhook receiver and OAuth callback on the Airflow API server.

Airflow mounts ``fastapi_apps`` under their ``url_prefix``: the webhook URL is
``<api server>/tiktok/webhook`` and the OAuth redirect URL ``<api server>/tiktok/oauth/callback``.
Airflow's plugin loader imports this file by path under a bare module name, so imports here are
absolute; ``.airflowignore`` keeps the loader from importing the package's other modules the same way.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from tiktok_portability_airflow.webhooks import app

URL_PREFIX = "/tiktok"


class TikTokPortabilityPlugin(AirflowPlugin):
    name = "tiktok_portability"
    fastapi_apps = [
        {"app": app, "url_prefix": URL_PREFIX, "name": "TikTok webhooks and OAuth callback"},
    ]
