"""Registers the TikTok webhook receiver, the OAuth callback and the status view on the API server.

Airflow mounts ``fastapi_apps`` under their ``url_prefix``: the webhook URL is
``<api server>/tiktok/webhook`` and the OAuth redirect URL ``<api server>/tiktok/oauth/callback``.
The status view (``/tiktok-status/``, behind Airflow's login) appears in the UI twice: a "TikTok
users" entry in the navigation, and a "TikTok users" tab on every DAG run's page that opens it
filtered to that run.
Airflow's plugin loader imports this file by path under a bare module name, so imports here are
absolute; ``.airflowignore`` keeps the loader from importing the package's other modules the same way.
"""

from __future__ import annotations

from urllib.parse import urlparse

from airflow.configuration import conf
from airflow.plugins_manager import AirflowPlugin

from tiktok_portability_airflow import status_view
from tiktok_portability_airflow.webhooks import app

URL_PREFIX = "/tiktok"
# The UI loads external views from their href as given: behind a base path (api.base_url
# http://host/airflow) the view is under that path too.
_BASE_PATH = urlparse(conf.get("api", "base_url", fallback="") or "").path.rstrip("/")
STATUS_HREF = f"{_BASE_PATH}{status_view.URL_PREFIX}/"


class TikTokPortabilityPlugin(AirflowPlugin):
    name = "tiktok_portability"
    fastapi_apps = [
        {"app": app, "url_prefix": URL_PREFIX, "name": "TikTok webhooks and OAuth callback"},
        {"app": status_view.app, "url_prefix": status_view.URL_PREFIX, "name": "TikTok status view"},
    ]
    external_views = [
        {
            "name": "TikTok users",
            "href": STATUS_HREF,
            "destination": "nav",
            "url_route": "tiktok-users",
            "nav_top_level": True,
        },
        {
            "name": "TikTok users",
            "href": STATUS_HREF + "?run_id={RUN_ID}",
            "destination": "dag_run",
            "url_route": "tiktok-users-of-run",
        },
    ]
