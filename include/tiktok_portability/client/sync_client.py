"""The blocking client (``httpx.Client``)."""

from __future__ import annotations

import itertools
import logging
import os
import random
import time
from collections.abc import Callable, Sequence
from typing import Any, BinaryIO

import httpx

from tiktok_portability.client import endpoints
from tiktok_portability.client.archive_sink import ArchiveSink
from tiktok_portability.client.base import (
    Attempts,
    ClientBase,
    bounded,
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
from tiktok_portability.client.limiter import Limiter
from tiktok_portability.client.models import DownloadResult, RequestStatus, TokenSet, UserInfo
from tiktok_portability.redact import Secret, fingerprint

log = logging.getLogger(__name__)


class TikTokClient(ClientBase):
    """Every TikTok Data Portability and Login Kit call, with retries, timeouts and typed results.

    ``transport`` replaces the network (tests only); ``sleep`` and ``rng`` make backoff testable.
    """

    def __init__(
        self,
        config: ClientConfig,
        limiter: Limiter | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(config, limiter, rng)
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=config.base_url,
            timeout=config.httpx_timeout(),
            headers=config.headers(),
            transport=transport,
            follow_redirects=False,
        )

    def __enter__(self) -> TikTokClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # OAuth (Login Kit)

    def exchange_code(
        self, code: Secret | str, redirect_uri: str, *, code_verifier: str | None = None
    ) -> TokenSet:
        """Trade an authorization code for the user's first TokenSet."""
        call = endpoints.exchange_call(self.config, code, redirect_uri, code_verifier)
        tokens = tokens_from(call, self._execute(call))
        log.info("tokens issued open_id=%s scopes=%s", fingerprint(tokens.open_id), ",".join(tokens.scopes))
        return tokens

    def refresh(
        self, refresh_token: Secret | str, *, open_id: str | None = None, deadline: float | None = None
    ) -> TokenSet:
        """Use a refresh token; returns the ROTATED pair, which the caller must persist before use.

        Raises RefreshOutcomeUnknown (never retried) when the server may have rotated the token
        without us receiving the new one, and InvalidGrant when the refresh token is dead.
        ``deadline`` (``time.monotonic()``) bounds every wait: no quota wait or retry pause runs
        past it (the holder of a refresh lease must not outlive the lease); a call that would is
        given up with its last error, or RateLimited when the quota wait itself would pass it.
        """
        call = endpoints.refresh_call(self.config, refresh_token, open_id)
        tokens = tokens_from(call, self._execute(call, deadline))
        log.info("tokens refreshed open_id=%s expires_at=%s", fingerprint(tokens.open_id), tokens.expires_at)
        return tokens

    def revoke(self, token: Secret | str, *, open_id: str | None = None) -> None:
        """Revoke an access token (the user's authorization for this app)."""
        self._execute(endpoints.revoke_call(self.config, token, open_id))

    def user_info(self, access_token: Secret | str, *, open_id: str | None = None) -> UserInfo:
        """The account's open_id and display name (the token needs ``user.info.basic``)."""
        return UserInfo.from_response(self._execute(endpoints.user_info_call(access_token, open_id)))

    # Data Portability

    def add_data_request(
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
        request_id = endpoints.parse_request_id(call, self._execute(call))
        log.info("data request added open_id=%s request_id=%d", _fp(open_id), request_id)
        return request_id

    def check_status(
        self, access_token: Secret | str, request_id: int, *, open_id: str | None = None
    ) -> RequestStatus:
        call = endpoints.check_call(access_token, request_id, open_id)
        return RequestStatus.from_data(call.ctx.request_id or 0, self._execute(call))

    def cancel(self, access_token: Secret | str, request_id: int, *, open_id: str | None = None) -> None:
        self._execute(endpoints.cancel_call(access_token, request_id, open_id))
        log.info("data request cancelled open_id=%s request_id=%s", _fp(open_id), request_id)

    def download(
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
            return self._download(call, target)
        except BaseException:
            target.abort()
            raise

    def _download(self, call: Call, target: ArchiveSink) -> DownloadResult:
        attempts = Attempts(self, call)
        while True:
            target.begin(attempts.number)
            self._acquire(attempts)
            try:
                content_type = self._stream_once(call, target)
            except httpx.TransportError as exc:
                error: TikTokError = transport_error(call, exc)
            except TikTokError as exc:
                error = exc
            else:
                target.commit()
                return attempts.downloaded(target, content_type)
            self._sleep(attempts.failed(error, can_restart=target.can_restart))

    def _stream_once(self, call: Call, target: ArchiveSink) -> str:
        with self._http.stream("POST", call.path, json=call.json_body, headers=call.headers()) as response:
            content_type = response.headers.get("content-type", "")
            chunks = response.iter_bytes(self.config.download_chunk_bytes)
            head = next(chunks, b"")
            if is_envelope(response.status_code, content_type, head):
                body = bounded(itertools.chain((head,), chunks))
                endpoints.decode(call, response.status_code, response.headers, body)
                raise not_an_archive(call, content_type)
            target.write(head)
            for chunk in chunks:
                target.write(chunk)
            target.finish(expected_length(response.headers), received_length(response, target.size))
            return content_type

    # The retry loop for JSON calls.

    def _execute(self, call: Call, deadline: float | None = None) -> dict[str, Any]:
        attempts = Attempts(self, call, deadline)
        while True:
            self._acquire(attempts)
            try:
                response = self._http.request(
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
            self._sleep(attempts.failed(error))

    def _acquire(self, attempts: Attempts) -> None:
        if self.limiter is None:
            return
        timeout = attempts.quota_timeout()
        if timeout is None:
            self.limiter.acquire(attempts.call.endpoint)
            return
        try:
            self.limiter.acquire(attempts.call.endpoint, timeout=timeout)
        except TimeoutError:
            raise attempts.quota_timed_out() from None


def _fp(open_id: str | None) -> str:
    return fingerprint(open_id) if open_id else "-"
