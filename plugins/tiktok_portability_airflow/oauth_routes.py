"""The Login Kit sign-in pages: ``GET /oauth/start`` and ``GET /oauth/callback``.

- ``/oauth/start`` creates a signed ``state`` bound to the browser (a ``Secure``, HttpOnly cookie
  unless ``oauth_cookie_secure`` is off for plain http on localhost) and redirects to TikTok's
  consent page with the configured ``redirect_uri``: it never comes from the request's Host header,
  which a client controls.
- ``/oauth/callback`` checks ``state``, records it as spent in the state store (a state completes
  at most one callback, even replayed with its cookie), exchanges the code and stores the grant.

Every page reads as plain words for the user. An unexpected failure shows only an error id; the
log line with that id has the detail, with the code, tokens, client secret and open_id masked.
"""

from __future__ import annotations

import html
import logging
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from tiktok_portability import clock
from tiktok_portability.eligibility import mentions_region
from tiktok_portability.redact import fingerprint
from tiktok_portability.scopes import USER_INFO_BASIC, ScopeError, check_requested_scopes
from tiktok_portability_airflow import oauth_state
from tiktok_portability_airflow.settings import AppSettings

if TYPE_CHECKING:
    from tiktok_portability.client import TikTokClient
    from tiktok_portability.state import StateStore

log = logging.getLogger(__name__)


class OAuthServices(Protocol):
    @property
    def app(self) -> AppSettings: ...

    @property
    def state_store(self) -> StateStore: ...

    def get_client(self) -> TikTokClient: ...


@dataclass(frozen=True)
class Connected:
    open_id: str
    scopes: list[str]
    parked_reason: str | None  # the grant stays parked (ineligible region) after this consent
    display_name: str | None = None  # known when user.info.basic was granted


class CallbackFailed(Exception):
    """An unexpected failure of the callback; ``error_id`` ties the user's page to the log line."""

    def __init__(self, error_id: str) -> None:
        super().__init__(f"oauth callback failed error_id={error_id}")
        self.error_id = error_id


def page(title: str, message: str, status_code: int) -> HTMLResponse:
    body = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
        "<body style='font-family:sans-serif;max-width:40em;margin:4em auto'>"
        f"<h1>{html.escape(title)}</h1><p>{html.escape(message)}</p></body></html>"
    )
    return HTMLResponse(body, status_code=status_code, headers={"Cache-Control": "no-store"})


def masked(text: str, hidden: Iterable[str], open_ids: Iterable[str] = ()) -> str:
    """``text`` with every secret replaced by ``***`` and every open_id by its fingerprint."""
    for value in hidden:
        if value:
            text = text.replace(value, "***")
    for open_id in open_ids:
        if open_id:
            text = text.replace(open_id, f"<open_id {fingerprint(open_id)}>")
    return text


def _describe(exc: BaseException) -> str:
    parts = []
    seen: BaseException | None = exc
    while seen is not None and len(parts) < 4:
        parts.append(f"{type(seen).__name__}: {seen}")
        seen = seen.__cause__ or seen.__context__
    return " <- ".join(parts)


def _fail(step: str, exc: Exception, hidden: Iterable[str], open_ids: Iterable[str] = ()) -> CallbackFailed:
    error_id = secrets.token_hex(6)
    open_ids = list(open_ids)
    log.error(
        "oauth callback failed error_id=%s step=%s open_id=%s error=%s",
        error_id,
        step,
        ",".join(fingerprint(o) for o in open_ids) or "-",
        masked(_describe(exc), hidden, open_ids)[:2000],
    )
    return CallbackFailed(error_id)


def _failure_page(failed: CallbackFailed) -> HTMLResponse:
    return page(
        "TikTok connection failed",
        "Something went wrong while connecting your TikTok account, and nothing was stored. Please "
        "try again later. If it keeps failing, give the operator this error id: "
        f"{failed.error_id}.",
        500,
    )


def _not_configured() -> HTMLResponse:
    log.error("oauth sign-in refused: the tiktok connection has no redirect_uri in its extra")
    return page(
        "Sign-in is not set up",
        "The operator has not configured this sign-in yet (the connection's redirect_uri is missing).",
        503,
    )


def _account(connected: Connected) -> str:
    if connected.display_name:
        return f"account {connected.display_name}"
    return f"account {fingerprint(connected.open_id)}"


def exchange_and_store(svc: OAuthServices, code: str, redirect_uri: str) -> Connected:
    """Exchange the code and store the grant; any failure is logged masked as CallbackFailed."""
    app = svc.app
    hidden = [code, app.client_secret.reveal()]
    try:
        # A code can be exchanged once: a store that could not keep the tokens refuses first.
        svc.state_store.require_token_key()
    except Exception as exc:
        raise _fail("store_grant", exc, hidden) from None
    try:
        with svc.get_client() as client:
            tokens = client.exchange_code(code, redirect_uri)
            hidden += [tokens.access_token.reveal(), tokens.refresh_token.reveal()]
            name = _display_name(client, tokens, hidden)
    except CallbackFailed:
        raise
    except Exception as exc:
        raise _fail("exchange_code", exc, hidden) from None
    try:
        grant = svc.state_store.upsert_grant(tokens.open_id, tokens.scopes, tokens)
    except Exception as exc:
        raise _fail("store_grant", exc, hidden, [tokens.open_id]) from None
    log.info("grant stored open_id=%s scopes=%s", fingerprint(tokens.open_id), ",".join(tokens.scopes))
    parked = grant.status_reason if grant.status == "ineligible" else None
    return Connected(tokens.open_id, list(tokens.scopes), parked, name)


def _display_name(client: TikTokClient, tokens: Any, hidden: list[str]) -> str | None:
    """The account's display name when ``user.info.basic`` was granted; None if unknown.

    Only for the page: a failure here is logged (masked) and never fails the sign-in.
    """
    if USER_INFO_BASIC not in tokens.scopes:
        return None
    try:
        return client.user_info(tokens.access_token, open_id=tokens.open_id).display_name
    except Exception as exc:
        log.warning(
            "oauth user info unavailable open_id=%s error=%s",
            fingerprint(tokens.open_id),
            masked(_describe(exc), hidden, [tokens.open_id])[:500],
        )
        return None


def _cookie_path(request: Request) -> str:
    return (request.scope.get("root_path") or "").rstrip("/") + "/oauth/"


def _done(response: Response, request: Request) -> Response:
    """Clear the state cookie: the sign-in is over, whatever its outcome."""
    response.delete_cookie(oauth_state.COOKIE_NAME, path=_cookie_path(request))
    return response


def add_oauth_routes(api: FastAPI, services: Callable[[], OAuthServices]) -> None:
    """Add ``/oauth/start`` and ``/oauth/callback``; ``services`` is called on each request."""

    @api.get("/oauth/start")
    async def oauth_start(request: Request, scope: str | None = None) -> Response:
        svc = await run_in_threadpool(services)
        app = svc.app
        if not app.redirect_uri:
            return _not_configured()
        try:
            scopes = check_requested_scopes(scope.split(",")) if scope else app.scopes
        except ScopeError as exc:
            return page("Cannot start the sign-in", str(exc), 400)
        state, decoded = oauth_state.issue(app.client_secret, scopes, now=clock.now_ts())
        query = urlencode(
            {
                "client_key": app.client_key,
                "scope": ",".join(scopes),
                "response_type": "code",
                "redirect_uri": app.redirect_uri,
                "state": state,
            }
        )
        response = RedirectResponse(f"{app.authorize_url}?{query}", status_code=302)
        response.set_cookie(
            oauth_state.COOKIE_NAME,
            decoded.nonce,
            max_age=oauth_state.DEFAULT_TTL_S,
            httponly=True,
            samesite="lax",
            secure=app.oauth_cookie_secure,
            path=_cookie_path(request),
        )
        return response

    @api.get("/oauth/callback", name="oauth_callback")
    async def oauth_callback(
        request: Request,
        code: str | None = None,
        state: str | None = None,
        error: str | None = None,
        error_description: str | None = None,
    ) -> Response:
        svc = await run_in_threadpool(services)
        app = svc.app
        if not app.redirect_uri:
            return _not_configured()
        try:
            decoded = oauth_state.verify(
                app.client_secret, state, request.cookies.get(oauth_state.COOKIE_NAME), now=clock.now_ts()
            )
        except oauth_state.OAuthStateError as exc:
            log.warning("oauth callback rejected reason=%s", exc)
            return page("Sign-in could not be verified", f"{exc}. Nothing was stored.", 400)
        expires = datetime.fromtimestamp(decoded.expires_at, UTC)
        try:
            first_use = await run_in_threadpool(svc.state_store.spend_oauth_state, decoded.nonce, expires)
        except Exception as exc:
            return _done(_failure_page(_fail("spend_state", exc, [app.client_secret.reveal()])), request)
        if not first_use:
            log.warning("oauth callback rejected reason=state_already_used")
            return _done(
                page(
                    "This sign-in link was already used",
                    "Each sign-in link works once. Start again from the sign-in link; nothing was stored.",
                    400,
                ),
                request,
            )
        if error:
            return _done(_declined(error, error_description), request)
        if not code:
            return _done(page("Sign-in incomplete", "TikTok sent no authorization code back.", 400), request)
        try:
            connected = await run_in_threadpool(exchange_and_store, svc, code, app.redirect_uri)
        except CallbackFailed as failed:
            return _done(_failure_page(failed), request)
        return _done(_connected_page(connected, decoded.scopes), request)


def _declined(error: str, description: str | None) -> HTMLResponse:
    if mentions_region(error, description):
        log.info("oauth callback declined reason=ineligible_region error=%s", error[:64])
        return page(
            "This TikTok account cannot be connected",
            "TikTok offers data portability only to accounts in the EEA and the UK, and says this "
            "account is outside them. Nothing was stored; signing in again will not change that.",
            403,
        )
    log.info("oauth callback declined error=%s", error[:64])
    detail = (description or error)[:300]
    return page("TikTok did not connect", f"TikTok answered: {detail}. Nothing was stored.", 400)


def _connected_page(connected: Connected, asked: Iterable[str]) -> HTMLResponse:
    missing = [s for s in asked if s not in connected.scopes]
    granted = ", ".join(connected.scopes) or "none"
    note = f" Not granted: {', '.join(missing)}." if missing else ""
    if connected.parked_reason:
        return page(
            "TikTok account connected, but not eligible",
            f"The {_account(connected)} is connected with scopes: {granted}.{note} TikTok has said "
            "before that it offers data portability only to accounts in the EEA and the UK, so no "
            "data is requested for this account; the operator can re-check it if its region changed.",
            200,
        )
    return page(
        "TikTok account connected",
        f"The {_account(connected)} is connected with scopes: {granted}.{note} You can close this page.",
        200,
    )
