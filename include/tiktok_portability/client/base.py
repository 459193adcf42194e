"""What the sync and async clients share: failure classification, retry decisions, logging."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterable
from typing import Any

import httpx

from tiktok_portability.client import errors
from tiktok_portability.client.archive_sink import ArchiveSink
from tiktok_portability.client.config import ClientConfig
from tiktok_portability.client.endpoints import Call
from tiktok_portability.client.errors import CallContext, TikTokError
from tiktok_portability.client.limiter import Limiter
from tiktok_portability.client.models import DownloadResult, TokenSet
from tiktok_portability.client.retry import RetryPolicy
from tiktok_portability.redact import fingerprint

log = logging.getLogger(__name__)

# httpx failures that happen before a request can reach the server: safe to retry any call.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
ERROR_BODY_LIMIT = 64 * 1024


def transport_error(call: Call, exc: httpx.TransportError) -> errors.TransportError:
    cls = errors.TransportTimeout if isinstance(exc, httpx.TimeoutException) else errors.TransportError
    detail = errors.scrub(f"{type(exc).__name__}: {exc}", call.revealed_secrets())
    sent = not isinstance(exc, NOT_SENT)
    return errors.build(cls, call.ctx, code=None, http_status=None, detail=detail, request_sent=sent)


def is_json(content_type: str) -> bool:
    return "json" in content_type.lower()


def is_envelope(status: int, content_type: str, head: bytes) -> bool:
    """Whether a download answer is TikTok's JSON envelope rather than the archive.

    Neither the headers of a download nor the status of its failures are documented: besides a
    non-200 status or a JSON content type, a body that starts with ``{`` is an envelope whatever
    the status and type say (a zip starts with ``PK``), so an expired request is not mistaken for
    a corrupt archive.
    """
    return status != 200 or is_json(content_type) or head.lstrip()[:1] == b"{"


def expected_length(headers: httpx.Headers) -> int | None:
    """Content-Length of the wire body."""
    raw = headers.get("content-length")
    if raw is None or not raw.strip().isdigit():
        return None
    return int(raw)


def received_length(response: httpx.Response, written: int) -> int:
    """Bytes of the wire body received: what we wrote, unless a content-encoding changed the size."""
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    return written if encoding in ("", "identity") else response.num_bytes_downloaded


def bounded(chunks: Iterable[bytes], limit: int = ERROR_BODY_LIMIT) -> bytes:
    out = bytearray()
    for chunk in chunks:
        out += chunk
        if len(out) >= limit:
            break
    return bytes(out[:limit])


def not_an_archive(call: Call, content_type: str) -> TikTokError:
    return errors.build(
        errors.UnexpectedResponse,
        call.ctx,
        code="ok",
        http_status=200,
        detail=f"download answered a success envelope ({content_type}) instead of a zip",
    )


def tokens_from(call: Call, payload: dict[str, Any]) -> TokenSet:
    try:
        return TokenSet.from_response(payload)
    except (KeyError, TypeError, ValueError) as exc:
        raise errors.build(
            errors.UnexpectedResponse,
            call.ctx,
            code=None,
            http_status=200,
            detail=f"token response lacks or mangles field {exc}",
        ) from None


class ClientBase:
    """Settings, retry policy and the rules for turning a failure into a retry or an error."""

    def __init__(self, config: ClientConfig, limiter: Limiter | None, rng: random.Random | None) -> None:
        self.config = config
        self.limiter = limiter
        self.policy = RetryPolicy.from_config(config, rng)

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"{name}(base_url={self.config.base_url!r}, client_key={self.config.client_key!r})"

    def _classify(self, call: Call, error: TikTokError) -> TikTokError:
        """The error to act on: for a non-idempotent call, "maybe done" beats "retry"."""
        if isinstance(error, errors.RateLimited) and self.limiter is not None:
            self.limiter.report_rate_limited(call.endpoint, error.retry_after_s)
        if call.unknown_outcome is None:
            return error
        maybe_done = (isinstance(error, errors.TransportError) and error.request_sent) or (
            isinstance(error, errors.ServerError) and not call.retry_server_errors
        )
        if not maybe_done:
            return error
        unknown = errors.build(
            call.unknown_outcome,
            call.ctx,
            code=error.code,
            http_status=error.http_status,
            detail=f"the server may have acted before this failure, not retrying: {error.message}",
            log_id=error.log_id,
        )
        unknown.__cause__ = error
        return unknown

    def _next_delay(self, call: Call, error: TikTokError, retry: int) -> float | None:
        delay = self.policy.delay(error, retry)
        if delay is None:
            log.warning(
                "tiktok call failed op=%s endpoint=%s %s error=%s code=%s status=%s log_id=%s retries=%d",
                call.ctx.operation,
                call.endpoint,
                _context(call.ctx),
                type(error).__name__,
                error.code,
                error.http_status,
                error.log_id,
                retry,
            )
        else:
            log.warning(
                "tiktok call retrying op=%s endpoint=%s %s error=%s code=%s status=%s retry=%d delay_s=%.2f",
                call.ctx.operation,
                call.endpoint,
                _context(call.ctx),
                type(error).__name__,
                error.code,
                error.http_status,
                retry + 1,
                delay,
            )
        return delay

    def _log_ok(self, call: Call, status: int, retries: int) -> None:
        log.debug(
            "tiktok call ok op=%s endpoint=%s %s status=%d retries=%d",
            call.ctx.operation,
            call.endpoint,
            _context(call.ctx),
            status,
            retries,
        )


class Attempts:
    """One call's attempts: when to retry, how long to pause, what to log, written once.

    The sync and async clients only do the I/O around it::

        attempts = Attempts(self, call, deadline)
        while True:
            acquire(timeout=attempts.quota_timeout())   # TimeoutError -> attempts.quota_timed_out()
            try: ...one attempt...; attempts.succeeded(status); return result
            except ...: error = ...
            sleep(attempts.failed(error))                # raises when there is no next attempt

    ``deadline`` (``time.monotonic()``) bounds every wait: no quota wait or pause runs past it.
    """

    def __init__(self, client: ClientBase, call: Call, deadline: float | None = None) -> None:
        self.client = client
        self.call = call
        self.deadline = deadline
        self.retry = 0

    @property
    def number(self) -> int:
        """The current attempt, from 1."""
        return self.retry + 1

    def quota_timeout(self) -> float | None:
        return None if self.deadline is None else max(0.0, self.deadline - time.monotonic())

    def quota_timed_out(self) -> TikTokError:
        return errors.build(
            errors.RateLimited,
            self.call.ctx,
            code=None,
            http_status=None,
            detail="the quota wait would outlast the caller's deadline; the call was not sent",
        )

    def failed(self, error: TikTokError, *, can_restart: bool = True) -> float:
        """The pause before the next attempt; raises the error to act on when there is none."""
        error = self.client._classify(self.call, error)
        delay = self.client._next_delay(self.call, error, self.retry) if can_restart else None
        if delay is None or (self.deadline is not None and time.monotonic() + delay > self.deadline):
            raise error
        self.retry += 1
        return delay

    def succeeded(self, status: int) -> None:
        self.client._log_ok(self.call, status, self.retry)

    def downloaded(self, target: ArchiveSink, content_type: str) -> DownloadResult:
        """The result of the attempt that wrote a verified archive (committed by the caller)."""
        self.succeeded(200)
        log.info(
            "archive downloaded open_id=%s request_id=%s bytes=%d sha256=%s attempts=%d",
            fingerprint(self.call.ctx.open_id) if self.call.ctx.open_id else "-",
            self.call.ctx.request_id,
            target.size,
            target.sha256,
            self.number,
        )
        return DownloadResult(
            request_id=self.call.ctx.request_id or 0,
            size=target.size,
            sha256=target.sha256,
            content_type=content_type,
            path=target.path,
            attempts=self.number,
        )


def _context(ctx: CallContext) -> str:
    parts = []
    if ctx.open_id:
        parts.append(f"open_id={fingerprint(ctx.open_id)}")
    if ctx.request_id is not None:
        parts.append(f"request_id={ctx.request_id}")
    return " ".join(parts) or "-"
