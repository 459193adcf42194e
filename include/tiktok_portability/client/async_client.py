"""The asyncio client (``httpx.AsyncClient``), for deferrable triggers and concurrent batches.

Same calls, errors and retry rules as the sync client. Download chunks are written to the sink
from the event loop (local, chunk-sized writes); the zip verification and the final fsync run in
a worker thread because they read or flush the whole archive.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, BinaryIO

import httpx

from tiktok_portability.client import endpoints
from tiktok_portability.client.archive_sink import ArchiveSink
from tiktok_portability.client.base import (
    ERROR_BODY_LIMIT,
    Attempts,
    ClientBase,
    expected_length,
    is_envelope,
    not_an_archive,
    received_length,
    tokens_from,
    transport_error,
)
from tiktok_portability.client.config import ClientConfig
from tiktok_portability.client.endpoints import Call
from tiktok_portability.client.errors import TikTokError
from tiktok_portability.client.limiter import Limiter, acquire_async
from tiktok_portability.client.models import DownloadResult, RequestStatus, TokenSet, UserInfo
from tiktok_portability.redact import Secret, fingerprint

log = logging.getLogger(__name__)


class AsyncTikTokClient(ClientBase):
    """Every TikTok Data Portability and Login Kit call, with retries, timeouts and typed results.

    ``transport`` replaces the network (tests only); ``sleep`` and ``rng`` make backoff testable.
    """

    def __init__(
        self,
        config: ClientConfig,
        limiter: Limiter | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(config, limiter, rng)
        self._sleep = sleep
        self._http = httpx.AsyncClient(
            base_url=config.base_url,
            timeout=config.httpx_timeout(),
            headers=config.headers(),
            transport=transport,
            follow_redirects=False,
        )

    async def __aenter__(self) -> AsyncTikTokClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # OAuth (Login Kit)

    async def exchange_code(
        self, code: Secret | str, redirect_uri: str, *, code_verifier: str | None = None
    ) -> TokenSet:
        """Trade an authorization code for the user's first TokenSet."""
        call = endpoints.exchange_call(self.config, code, redirect_uri, code_verifier)
        tokens = tokens_from(call, await self._execute(call))
        log.info("tokens issued open_id=%s scopes=%s", fingerprint(tokens.open_id), ",".join(tokens.scopes))
        return tokens

    async def refresh(
        self, refresh_token: Secret | str, *, open_id: str | None = None, deadline: float | None = None
    ) -> TokenSet:
        """Use a refresh token; returns the ROTATED pair, which the caller must persist before use.

        Raises RefreshOutcomeUnknown (never retried) when the server may have rotated the token
        without us receiving the new one, and InvalidGrant when the refresh token is dead.
        ``deadline`` (``time.monotonic()``) bounds every wait, as in the sync client.
        """
        call = endpoints.refresh_call(self.config, refresh_token, open_id)
        tokens = tokens_from(call, await self._execute(call, deadline))
        log.info("tokens refreshed open_id=%s expires_at=%s", fingerprint(tokens.open_id), tokens.expires_at)
        return tokens

    async def revoke(self, token: Secret | str, *, open_id: str | None = None) -> None:
        """Revoke an access token (the user's authorization for this app)."""
        await self._execute(endpoints.revoke_call(self.config, token, open_id))

    async def user_info(self, access_token: Secret | str, *, open_id: str | None = None) -> UserInfo:
        """The account's open_id and display name (the token needs ``user.info.basic``)."""
        return UserInfo.from_response(await self._execute(endpoints.user_info_call(access_token, open_id)))

    # Data Portability

    async def add_data_request(
        self,
        access_token: Secret | str,
        categories: Sequence[str] = ("all_data",),
        data_format: str = "json",
        *,
        open_id: str | None = None,
    ) -> int:
        """Ask for an export; returns its int64 ``request_id``. Raises AddOutcomeUnknown, never
        retries, when the server may already have created the request."""
        call = endpoints.add_call(access_token, list(categories), data_format, open_id)
        request_id = endpoints.parse_request_id(call, await self._execute(call))
        log.info("data request added open_id=%s request_id=%d", _fp(open_id), request_id)
        return request_id

    async def check_status(
        self, access_token: Secret | str, request_id: int, *, open_id: str | None = None
    ) -> RequestStatus:
        call = endpoints.check_call(access_token, request_id, open_id)
        return RequestStatus.from_data(call.ctx.request_id or 0, await self._execute(call))

    async def cancel(
        self, access_token: Secret | str, request_id: int, *, open_id: str | None = None
    ) -> None:
        await self._execute(endpoints.cancel_call(access_token, request_id, open_id))
        log.info("data request cancelled open_id=%s request_id=%s", _fp(open_id), request_id)

    async def download(
        self,
        access_token: Secret | str,
        request_id: int,
        sink: str | os.PathLike[str] | BinaryIO,
        *,
        open_id: str | None = None,
    ) -> DownloadResult:
        """Stream the archive to ``sink`` (a path, written atomically, or a binary file object).

        The zip is verified before the call returns; a dropped or truncated body is downloaded
        again from scratch, at most ``max_retries`` times.
        """
        call = endpoints.download_call(access_token, request_id, open_id)
        target = ArchiveSink.for_target(sink, call.ctx, self.config.verify_archive)
        try:
            return await self._download(call, target)
        except BaseException:
            await asyncio.to_thread(target.abort)
            raise

    async def _download(self, call: Call, target: ArchiveSink) -> DownloadResult:
        attempts = Attempts(self, call)
        while True:
            target.begin(attempts.number)
            await self._acquire(attempts)
            try:
                content_type = await self._stream_once(call, target)
            except httpx.TransportError as exc:
                error: TikTokError = transport_error(call, exc)
            except TikTokError as exc:
                error = exc
            else:
                await asyncio.to_thread(target.commit)
                return attempts.downloaded(target, content_type)
            await self._sleep(attempts.failed(error, can_restart=target.can_restart))

    async def _stream_once(self, call: Call, target: ArchiveSink) -> str:
        async with self._http.stream(
            "POST", call.path, json=call.json_body, headers=call.headers()
        ) as response:
            content_type = response.headers.get("content-type", "")
            chunks = response.aiter_bytes(self.config.download_chunk_bytes)
            head = await anext(chunks, b"")
            if is_envelope(response.status_code, content_type, head):
                body = await _bounded_async(head, chunks)
                endpoints.decode(call, response.status_code, response.headers, body)
                raise not_an_archive(call, content_type)
            target.write(head)
            async for chunk in chunks:
                target.write(chunk)
            await asyncio.to_thread(
                target.finish, expected_length(response.headers), received_length(response, target.size)
            )
            return content_type

    # The retry loop for JSON calls.

    async def _execute(self, call: Call, deadline: float | None = None) -> dict[str, Any]:
        attempts = Attempts(self, call, deadline)
        while True:
            await self._acquire(attempts)
            try:
                response = await self._http.request(
                    call.method, call.path, json=call.json_body, data=call.form_data(), headers=call.headers()
                )
                payload = endpoints.decode(call, response.status_code, response.headers, response.content)
            except httpx.TransportError as exc:
                error: TikTokError = transport_error(call, exc)
            except TikTokError as exc:
                error = exc
            else:
                attempts.succeeded(response.status_code)
                return payload
            await self._sleep(attempts.failed(error))

    async def _acquire(self, attempts: Attempts) -> None:
        if self.limiter is None:
            return
        try:
            await acquire_async(self.limiter, attempts.call.endpoint, attempts.quota_timeout())
        except TimeoutError:
            raise attempts.quota_timed_out() from None


def _fp(open_id: str | None) -> str:
    return fingerprint(open_id) if open_id else "-"


async def _bounded_async(head: bytes, chunks: AsyncIterator[bytes]) -> bytes:
    out = bytearray(head)
    async for chunk in chunks:
        if len(out) >= ERROR_BODY_LIMIT:
            break
        out += chunk
    return bytes(out[:ERROR_BODY_LIMIT])
