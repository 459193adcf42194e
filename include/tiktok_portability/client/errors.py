"""The client's exception hierarchy and the mapping from TikTok's two error envelopes onto it.

Every error carries the operation, the TikTok error ``code``, the HTTP status, TikTok's ``log_id``
(what TikTok support asks for) and a ``retryable`` flag. Messages name the operation and the
(fingerprinted) user or the request id, never a token: callers log them as they are.
"""

from __future__ import annotations

from dataclasses import dataclass

from tiktok_portability.redact import fingerprint


@dataclass(frozen=True)
class CallContext:
    """What an error message may say about the call that failed (nothing secret)."""

    operation: str
    open_id: str | None = None
    request_id: int | None = None

    def describe(self) -> str:
        parts = [self.operation]
        if self.open_id:
            parts.append(f"user={fingerprint(self.open_id)}")
        if self.request_id is not None:
            parts.append(f"request_id={self.request_id}")
        return " ".join(parts)


class TikTokError(Exception):
    """Base of every error the client raises."""

    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        operation: str | None = None,
        code: str | None = None,
        http_status: int | None = None,
        log_id: str | None = None,
        request_id: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.operation = operation
        self.code = code
        self.http_status = http_status
        self.log_id = log_id
        self.request_id = request_id

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(code={self.code!r}, http_status={self.http_status!r}, "
            f"log_id={self.log_id!r}, message={self.message!r})"
        )


class AuthError(TikTokError):
    """The access token was refused (401 class) for a reason not covered by a subclass."""


class TokenExpired(AuthError):
    """``access_token_invalid``: the access token expired or was revoked; refresh, then retry."""


class ScopeNotAuthorized(AuthError):
    """``scope_not_authorized`` / ``scope_permission_missed``: the grant does not cover the request
    (also what TikTok answers for users outside the EEA/UK)."""


class InvalidRequest(TikTokError):
    """``invalid_params`` and other 4xx: a wrong request id, a used ``.single`` scope, or a second
    request while one is already in flight for the user."""


class RateLimited(TikTokError):
    """``rate_limit_exceeded`` (HTTP 429). ``retry_after_s`` is the server's Retry-After, if sent."""

    retryable = True

    def __init__(self, message: str, *, retry_after_s: float | None = None, **kw) -> None:
        super().__init__(message, **kw)
        self.retry_after_s = retry_after_s


class ServerError(TikTokError):
    """``internal_error`` or any 5xx."""

    retryable = True


class TransportError(TikTokError):
    """No usable HTTP response: connection refused or dropped, timeout, protocol error.

    ``request_sent`` is False only when the failure happened before the request could reach the
    server (connect phase), which makes a retry safe even for calls that are not idempotent.
    """

    retryable = True

    def __init__(self, message: str, *, request_sent: bool = True, **kw) -> None:
        super().__init__(message, **kw)
        self.request_sent = request_sent


class TransportTimeout(TransportError):
    """A connect, read, write or pool timeout."""


class OutcomeUnknown(TikTokError):
    """A non-idempotent call may or may not have taken effect on the server; not retried blindly."""


class AddOutcomeUnknown(OutcomeUnknown):
    """Add Data Request may have created a request. Recover by re-adding: ``InvalidRequest`` then
    means the first one is in flight (its id arrives with the ``portability.download.ready``
    webhook)."""


class RefreshOutcomeUnknown(OutcomeUnknown):
    """A refresh-token grant may have rotated the refresh token without us seeing the new one.

    Flag the grant; the stored (old) refresh token may still work if the server never acted.
    """


class OAuthError(TikTokError):
    """An OAuth envelope error (``{"error", "error_description", "log_id"}``)."""


class InvalidGrant(OAuthError):
    """``invalid_grant``: the code or refresh token is expired, revoked, used or rotated out; the
    user must consent again."""


class TemporarilyUnavailable(OAuthError):
    """``temporarily_unavailable`` (RFC 6749): the server did not act on the request; retry later.
    TikTok may send it with HTTP 200, like any OAuth error."""

    retryable = True


class InvalidClient(OAuthError):
    """``invalid_client`` / ``unauthorized_client``: the app's client key or secret is wrong."""


class ArchiveError(TikTokError):
    """The download body is not a complete, valid zip archive. Downloads are retried from scratch."""

    retryable = True


class ArchiveTruncated(ArchiveError):
    """Fewer bytes arrived than the server announced (or the connection dropped mid-body)."""


class ArchiveCorrupt(ArchiveError):
    """The body is complete but is not a readable zip (bad signature, directory or member CRC)."""


class UnexpectedResponse(TikTokError):
    """A response that fits neither envelope (not JSON, missing fields)."""


PORTABILITY_CODES: dict[str, type[TikTokError]] = {
    "access_token_invalid": TokenExpired,
    "scope_not_authorized": ScopeNotAuthorized,
    "scope_permission_missed": ScopeNotAuthorized,
    "invalid_params": InvalidRequest,
    "rate_limit_exceeded": RateLimited,
    "internal_error": ServerError,
}

OAUTH_CODES: dict[str, type[OAuthError]] = {
    "temporarily_unavailable": TemporarilyUnavailable,
    "invalid_grant": InvalidGrant,
    "invalid_client": InvalidClient,
    "unauthorized_client": InvalidClient,
}


def class_for_status(status: int) -> type[TikTokError]:
    """The error class for a code we do not know, by HTTP status class."""
    if status == 429:
        return RateLimited
    if status >= 500:
        return ServerError
    if status in (401, 403):
        return AuthError
    if 400 <= status < 500:
        return InvalidRequest
    return UnexpectedResponse


def scrub(text: str, secrets: tuple[str, ...]) -> str:
    """Remove any secret value a server might echo back in an error message."""
    for value in secrets:
        if value:
            text = text.replace(value, "***")
    return text


def build(
    cls: type[TikTokError],
    ctx: CallContext,
    *,
    code: str | None,
    http_status: int | None,
    detail: str,
    log_id: str | None = None,
    **extra,
) -> TikTokError:
    """An error of ``cls`` whose message names the call, the code, the status and the log id."""
    head = f"{ctx.describe()} failed"
    if code:
        head += f": {code}"
    if http_status is not None:
        head += f" (HTTP {http_status})"
    message = f"{head}: {detail}" if detail else head
    if log_id:
        message += f" [log_id={log_id}]"
    return cls(
        message,
        operation=ctx.operation,
        code=code,
        http_status=http_status,
        log_id=log_id,
        request_id=ctx.request_id,
        **extra,
    )
