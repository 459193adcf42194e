"""The Data Portability surface: ``POST /v2/user/data/{add,check,cancel,download}/``."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from tiktok_portability.emulator.archives import ArchiveError
from tiktok_portability.emulator.config import EmulatorConfig
from tiktok_portability.emulator.connections import LostResponse
from tiktok_portability.emulator.errors import (
    ApiError,
    OAuthError,
    internal_error,
    invalid_params,
    rate_limit_exceeded,
)
from tiktok_portability.emulator.faults import Fault
from tiktok_portability.emulator.models import DataRequest, User
from tiktok_portability.emulator.responses import api_error, api_ok, new_log_id
from tiktok_portability.emulator.runtime import Emulator
from tiktok_portability.emulator.state import parse_request_id

log = logging.getLogger(__name__)

router = APIRouter()

ADD_FIELDS = ("request_id",)
CHECK_FIELDS = (
    "request_id",
    "apply_time",
    "collect_time",
    "status",
    "data_format",
    "category_selection_list",
)
CHUNK = 256 * 1024
DEFAULT_SLOW_S = 2.0
DEFAULT_TIMEOUT_S = 120.0


class DroppedConnection(Exception):
    """Raised mid-body to make the server abort the connection (the drop_download fault)."""


Handler = Callable[
    [Emulator, User, dict[str, Any], Request, Fault | None],
    Awaitable[tuple[Response | dict[str, Any], int | None]],
]


def requested_fields(request: Request, allowed: tuple[str, ...]) -> list[str]:
    raw = request.query_params.get("fields")
    if not raw:
        raise invalid_params(f"query parameter 'fields' is required (any of {','.join(allowed)})")
    fields = [f.strip() for f in raw.split(",") if f.strip()]
    unknown = [f for f in fields if f not in allowed]
    if unknown or not fields:
        raise invalid_params(f"fields {unknown or raw!r} not allowed; allowed: {','.join(allowed)}")
    return fields


async def read_json(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise invalid_params("request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise invalid_params("request body must be a JSON object")
    return body


def _request_id_hint(body: dict[str, Any] | None, request: Request) -> int | None:
    value = (body or {}).get("request_id", request.query_params.get("request_id"))
    try:
        return parse_request_id(value)
    except ApiError:
        return None


async def _safe_request_id(request: Request) -> int | None:
    """The call's request id for the log and faults, even when the call fails before using it."""
    try:
        return _request_id_hint(await read_json(request), request)
    except ApiError:
        return None


async def apply_fault(emu: Emulator, fault: Fault, open_id: str | None, request: Request) -> None:
    """Faults that act before the call is handled; download faults act in the handler."""
    if fault.kind == "rate_limit_burst":
        raise rate_limit_exceeded()
    if fault.kind == "server_error":
        raise internal_error(status=fault.status)
    if fault.kind == "slow":
        await asyncio.sleep(DEFAULT_SLOW_S if fault.delay_s is None else fault.delay_s)
    elif fault.kind == "timeout":
        await asyncio.sleep(DEFAULT_TIMEOUT_S if fault.delay_s is None else fault.delay_s)
        raise internal_error("Gateway timeout.", status=504)
    elif fault.kind == "revoke_token" and open_id is not None:
        emu.world.deauthorize(open_id, fault.reason)
    elif fault.kind == "expire_request":
        rid = await _safe_request_id(request)
        if rid is not None:
            emu.world.expire(rid)
    elif fault.kind == "oauth_error":
        raise OAuthError(fault.error, "Injected by the oauth_error fault.", status=fault.http_status)


async def portability_call(request: Request, endpoint: str, handler: Handler) -> Response:
    emu: Emulator = request.app.state.emulator
    generation = emu.generation
    cfg = emu.config
    log_id = new_log_id()
    authorization = request.headers.get("authorization")
    open_id = emu.world.token_owner(authorization)
    request_id: int | None = None
    fault: Fault | None = None
    headers: dict[str, str] = {}
    try:
        decision = emu.quota.admit(
            endpoint,
            emu.clock.now(),
            limit=cfg.quota_per_minute,
            window_s=cfg.quota_window_s,
            mode=cfg.quota_mode,
        )
        if not decision.allowed:
            if cfg.retry_after:
                headers["Retry-After"] = str(max(1, int(decision.retry_after_s + 0.999)))
            raise rate_limit_exceeded()
        fault = emu.faults.take(endpoint, open_id)
        if fault is not None:
            if fault.kind == "rate_limit_burst" and fault.retry_after_s is not None:
                headers["Retry-After"] = str(fault.retry_after_s)
            await apply_fault(emu, fault, open_id, request)
        request_id = await _safe_request_id(request)
        user = emu.world.authenticate(authorization)
        body = await read_json(request)
        result, request_id = await handler(emu, user, body, request, fault)
        response = api_ok(result, log_id) if isinstance(result, dict) else result
        error_code = "ok"
    except ApiError as err:
        response, error_code = _error_response(cfg, endpoint, err, log_id, headers), err.code
        if err.status >= 500 or err.status == 429:
            log.info("portability call failed endpoint=%s code=%s status=%s", endpoint, err.code, err.status)
    emu.record(
        endpoint,
        request.method,
        open_id,
        response.status_code,
        error_code,
        request_id,
        fault.kind if fault is not None else None,
        generation=generation,
    )
    return lose_if_asked(fault, response)


def _error_response(
    cfg: EmulatorConfig, endpoint: str, err: ApiError, log_id: str, headers: dict[str, str]
) -> Response:
    if endpoint != "download" or cfg.download_errors == "status":
        return api_error(err, log_id, headers)
    media_type = "application/json" if cfg.download_errors == "http_200" else cfg.download_content_type
    return api_error(err, log_id, headers, status=200, media_type=media_type)


def lose_if_asked(fault: Fault | None, response: Response) -> Response:
    """The lose_response fault: the call was handled, its answer is replaced by a dropped connection."""
    if fault is not None and fault.kind == "lose_response":
        return LostResponse()
    return response


async def _add(emu: Emulator, user: User, body: dict[str, Any], request: Request, fault: Fault | None):
    fields = requested_fields(request, ADD_FIELDS)
    req = emu.world.add_request(user, body.get("data_format"), body.get("category_selection_list"))
    data = {"request_id": req.request_id}
    return {k: data[k] for k in fields}, req.request_id


def _status_data(req: DataRequest) -> dict[str, Any]:
    return {
        "request_id": req.request_id,
        "apply_time": req.apply_time,
        "collect_time": req.collect_time,
        "status": req.status,
        "data_format": req.data_format,
        "category_selection_list": list(req.categories),
    }


async def _check(emu: Emulator, user: User, body: dict[str, Any], request: Request, fault: Fault | None):
    fields = requested_fields(request, CHECK_FIELDS)
    req = emu.world.find_request(user, body.get("request_id"))
    data = _status_data(req)
    return {k: data[k] for k in fields}, req.request_id


async def _cancel(emu: Emulator, user: User, body: dict[str, Any], request: Request, fault: Fault | None):
    # TikTok's parameter table puts request_id in the query string, its example in the JSON body.
    source = emu.config.cancel_request_id_from
    from_body = body.get("request_id") if source != "query" else None
    from_query = request.query_params.get("request_id") if source != "body" else None
    if (
        from_body is not None
        and from_query is not None
        and parse_request_id(from_body) != parse_request_id(from_query)
    ):
        raise invalid_params("request_id differs between the query string and the body")
    req = emu.world.cancel(user, from_body if from_body is not None else from_query)
    return {}, req.request_id


async def _download(emu: Emulator, user: User, body: dict[str, Any], request: Request, fault: Fault | None):
    req = emu.world.find_request(user, body.get("request_id"))
    if req.status != "downloading":
        reason = "not ready yet" if req.status == "pending" else req.status
        raise invalid_params(f"request_id {req.request_id} cannot be downloaded: {reason}")
    try:
        path = emu.archives.ready_path(req.request_id)
        if path is None:  # generated in a worker thread: a medium archive takes seconds
            path = await anyio.to_thread.run_sync(emu.archives.ensure, req, user)
    except ArchiveError as exc:
        log.error("archive generation failed request_id=%s error=%s", req.request_id, exc)
        raise internal_error() from None
    size = path.stat().st_size
    kind = fault.kind if fault is not None else None
    cut = size // 2
    if fault is not None and fault.after_bytes is not None:
        cut = min(fault.after_bytes, size)
    length = cut if kind == "truncate_zip" else size

    async def stream() -> AsyncIterator[bytes]:
        sent = 0
        with path.open("rb") as fh:
            while sent < length:
                want = min(CHUNK, length - sent)
                if kind == "drop_download":
                    want = min(want, cut - sent)
                    if want <= 0:
                        raise DroppedConnection(f"drop_download fault after {sent} bytes")
                # One chunk or less (tiny archives) is read on the loop; larger files in a thread.
                chunk = fh.read(want) if size <= CHUNK else await anyio.to_thread.run_sync(fh.read, want)
                if not chunk:
                    break
                if kind == "corrupt_zip":
                    chunk = _corrupt(chunk, sent, size)
                sent += len(chunk)
                yield chunk
        if kind is None and sent == size:
            req.downloaded = True

    # Headers are undocumented: Content-Length by default; download_chunked streams without it.
    headers = {"Content-Disposition": f'attachment; filename="{req.request_id}.zip"'}
    if not emu.config.download_chunked:
        headers["Content-Length"] = str(length)
    response = StreamingResponse(stream(), media_type=emu.config.download_content_type, headers=headers)
    return response, req.request_id


def _corrupt(chunk: bytes, offset: int, size: int) -> bytes:
    """Flip 64 bytes starting a third into the archive (member data or headers, never the length)."""
    start, end = size // 3, size // 3 + 64
    lo, hi = max(start, offset), min(end, offset + len(chunk))
    if lo >= hi:
        return chunk
    buf = bytearray(chunk)
    for i in range(lo - offset, hi - offset):
        buf[i] ^= 0xFF
    return bytes(buf)


async def add_data_request(request: Request) -> Response:
    return await portability_call(request, "add", _add)


async def check_status(request: Request) -> Response:
    return await portability_call(request, "check", _check)


async def cancel_request(request: Request) -> Response:
    return await portability_call(request, "cancel", _cancel)


async def download(request: Request) -> Response:
    return await portability_call(request, "download", _download)


# Plain Starlette routes: FastAPI's per-call dependency solving is a measurable share of a call
# that only reads the raw request (they are left out of /_admin/docs, documented in emulator.md).
router.add_route("/v2/user/data/add/", add_data_request, methods=["POST"])
router.add_route("/v2/user/data/check/", check_status, methods=["POST"])
router.add_route("/v2/user/data/cancel/", cancel_request, methods=["POST"])
router.add_route("/v2/user/data/download/", download, methods=["POST"])
