"""TikTok's endpoints as data: what each call sends and how its answer decodes (no I/O here).

The sync and async clients share this module so that both build identical requests and map
identical responses to identical errors.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tiktok_portability.client import errors
from tiktok_portability.client.config import ClientConfig
from tiktok_portability.client.errors import CallContext, OutcomeUnknown, TikTokError
from tiktok_portability.client.retry import parse_retry_after
from tiktok_portability.redact import Secret
from tiktok_portability.scopes import ScopeError, validate_categories

ADD_PATH = "/v2/user/data/add/"
CHECK_PATH = "/v2/user/data/check/"
CANCEL_PATH = "/v2/user/data/cancel/"
DOWNLOAD_PATH = "/v2/user/data/download/"
TOKEN_PATH = "/v2/oauth/token/"  # noqa: S105 - a URL path, not a credential
REVOKE_PATH = "/v2/oauth/revoke/"
USER_INFO_PATH = "/v2/user/info/"
USER_INFO_FIELDS = "open_id,display_name"

ADD_FIELDS = "request_id"
CHECK_FIELDS = "request_id,apply_time,collect_time,status,data_format,category_selection_list"
DATA_FORMATS = ("json", "text")
INT64_MAX = 2**63 - 1


@dataclass(frozen=True)
class Call:
    """One HTTP exchange with TikTok, ready to send (possibly several times)."""

    ctx: CallContext
    endpoint: str  # the limiter bucket
    path: str  # with the literal ``?fields=`` list where TikTok wants one
    json_body: dict[str, Any] | None = None
    # Secret values stay wrapped until form_data(), so a repr of the call (tracebacks) is safe.
    form: dict[str, str | Secret] | None = None
    bearer: Secret | None = None
    oauth: bool = False
    # Set for calls that are not idempotent: the error raised when the server may have acted.
    unknown_outcome: type[OutcomeUnknown] | None = None
    retry_server_errors: bool = True
    secrets: tuple[Secret, ...] = field(default=(), repr=False)
    # Download answers a zip whose content type TikTok does not document: accept anything.
    accept: str = "application/json"
    method: str = "POST"  # every portability and OAuth call; user info is a GET

    def headers(self) -> dict[str, str]:
        headers: dict[str, str] = {"Accept": self.accept}
        if self.bearer is not None:
            headers["Authorization"] = f"Bearer {self.bearer.reveal()}"
        return headers

    def form_data(self) -> dict[str, str] | None:
        if self.form is None:
            return None
        return {k: v.reveal() if isinstance(v, Secret) else v for k, v in self.form.items()}

    def revealed_secrets(self) -> tuple[str, ...]:
        return tuple(s.reveal() for s in self.secrets)


def as_secret(value: Secret | str, what: str) -> Secret:
    secret = value if isinstance(value, Secret) else Secret(value)
    if not secret:
        raise ValueError(f"{what} is empty")
    return secret


def coerce_request_id(value: int | str) -> int:
    """A request id as an exact int; floats are refused because int64 ids do not survive them."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise TypeError(f"request_id must be an int (got {type(value).__name__}); floats lose int64 digits")
    try:
        rid = int(value)
    except ValueError:
        raise ValueError(f"request_id {value!r} is not an integer") from None
    if not 0 < rid <= INT64_MAX:
        raise ValueError(f"request_id {rid} is outside the int64 range TikTok uses")
    return rid


def add_call(
    access_token: Secret | str,
    categories: Sequence[str],
    data_format: str,
    open_id: str | None = None,
) -> Call:
    token = as_secret(access_token, "access_token")
    if data_format not in DATA_FORMATS:
        raise ValueError(f"data_format must be one of {DATA_FORMATS}, got {data_format!r}")
    try:
        selected = validate_categories(categories)
    except ScopeError as exc:
        raise ValueError(str(exc)) from None
    return Call(
        ctx=CallContext("add_data_request", open_id),
        endpoint="add",
        path=f"{ADD_PATH}?fields={ADD_FIELDS}",
        json_body={"data_format": data_format, "category_selection_list": list(selected)},
        bearer=token,
        unknown_outcome=errors.AddOutcomeUnknown,
        secrets=(token,),
    )


def _request_call(
    operation: str,
    endpoint: str,
    path: str,
    token: Secret | str,
    request_id: int | str,
    open_id: str | None,
    **options: str,
) -> Call:
    secret = as_secret(token, "access_token")
    rid = coerce_request_id(request_id)
    return Call(
        ctx=CallContext(operation, open_id, rid),
        endpoint=endpoint,
        path=path.format(request_id=rid),
        json_body={"request_id": rid},
        bearer=secret,
        secrets=(secret,),
        **options,
    )


def check_call(access_token: Secret | str, request_id: int | str, open_id: str | None = None) -> Call:
    path = f"{CHECK_PATH}?fields={CHECK_FIELDS}"
    return _request_call("check_status", "check", path, access_token, request_id, open_id)


def cancel_call(access_token: Secret | str, request_id: int | str, open_id: str | None = None) -> Call:
    # TikTok's parameter table puts request_id in the query string, its example in the JSON
    # body: both are sent, so either reading finds it.
    path = CANCEL_PATH + "?request_id={request_id}"
    return _request_call("cancel", "cancel", path, access_token, request_id, open_id)


def download_call(access_token: Secret | str, request_id: int | str, open_id: str | None = None) -> Call:
    path = DOWNLOAD_PATH
    return _request_call("download", "download", path, access_token, request_id, open_id, accept="*/*")


def user_info_call(access_token: Secret | str, open_id: str | None = None) -> Call:
    """Login Kit's ``GET /v2/user/info/``: needs the ``user.info.basic`` scope."""
    token = as_secret(access_token, "access_token")
    return Call(
        ctx=CallContext("user_info", open_id),
        endpoint="user_info",
        path=f"{USER_INFO_PATH}?fields={USER_INFO_FIELDS}",
        bearer=token,
        secrets=(token,),
        method="GET",
    )


def exchange_call(
    config: ClientConfig, code: Secret | str, redirect_uri: str, code_verifier: str | None = None
) -> Call:
    secret_code = as_secret(code, "code")
    form = {
        "client_key": config.client_key,
        "client_secret": config.client_secret,
        "code": secret_code,
        "grant_type": "authorization_code",
        "redirect_uri": redirect_uri,
    }
    if code_verifier:
        form["code_verifier"] = code_verifier
    return Call(
        ctx=CallContext("exchange_code"),
        endpoint="oauth",
        path=TOKEN_PATH,
        form=form,
        oauth=True,
        unknown_outcome=OutcomeUnknown,
        retry_server_errors=False,
        secrets=(config.client_secret, secret_code),
    )


def refresh_call(config: ClientConfig, refresh_token: Secret | str, open_id: str | None = None) -> Call:
    token = as_secret(refresh_token, "refresh_token")
    return Call(
        ctx=CallContext("refresh", open_id),
        endpoint="oauth",
        path=TOKEN_PATH,
        form={
            "client_key": config.client_key,
            "client_secret": config.client_secret,
            "grant_type": "refresh_token",
            "refresh_token": token,
        },
        oauth=True,
        unknown_outcome=errors.RefreshOutcomeUnknown,
        retry_server_errors=False,
        secrets=(config.client_secret, token),
    )


def revoke_call(config: ClientConfig, token: Secret | str, open_id: str | None = None) -> Call:
    secret = as_secret(token, "token")
    return Call(
        ctx=CallContext("revoke", open_id),
        endpoint="oauth",
        path=REVOKE_PATH,
        form={
            "client_key": config.client_key,
            "client_secret": config.client_secret,
            "token": secret,
        },
        oauth=True,
        secrets=(config.client_secret, secret),
    )


def _load_json(body: bytes) -> Any:
    if not body.strip():
        return None
    try:
        # The stdlib parser keeps integers exact, so int64 request ids never pass through float.
        return json.loads(body)
    except ValueError:
        return None


def decode(call: Call, status: int, headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
    """The payload of a successful answer (``data`` or the OAuth body), or raise the mapped error."""
    doc = _load_json(body)
    secrets = call.revealed_secrets()
    retry_after = parse_retry_after(headers.get("retry-after"))
    if isinstance(doc, dict):
        envelope = doc.get("error")
        if isinstance(envelope, dict):
            # Every server-controlled string is scrubbed: a misbehaving proxy or server may echo
            # the token or client secret it was sent into any of them.
            code = errors.scrub(str(envelope.get("code") or ""), secrets)
            if code == "ok" and status < 400:
                data = doc.get("data")
                return data if isinstance(data, dict) else {}
            # "ok" with a failing status is still a failure; unknown codes go by status class.
            known = errors.PORTABILITY_CODES.get(code) if code != "ok" else None
            raise _error(
                known or errors.class_for_status(status),
                call,
                code=code or None,
                status=status,
                detail=errors.scrub(str(envelope.get("message") or ""), secrets),
                log_id=errors.scrub(str(envelope.get("log_id") or doc.get("log_id") or ""), secrets),
                retry_after=retry_after,
            )
        if isinstance(envelope, str) and envelope:
            envelope = errors.scrub(envelope, secrets)
            oauth_cls: type[TikTokError] = errors.OAUTH_CODES.get(envelope, errors.OAuthError)
            # An error body counts at any status (TikTok answers some with HTTP 200); a 429 or
            # 5xx status classifies it, except the code that says the server did not act.
            if (status == 429 or status >= 500) and oauth_cls is not errors.TemporarilyUnavailable:
                oauth_cls = errors.class_for_status(status)
            raise _error(
                oauth_cls,
                call,
                code=envelope,
                status=status,
                detail=errors.scrub(str(doc.get("error_description") or ""), secrets),
                log_id=errors.scrub(str(doc.get("log_id") or ""), secrets),
                retry_after=retry_after,
            )
        if status < 400 and call.oauth:
            return doc
    if status >= 400:
        raise _error(
            errors.class_for_status(status),
            call,
            code=None,
            status=status,
            detail="response carries no TikTok error envelope",
            retry_after=retry_after,
        )
    if call.oauth and doc is None:
        return {}  # revoke may answer 200 with an empty body
    raise _error(
        errors.UnexpectedResponse,
        call,
        code=None,
        status=status,
        detail="response is not the JSON envelope TikTok documents",
    )


def _error(
    cls: type[TikTokError],
    call: Call,
    *,
    code: str | None,
    status: int,
    detail: str,
    log_id: Any = None,
    retry_after: float | None = None,
) -> TikTokError:
    extra: dict[str, Any] = {}
    if issubclass(cls, errors.RateLimited):
        extra["retry_after_s"] = retry_after
    return errors.build(
        cls,
        call.ctx,
        code=code,
        http_status=status,
        detail=detail,
        log_id=str(log_id) if log_id else None,
        **extra,
    )


def parse_request_id(call: Call, data: Mapping[str, Any]) -> int:
    """The ``request_id`` of an Add Data Request answer, exact."""
    value = data.get("request_id")
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise errors.build(
            errors.UnexpectedResponse,
            call.ctx,
            code=None,
            http_status=200,
            detail=f"data.request_id is {type(value).__name__}, expected an integer",
        )
    try:
        return coerce_request_id(value)
    except ValueError as exc:
        raise errors.build(
            errors.UnexpectedResponse, call.ctx, code=None, http_status=200, detail=str(exc)
        ) from None
