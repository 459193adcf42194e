"""Login Kit: ``POST /v2/oauth/token/``, ``POST /v2/oauth/revoke/`` and the authorize page."""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from tiktok_portability.emulator.errors import (
    AdminError,
    ApiError,
    OAuthError,
    invalid_params,
    scope_not_authorized,
)
from tiktok_portability.emulator.responses import api_error, api_ok, json_response, new_log_id, oauth_error
from tiktok_portability.emulator.routes_portability import apply_fault, lose_if_asked
from tiktok_portability.emulator.runtime import Emulator
from tiktok_portability.emulator.state import check_scopes
from tiktok_portability.scopes import USER_INFO_BASIC, ScopeError

router = APIRouter()


async def read_form(request: Request) -> dict[str, str]:
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("application/x-www-form-urlencoded"):
        raise OAuthError("invalid_request", "Content-Type must be application/x-www-form-urlencoded.")
    raw = (await request.body()).decode("utf-8", errors="replace")
    return {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}


def check_client(emu: Emulator, form: dict[str, str]) -> None:
    for name in ("client_key", "client_secret"):
        if not form.get(name):
            raise OAuthError("invalid_request", f"{name} is required.")
    if form["client_key"] != emu.config.client_key or form["client_secret"] != emu.config.client_secret:
        raise OAuthError("invalid_client", "Client key or secret is invalid.", status=401)


def _required(form: dict[str, str], name: str) -> str:
    value = form.get(name)
    if not value:
        raise OAuthError("invalid_request", f"{name} is required.")
    return value


async def oauth_call(request: Request, endpoint: str, handle) -> Response:
    """Shared frame of the OAuth endpoints: faults (only when aimed at them), envelope, request log."""
    emu: Emulator = request.app.state.emulator
    generation = emu.generation
    log_id = new_log_id()
    open_id: str | None = None
    fault = emu.faults.take(endpoint, None, explicit_only=True)
    try:
        if fault is not None:
            await apply_fault(emu, fault, None, request)
        form = await read_form(request)
        check_client(emu, form)
        payload, open_id = handle(emu, form)
        response, code = json_response(payload, headers={"X-Tt-Logid": log_id}), "ok"
    except OAuthError as err:
        response, code = oauth_error(err, log_id), err.error
    except ApiError as err:
        response, code = api_error(err, log_id), err.code
    fault_kind = fault.kind if fault else None
    emu.record(endpoint, "POST", open_id, response.status_code, code, None, fault_kind, generation=generation)
    return lose_if_asked(fault, response)


def _token(emu: Emulator, form: dict[str, str]) -> tuple[dict[str, Any], str]:
    grant_type = _required(form, "grant_type")
    if grant_type == "authorization_code":
        body = emu.world.exchange_code(_required(form, "code"), _required(form, "redirect_uri"))
    elif grant_type == "refresh_token":
        body = emu.world.refresh(_required(form, "refresh_token"))
    else:
        raise OAuthError("unsupported_grant_type", f"grant_type {grant_type[:40]!r} is not supported.")
    return body, body["open_id"]


def _revoke(emu: Emulator, form: dict[str, str]) -> tuple[dict[str, Any], str | None]:
    token = _required(form, "token")
    owner = emu.world.token_owner(f"Bearer {token}")
    emu.world.revoke(token)
    return {}, owner


async def token(request: Request) -> Response:
    return await oauth_call(request, "oauth_token", _token)


async def revoke(request: Request) -> Response:
    return await oauth_call(request, "oauth_revoke", _revoke)


USER_INFO_FIELDS = ("open_id", "union_id", "avatar_url", "display_name")


async def user_info(request: Request) -> Response:
    """Login Kit's ``GET /v2/user/info/?fields=...``: needs ``user.info.basic`` on the token."""
    emu: Emulator = request.app.state.emulator
    log_id = new_log_id()
    open_id = None
    try:
        user = emu.world.authenticate(request.headers.get("authorization"))
        open_id = user.open_id
        if USER_INFO_BASIC not in user.scopes:
            raise scope_not_authorized("user.info.basic was not granted")
        fields = [f for f in request.query_params.get("fields", "").split(",") if f]
        unknown = [f for f in fields if f not in USER_INFO_FIELDS]
        if not fields or unknown:
            raise invalid_params(f"fields must name some of {', '.join(USER_INFO_FIELDS)}")
        values = {"open_id": user.open_id, "union_id": f"union-{user.open_id}", "avatar_url": None}
        values["display_name"] = user.display_name
        response, code = api_ok({"user": {f: values[f] for f in fields}}, log_id), "ok"
    except ApiError as err:
        response, code = api_error(err, log_id), err.code
    emu.record("user_info", "GET", open_id, response.status_code, code, None, None)
    return response


# Plain Starlette routes, like the portability surface (no per-call dependency solving).
router.add_route("/v2/oauth/token/", token, methods=["POST"])
router.add_route("/v2/oauth/revoke/", revoke, methods=["POST"])
router.add_route("/v2/user/info/", user_info, methods=["GET"])


def _redirect(redirect_uri: str, params: dict[str, str]) -> RedirectResponse:
    parts = urlsplit(redirect_uri)
    query = "&".join(q for q in (parts.query, urlencode(params)) if q)
    return RedirectResponse(urlunsplit(parts._replace(query=query)), status_code=302)


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        f"<!doctype html><html><head><title>{html.escape(title)}</title></head>"
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>",
        status_code=status,
    )


@router.get("/v2/auth/authorize/")
async def authorize(request: Request) -> Response:
    """TikTok's consent page, reduced to what a callback test needs.

    Emulator extensions: ``open_id=<id>`` consents as that user, ``open_id=new`` creates one
    (``region`` optional, default NL), ``deny=1`` declines. Without ``open_id`` a page lists users.
    """
    emu: Emulator = request.app.state.emulator
    q = request.query_params
    redirect_uri, state = q.get("redirect_uri", ""), q.get("state", "")
    if not redirect_uri.startswith(("http://", "https://")):
        return _page("Invalid redirect_uri", "<p>redirect_uri must be an absolute http(s) URL.</p>", 400)
    if q.get("client_key") != emu.config.client_key:
        return _page("Invalid client_key", "<p>Unknown client_key.</p>", 400)
    outcome = "ok"
    open_id: str | None = q.get("open_id")
    try:
        if q.get("response_type") != "code":
            raise OAuthError("unsupported_response_type", "response_type must be code.")
        try:
            scopes = check_scopes(q.get("scope", "").split(","))
            if not scopes:
                raise ScopeError("scope is empty")
        except ScopeError as exc:
            raise OAuthError("invalid_scope", str(exc)) from None
        if q.get("deny"):
            raise OAuthError("access_denied", "The user denied the authorization request.")
        if not open_id:
            return _choose_user_page(emu, request)
        if open_id == "new":
            open_id = emu.world.create_user(scopes=scopes, region=q.get("region", "NL")).open_id
        user = emu.world.user(open_id)
        if emu.config.ineligible_region_mode == "consent" and not emu.world.eligible(user):
            raise OAuthError(
                "access_denied",
                f"Data Portability is not available in this account's region ({user.region}); "
                "only EEA and UK accounts are eligible.",
            )
        code = emu.world.create_code(open_id, redirect_uri, scopes)
        response: Response = _redirect(
            redirect_uri, {"code": code, "scopes": ",".join(scopes), "state": state}
        )
    except OAuthError as err:
        outcome = err.error
        response = _redirect(
            redirect_uri, {"error": err.error, "error_description": err.description, "state": state}
        )
    except AdminError as err:
        outcome = "invalid_request"
        response = _redirect(
            redirect_uri, {"error": "invalid_request", "error_description": err.message, "state": state}
        )
    emu.record("authorize", "GET", open_id, response.status_code, outcome, None, None)
    return response


def _choose_user_page(emu: Emulator, request: Request) -> HTMLResponse:
    base = str(request.url)
    links = [f'<li><a href="{html.escape(base)}&amp;open_id=new">Create a new EEA user and consent</a></li>']
    for oid in list(emu.world.users)[:200]:
        href = html.escape(f"{base}&{urlencode({'open_id': oid})}")
        links.append(f'<li><a href="{href}">Consent as {html.escape(oid)}</a></li>')
    links.append(f'<li><a href="{html.escape(base)}&amp;deny=1">Decline</a></li>')
    return _page("TikTok emulator: authorize app", "<ul>" + "".join(links) + "</ul>")
