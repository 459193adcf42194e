"""Hourly refresh of TikTok access tokens that expire soon.

Refreshes, in batches, every active grant whose access token expires within the horizon, one grant
at a time under the grant's lock (the logic is ``tiktok_portability.tokens.refresh_expiring``:
TikTok rotates refresh tokens, so the new pair is committed before anyone uses it). A grant whose
refresh is refused by TikTok (``invalid_grant``: revoked, expired or rotated-out refresh token) is
marked ``needs_reauth`` with the reason and left out of syncs until the user signs in again; the
``report_needs_reauth`` task lists those grants. Token calls are paced by the global quota limiter
(``oauth`` bucket) and run in the ``tiktok_api`` pool.

Settings, in order of precedence: the run's params (trigger form), the Airflow Variables
``tiktok_token_refresh_horizon_minutes`` / ``tiktok_token_refresh_batch_size``, the defaults below.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from airflow.sdk import Param, dag, task

log = logging.getLogger(__name__)

DEFAULT_HORIZON_MINUTES = 180
DEFAULT_BATCH_SIZE = 500
DEFAULT_MAX_BATCHES = 200
REPORT_LIMIT = 1000  # grants listed one per log line; the count covers all

default_args = {
    "owner": "data-platform",
    "retries": 2,
    "retry_delay": timedelta(minutes=2),
    "execution_timeout": timedelta(minutes=50),
}


def _setting(params: dict, name: str, variable: str, default: int) -> int:
    from airflow.sdk import Variable

    value = params.get(name)
    if value is None:
        value = Variable.get(variable, default=None)
    return int(value) if value not in (None, "") else default


@dag(
    dag_id="tiktok_token_refresh",
    description="Refresh TikTok access tokens expiring within the horizon; flag grants that need re-consent",
    schedule="@hourly",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=default_args,
    dagrun_timeout=timedelta(minutes=55),
    tags=["tiktok", "portability", "tokens"],
    params={
        "horizon_minutes": Param(
            None,
            type=["null", "integer"],
            minimum=1,
            description="Refresh tokens expiring within this many minutes (empty: Variable or 180).",
        ),
        "batch_size": Param(
            None,
            type=["null", "integer"],
            minimum=1,
            description="Grants refreshed per batch (empty: Variable or 500).",
        ),
        "max_batches": Param(
            DEFAULT_MAX_BATCHES, type="integer", minimum=1, description="Stop after this many batches."
        ),
    },
    doc_md=__doc__,
)
def tiktok_token_refresh():
    @task(pool="tiktok_api")
    def refresh_expiring_tokens(params: dict | None = None) -> dict:
        from tiktok_portability.tokens import refresh_in_batches
        from tiktok_portability_airflow.hooks import TikTokPortabilityHook

        params = params or {}
        horizon = timedelta(
            minutes=_setting(
                params, "horizon_minutes", "tiktok_token_refresh_horizon_minutes", DEFAULT_HORIZON_MINUTES
            )
        )
        batch_size = _setting(params, "batch_size", "tiktok_token_refresh_batch_size", DEFAULT_BATCH_SIZE)
        hook = TikTokPortabilityHook()
        with hook.get_client() as client:
            return refresh_in_batches(
                hook.get_state_store(),
                client,
                horizon,
                batch_size=batch_size,
                max_batches=int(params.get("max_batches") or DEFAULT_MAX_BATCHES),
            )

    @task
    def report_needs_reauth(totals: dict) -> int:
        from tiktok_portability_airflow.hooks import TikTokPortabilityHook

        store = TikTokPortabilityHook().get_state_store()
        total = store.grant_counts().get("needs_reauth", 0)
        for grant in store.list_grants(status="needs_reauth", limit=REPORT_LIMIT):
            log.warning("needs_reauth open_id=%s reason=%s", grant.fingerprint, grant.status_reason)
        log.info(
            "needs_reauth total=%d newly_flagged=%d refreshed_this_run=%d",
            total,
            totals["needs_reauth"],
            totals["refreshed"],
        )
        return total

    report_needs_reauth(refresh_expiring_tokens())


tiktok_token_refresh()
