"""The FastAPI app the plugin mounts on the Airflow API server: webhook receiver and OAuth flow.

Routes (relative to the mount prefix, ``/tiktok`` by default):

- ``POST /webhook``: TikTok webhook deliveries. The ``TikTok-Signature`` check is the only
  protection (Airflow applies no auth to plugin apps): missing, wrong or too old signatures get
  401, bodies over 64 KiB 413 (refused on Content-Length, or counted while streaming: never
  buffered past the limit). A verified event is recorded idempotently in the state store before
  answering 200, so a crash never loses an acknowledged event and a replay is a counted duplicate.
  A verified delivery we cannot use (malformed, unknown event, unknown request or user, a late
  removal) is answered 200 too, logged with its reason and counted (``webhooks counts``): any
  other answer makes TikTok retry it for 72 hours.
- ``GET /oauth/start`` and ``GET /oauth/callback``: the Login Kit sign-in (``oauth_routes``).
- ``GET /health``: liveness for load balancers (no state store access).

This module does not import Airflow: it talks to a ``Services`` object (the hook in production,
a plain object in unit tests).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from tiktok_portability import clock, signatures
from tiktok_portability.redact import fingerprint
from tiktok_portability.state.store import (
    EVENT_AUTHORIZATION_REMOVED,
    EVENT_DOWNLOAD_READY,
    WEBHOOK_MALFORMED,
    WEBHOOK_WRONG_CLIENT_KEY,
)
from tiktok_portability_airflow.oauth_routes import add_oauth_routes
from tiktok_portability_airflow.settings import AppSettings

if TYPE_CHECKING:
    from tiktok_portability.client import TikTokClient
    from tiktok_portability.state import StateStore

log = logging.getLogger(__name__)

MAX_WEBHOOK_BYTES = 64 * 1024
_INT64_LIMIT = 2**63


class Services(Protocol):
    """What the app needs: the app settings, the state store and a way to build a client."""

    @property
    def app(self) -> AppSettings: ...

    @property
    def state_store(self) -> StateStore: ...

    def get_client(self) -> TikTokClient: ...


class WebhookPayloadError(ValueError):
    """A correctly signed delivery whose body is not a TikTok webhook event."""


def default_services() -> Services:
    """The hook on the default connections, built on first use (connections may change until then)."""
    from tiktok_portability_airflow.hooks import TikTokPortabilityHook

    return TikTokPortabilityHook()


class _Lazy:
    """Build the services once, on the first request, not at plugin import (no DB access at import)."""

    def __init__(self, factory: Callable[[], Services]) -> None:
        self._factory = factory
        self._value: Services | None = None
        self._lock = threading.Lock()

    def get(self) -> Services:
        with self._lock:
            if self._value is None:
                self._value = self._factory()
            return self._value


def _json(text: str | bytes, what: str) -> Any:
    try:
        return json.loads(text)
    except RecursionError:  # nesting deeper than the interpreter's recursion limit
        raise WebhookPayloadError(f"{what} is nested too deeply") from None
    except ValueError:
        raise WebhookPayloadError(f"{what} is not JSON") from None


def _text(event: dict[str, Any], key: str, max_length: int, *, required: bool = True) -> str | None:
    """A string field the state store can hold on SQLite and PostgreSQL alike."""
    value = event.get(key)
    if value is None or value == "":
        if required:
            raise WebhookPayloadError(f"body has no {key}")
        return None
    if not isinstance(value, str):
        raise WebhookPayloadError(f"{key} is not a string")
    if len(value) > max_length or "\x00" in value:
        raise WebhookPayloadError(f"{key} is longer than {max_length} characters or holds NUL")
    try:
        value.encode()
    except UnicodeEncodeError:  # a lone surrogate, from a \ud800 escape
        raise WebhookPayloadError(f"{key} is not valid Unicode text") from None
    return value


def _int64(value: Any, what: str) -> int:
    """A non-negative int64 (a JSON number, or digits in a string)."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 19:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < _INT64_LIMIT:
        raise WebhookPayloadError(f"{what} is not a non-negative int64")
    return value


def parse_event(body: bytes) -> dict[str, Any]:
    """The delivery as a dict with ``content`` decoded; raise WebhookPayloadError naming the problem.

    TikTok's documented shape is ``client_key``, ``event``, ``create_time``, ``content`` (a JSON
    object serialized as a string) and, for most events, ``user_openid``. Its example of
    ``portability.download.ready`` has no ``user_openid``: that event is routed by
    ``content.request_id``. ``authorization.removed`` cannot be routed without a user.
    """
    event = _json(body, "body")
    if not isinstance(event, dict):
        raise WebhookPayloadError("body is not a JSON object")
    _text(event, "client_key", 256)
    name = _text(event, "event", 64)
    event["create_time"] = _int64(event.get("create_time"), "create_time")
    user_openid = _text(event, "user_openid", 128, required=name == EVENT_AUTHORIZATION_REMOVED)
    if user_openid is None:
        event.pop("user_openid", None)
    content = event.get("content")
    if isinstance(content, str):
        content = _json(content, "content") if content else {}
    if content is not None and not isinstance(content, dict):
        raise WebhookPayloadError("content is not a JSON object")
    content = content or {}
    if name == EVENT_DOWNLOAD_READY:
        request_id = _int64(content.get("request_id"), "content.request_id")
        if request_id == 0:
            raise WebhookPayloadError("content.request_id is 0")
        content["request_id"] = request_id
    event["content"] = content
    return event


async def read_limited(request: Request, limit: int) -> bytes | None:
    """The request body, or None as soon as it is known to exceed ``limit`` bytes.

    A declared Content-Length over the limit is refused before a byte is read; a chunked body is
    counted while it streams in, so no more than ``limit`` plus one chunk is ever held.
    """
    declared = (request.headers.get("content-length") or "").strip()
    if declared and not (declared.isascii() and declared.isdigit() and len(declared) <= 12):
        return None  # servers refuse such a header first; never int() it here
    if declared and int(declared) > limit:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


async def _ignored(svc: Services, reason: str, detail: str) -> Response:
    """A signed delivery we cannot use: counted and logged, answered 200 so it is not retried."""
    log.warning("webhook not used reason=%s detail=%s", reason, detail)
    await run_in_threadpool(svc.state_store.count_webhook, reason)
    return JSONResponse({"status": "ignored", "reason": reason})


def create_app(services: Callable[[], Services] = default_services) -> FastAPI:
    """The plugin's FastAPI app; ``services`` is called once, on the first request that needs it."""
    lazy = _Lazy(services)
    api = FastAPI(
        title="TikTok Data Portability",
        description="TikTok webhooks and the Login Kit OAuth callback",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )

    @api.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @api.post("/webhook")
    async def webhook(request: Request) -> Response:
        body = await read_limited(request, MAX_WEBHOOK_BYTES)
        if body is None:
            log.warning(
                "webhook rejected reason=too_large limit=%d client=%s",
                MAX_WEBHOOK_BYTES,
                request.client.host if request.client else "-",
            )
            # Close the connection: the rest of the body is never read, whatever its size.
            return JSONResponse(
                {"error": "payload too large"}, status_code=413, headers={"Connection": "close"}
            )
        svc = await run_in_threadpool(lazy.get)
        app = svc.app
        try:
            signatures.verify(
                app.client_secret.reveal(),
                body,
                request.headers.get(signatures.HEADER),
                now=clock.now_ts(),
                tolerance_s=app.webhook_tolerance_s,
            )
        except signatures.SignatureError as exc:
            log.warning(
                "webhook rejected reason=%s client=%s", exc, request.client.host if request.client else "-"
            )
            return JSONResponse({"error": "invalid signature"}, status_code=401)
        # From here on the delivery is TikTok's: whatever we make of it, the answer is 200, or
        # TikTok retries something we can never use for 72 hours.
        try:
            event = parse_event(body)
        except WebhookPayloadError as exc:
            return await _ignored(svc, WEBHOOK_MALFORMED, str(exc))
        if event["client_key"] != app.client_key:
            return await _ignored(svc, WEBHOOK_WRONG_CLIENT_KEY, f"event {event['event']} for another app")
        outcome = await run_in_threadpool(svc.state_store.record_webhook_event, event)
        open_id = event.get("user_openid")
        log.log(
            logging.INFO if outcome.reason in (None, "duplicate") else logging.WARNING,
            "webhook event=%s open_id=%s first_time=%s applied=%s reason=%s detail=%s",
            event["event"],
            fingerprint(open_id) if open_id else "-",
            outcome.first_time,
            outcome.applied,
            outcome.reason or "-",
            outcome.detail,
        )
        answer = {"status": "recorded" if outcome.first_time else "duplicate"}
        if outcome.reason is not None and outcome.first_time:
            answer["reason"] = outcome.reason
        return JSONResponse(answer)

    add_oauth_routes(api, lazy.get)

    return api


app = create_app()
