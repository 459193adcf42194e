"""Build the core's SyncRuntime from Airflow configuration (one place for tasks and triggers).

Where things come from:
- the TikTok app and the state store: the ``tiktok_default`` / ``tiktok_state`` connections,
  through :class:`TikTokPortabilityHook`;
- the lake: the Airflow Variable ``tiktok_lake_uri``, else the environment variable
  ``TIKTOK_LAKE_URI``, else ``$AIRFLOW_HOME/tiktok_lake``. S3 credentials follow the standard AWS
  chain (``AWS_*`` environment, instance profile); ``AWS_ENDPOINT_URL`` points at S3-compatible
  stores;
- webhooks: extra ``"webhooks_enabled": true`` on ``tiktok_default`` once TikTok's developer
  portal points at the plugin's webhook URL (readiness then waits for events before polling).
"""

from __future__ import annotations

import functools
import os
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tiktok_portability.sync import SyncRuntime

from tiktok_portability.contract import LAKE_URI_ENV as LAKE_ENV
from tiktok_portability.contract import STATE_CONN_ID, TIKTOK_CONN_ID

LAKE_VARIABLE = "tiktok_lake_uri"
SCRATCH_ENV = "TIKTOK_SCRATCH_DIR"


def lake_uri() -> str:
    from airflow.sdk import Variable

    value = None
    try:
        value = Variable.get(LAKE_VARIABLE, default=None)
    except Exception:  # no Variable backend in this process (e.g. the triggerer): fall through
        value = None
    if value:
        return str(value)
    if os.environ.get(LAKE_ENV):
        return os.environ[LAKE_ENV]
    home = os.environ.get("AIRFLOW_HOME") or str(Path.home() / "airflow")
    return str(Path(home) / "tiktok_lake")


def webhooks_configured(tiktok_conn_id: str = TIKTOK_CONN_ID) -> bool:
    from tiktok_portability_airflow.hooks import load_connection
    from tiktok_portability_airflow.settings import extra_of

    value = extra_of(load_connection(tiktok_conn_id)).get("webhooks_enabled", False)
    return value is True or str(value).lower() in ("1", "true", "yes", "on")


def build_runtime(
    tiktok_conn_id: str = TIKTOK_CONN_ID, state_conn_id: str = STATE_CONN_ID, *, with_lake: bool = True
) -> SyncRuntime:
    from tiktok_portability.sync import SyncRuntime
    from tiktok_portability_airflow.hooks import TikTokPortabilityHook

    hook = TikTokPortabilityHook(tiktok_conn_id=tiktok_conn_id, state_conn_id=state_conn_id)
    lake = None
    if with_lake:
        from tiktok_portability.lake import Lake

        lake = Lake.from_uri(lake_uri())
    return SyncRuntime(
        store=hook.get_state_store(),
        client_config=hook.client_config(),
        lake=lake,
        limiter=hook.get_limiter(),
        scratch_dir=os.environ.get(SCRATCH_ENV),
        reconsent_notice=timedelta(days=hook.app.reconsent_notice_days),
        oauth_start_url=hook.app.oauth_start_url,
    )


@functools.lru_cache(maxsize=8)
def shared_runtime(tiktok_conn_id: str = TIKTOK_CONN_ID, state_conn_id: str = STATE_CONN_ID) -> SyncRuntime:
    """One runtime (one state-store connection pool) per triggerer process and connection pair.

    Up to 1,024 batches of a run may wait at once in one triggerer: a store per trigger would open
    a connection pool per batch. The runtime holds no per-run state, so sharing it is safe; a
    connection edited in the UI is picked up when the triggerer restarts.
    """
    return build_runtime(tiktok_conn_id, state_conn_id, with_lake=False)
