"""The read-only status view on the Airflow API server, behind Airflow's own login.

Mounted at ``/tiktok-status`` (a prefix of its own: the webhook app under ``/tiktok`` is open to
the internet and checks only TikTok's signatures, this one never is). Every request is
authenticated the way Airflow's REST API authenticates (the ``Authorization: Bearer`` JWT, else
the UI's ``_token`` cookie; no session -> 401) and authorized by the deployment's auth manager
(-> 403). Seeing the page needs both:

- read access to the runs of ``tiktok_ongoing_sync`` (the page shows their per-user outcomes),
- read access to the ``tiktok_state`` connection (the page reads that database and lists
  open_ids, personal identifiers: the same people who may read the connection may see them).

With the SimpleAuthManager that is the ``op`` role and above; a ``viewer`` gets 403.

The page reads statuses only (no token), so the state store opens without a Fernet key.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from tiktok_portability.clock import utcnow
from tiktok_portability.contract import STATE_CONN_ID, SYNC_DAG_ID
from tiktok_portability.state.status import (
    DEFAULT_RECONSENT_NOTICE,
    list_grant_statuses,
    list_transfer_statuses,
)
from tiktok_portability.sync.reasons import OAUTH_START_PATH
from tiktok_portability_airflow import status_page
from tiktok_portability_airflow.status_page import FilterError, StatusFilters

if TYPE_CHECKING:
    from tiktok_portability.state import StateStore

log = logging.getLogger(__name__)

URL_PREFIX = "/tiktok-status"
# The page lives in the Airflow UI's plugin frame (same origin) and loads nothing from elsewhere.
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


async def airflow_user(request: Request) -> Any:
    """The caller as Airflow's REST API resolves them (bearer JWT, else the UI cookie), or 401."""
    from airflow.api_fastapi.core_api.security import bearer_scheme, get_user

    credentials = await bearer_scheme(request)
    return await get_user(request, None, credentials)


def may_read_statuses(user: Any, state_conn_id: str = STATE_CONN_ID) -> bool:
    """The auth manager's word on the two reads the page is made of (see the module docstring)."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import (
        ConnectionDetails,
        DagAccessEntity,
        DagDetails,
    )

    manager = get_auth_manager()
    return manager.is_authorized_dag(
        method="GET", access_entity=DagAccessEntity.RUN, details=DagDetails(id=SYNC_DAG_ID), user=user
    ) and manager.is_authorized_connection(
        method="GET", details=ConnectionDetails(conn_id=state_conn_id), user=user
    )


def _sign_in_url(request: Request) -> str:
    """The OAuth start page on the address the page was reached at (base_url: the server's root)."""
    return str(request.base_url).rstrip("/") + OAUTH_START_PATH


def _login_url() -> str:
    """The auth manager's sign-in page, escaped for an attribute ("/" when it cannot say)."""
    from html import escape

    try:
        from airflow.api_fastapi.app import get_auth_manager

        return escape(get_auth_manager().get_url_login(), quote=True)
    except Exception:  # a sign-in link is a convenience; the 401 stands either way
        return "/"


@dataclass(frozen=True)
class AppFacts:
    """What the page takes from the ``tiktok_default`` connection, as the sync summary does.

    ``sign_in_url``: the public OAuth start link (from the connection's redirect_uri); None: the
    page derives it from the address it was reached at.
    """

    reconsent_notice: timedelta = DEFAULT_RECONSENT_NOTICE
    sign_in_url: str | None = None


def default_app_facts() -> AppFacts:
    """The app connection's reconsent notice and sign-in link; defaults when it cannot be read.

    The page needs only the state store: a missing or broken app connection must not hide it.
    """
    from tiktok_portability_airflow.hooks import TikTokPortabilityHook

    try:
        app = TikTokPortabilityHook().app
    except Exception as exc:
        log.info("status view: app connection not readable (%s); using defaults", exc)
        return AppFacts()
    return AppFacts(timedelta(days=app.reconsent_notice_days), app.oauth_start_url)


def default_store() -> StateStore:
    """The state store of the ``tiktok_state`` connection (keys only if configured: none needed)."""
    from tiktok_portability_airflow.hooks import TikTokPortabilityHook

    return TikTokPortabilityHook(state_conn_id=STATE_CONN_ID).state_store


def _page(title: str, message: str, status_code: int, link: str = "") -> HTMLResponse:
    from html import escape

    body = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title></head>"
        f"<body style='font-family:sans-serif;margin:2em'><h1>{escape(title)}</h1>"
        f"<p>{escape(message)}</p>{link}</body></html>"
    )
    return HTMLResponse(body, status_code=status_code, headers=SECURITY_HEADERS)


def create_app(
    store_factory: Callable[[], StateStore] = default_store,
    authenticate: Callable[[Request], Any] = airflow_user,
    authorize: Callable[[Any], bool] = may_read_statuses,
    app_facts: Callable[[], AppFacts] = default_app_facts,
) -> FastAPI:
    """The status app; the store is opened on the first authorized request, not at plugin import."""
    api = FastAPI(title="TikTok status", docs_url=None, redoc_url=None, openapi_url=None)
    store_lock = threading.Lock()
    opened: list[tuple[StateStore, AppFacts]] = []

    def store() -> tuple[StateStore, AppFacts]:
        with store_lock:
            if not opened:
                opened.append((store_factory(), app_facts()))
            return opened[0]

    def read(filters: StatusFilters, here_sign_in_url: str) -> str:
        s, facts = store()
        transfers = list_transfer_statuses(
            s,
            status=filters.transfer_status,
            reason=filters.reason,
            on_date=filters.date,
            open_id=filters.open_id,
            run_id=filters.run_id,
            limit=status_page.ROW_LIMIT,
            newest_first=True,
        )
        # A run or a date narrows the grants to the users it touched.
        scoped = {t.open_id for t in transfers} if filters.run_id or filters.date else None
        grants = list_grant_statuses(
            s,
            status=filters.grant_status,
            reason=filters.reason,
            open_id=filters.open_id,
            open_ids=sorted(scoped) if scoped is not None else None,
            reconsent_due=filters.reconsent_due,
            reconsent_notice=facts.reconsent_notice,
            limit=status_page.ROW_LIMIT,
        )
        sign_in_url = facts.sign_in_url or here_sign_in_url
        return status_page.render(filters, grants, transfers, s.grant_counts(), utcnow(), sign_in_url)

    @api.get("/", response_class=HTMLResponse)
    async def status(request: Request) -> HTMLResponse:
        try:
            user = await authenticate(request)
        except HTTPException as exc:
            if exc.status_code == 401:
                login = f"<p><a href='{_login_url()}' target='_top'>Sign in to Airflow</a></p>"
                return _page("Sign in first", "This page is part of the Airflow UI.", 401, login)
            return _page("Not allowed", str(exc.detail), exc.status_code)
        if not await run_in_threadpool(authorize, user):
            log.info("status view refused user=%s", getattr(user, "get_name", lambda: "?")())
            return _page(
                "Not allowed",
                f"Reading user statuses needs read access to {SYNC_DAG_ID} runs and to the "
                f"{STATE_CONN_ID} connection.",
                403,
            )
        try:
            filters = StatusFilters.parse(request.query_params)
        except FilterError as exc:
            return _page("Bad filter", str(exc), 400)
        body = await run_in_threadpool(read, filters, _sign_in_url(request))
        return HTMLResponse(body, headers=SECURITY_HEADERS)

    return api


app = create_app()
