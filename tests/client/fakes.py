"""Scripted HTTP answers and recorders for the client's unit tests (httpx.MockTransport)."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx

from tiktok_portability.client import ClientConfig
from tiktok_portability.redact import Secret

ACCESS_TOKEN = "act.SECRET-access-token-0001"
REFRESH_TOKEN = "rft.SECRET-refresh-token-0001"
CLIENT_SECRET = "cs-SECRET-client-secret"
OPEN_ID = "open-id-alice"
BIG_REQUEST_ID = 7_234_567_890_123_456_789  # > 2**53: a float would change it


def config(**overrides: Any) -> ClientConfig:
    values: dict[str, Any] = {
        "base_url": "http://tiktok.test",
        "client_key": "ck-test",
        "client_secret": Secret(CLIENT_SECRET),
        "timeout_s": 5,
        "max_retries": 3,
        "backoff_base_s": 0.5,
        "backoff_max_s": 4,
        "rate_limit_window_s": 60,
    }
    values.update(overrides)
    return ClientConfig(**values)


def ok(data: dict[str, Any] | None = None) -> httpx.Response:
    body: dict[str, Any] = {"data": data or {}, "error": {"code": "ok", "message": "", "log_id": "log-ok"}}
    return httpx.Response(200, json=body)


def fail(
    status: int, code: str, message: str = "nope", headers: dict[str, str] | None = None
) -> httpx.Response:
    body = {"data": {}, "error": {"code": code, "message": message, "log_id": f"log-{code}"}}
    return httpx.Response(status, json=body, headers=headers)


def oauth_fail(status: int, code: str, description: str = "bad") -> httpx.Response:
    body = {"error": code, "error_description": description, "log_id": f"log-{code}"}
    return httpx.Response(status, json=body)


def token_body(access: str = ACCESS_TOKEN, refresh: str = REFRESH_TOKEN) -> dict[str, Any]:
    return {
        "open_id": OPEN_ID,
        "scope": "portability.all.ongoing,portability.activity.single",
        "access_token": access,
        "expires_in": 7200,
        "refresh_token": refresh,
        "refresh_expires_in": 15_552_000,
        "token_type": "Bearer",
    }


def zip_bytes(members: dict[str, bytes] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in (
            members or {"user_data_tiktok.json": b'{"Profile": {"name": "alice"}}' * 50}
        ).items():
            archive.writestr(name, data)
    return buffer.getvalue()


def corrupt_member_crc(archive: bytes) -> bytes:
    """Flip a byte inside the first member's compressed data: directory fine, CRC wrong."""
    data = bytearray(archive)
    header_len = 30 + int.from_bytes(data[26:28], "little") + int.from_bytes(data[28:30], "little")
    data[header_len + 5] ^= 0xFF
    return bytes(data)


def archive_response(body: bytes, **headers: str) -> httpx.Response:
    return httpx.Response(200, content=body, headers={"content-type": "application/zip", **headers})


def dropping_response(body: bytes, after: int, asynchronous: bool = False) -> httpx.Response:
    """Sends ``after`` bytes of ``body`` and then the connection drops."""
    message = "peer closed connection without sending complete message body"

    def chunks() -> Iterator[bytes]:
        yield body[:after]
        raise httpx.RemoteProtocolError(message)

    async def achunks() -> AsyncIterator[bytes]:
        yield body[:after]
        raise httpx.RemoteProtocolError(message)

    return httpx.Response(
        200,
        content=achunks() if asynchronous else chunks(),
        headers={"content-type": "application/zip", "content-length": str(len(body))},
    )


Step = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


class Script:
    """Answers requests with the given steps in order and records every request."""

    def __init__(self, *steps: Step) -> None:
        self.steps = list(steps)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        if not self.steps:
            raise AssertionError(f"unexpected extra request {request.method} {request.url}")
        step = self.steps.pop(0)
        if isinstance(step, Exception):
            raise step
        if callable(step) and not isinstance(step, httpx.Response):
            return step(request)
        return step

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)

    def json_bodies(self) -> list[Any]:
        return [json.loads(r.content) if r.content else None for r in self.requests]


class RecordingLimiter:
    def __init__(self) -> None:
        self.acquired: list[str] = []
        self.rate_limited: list[tuple[str, float | None]] = []

    def acquire(self, endpoint: str) -> None:
        self.acquired.append(endpoint)

    async def acquire_async(self, endpoint: str) -> None:
        self.acquired.append(endpoint)

    def report_rate_limited(self, endpoint: str, retry_after_s: float | None) -> None:
        self.rate_limited.append((endpoint, retry_after_s))


class Sleeps:
    """Records backoff sleeps instead of sleeping."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)

    async def async_sleep(self, seconds: float) -> None:
        self.delays.append(seconds)
