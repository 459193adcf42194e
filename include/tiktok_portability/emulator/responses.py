"""TikTok's response envelopes, serialized with the stdlib so int64 ids stay exact."""

from __future__ import annotations

import json
import random
import time
from typing import Any

from starlette.responses import Response

from tiktok_portability.emulator.errors import ApiError, OAuthError


def new_log_id() -> str:
    # TikTok's log ids look like a timestamp followed by hex. Not secret, so not from os.urandom,
    # which costs a system call per request.
    return time.strftime("%Y%m%d%H%M%S", time.gmtime()) + f"{random.getrandbits(72):018X}"


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(payload, separators=(",", ":")).encode()
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def api_ok(data: dict[str, Any], log_id: str) -> Response:
    envelope = {"data": data, "error": {"code": "ok", "message": "", "log_id": log_id}}
    return json_response(envelope, headers={"X-Tt-Logid": log_id})


def api_error(
    err: ApiError,
    log_id: str,
    headers: dict[str, str] | None = None,
    *,
    status: int | None = None,
    media_type: str = "application/json",
) -> Response:
    """The error envelope; ``status``/``media_type`` override the HTTP status and content type
    (the download_errors option: a JSON error carried by HTTP 200, maybe typed as the archive)."""
    envelope = {
        "data": {},
        "error": {"code": err.code, "message": err.message, "log_id": log_id, "http_status_code": err.status},
    }
    body = json.dumps(envelope, separators=(",", ":")).encode()
    return Response(
        body,
        status_code=err.status if status is None else status,
        media_type=media_type,
        headers={"X-Tt-Logid": log_id, **(headers or {})},
    )


def oauth_error(err: OAuthError, log_id: str) -> Response:
    payload = {"error": err.error, "error_description": err.description, "log_id": log_id}
    return json_response(payload, status=err.status, headers={"X-Tt-Logid": log_id})
