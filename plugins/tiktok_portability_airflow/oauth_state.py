"""The OAuth ``state`` parameter: signed, short-lived and bound to the browser that started the flow.

``state = <payload>.<signature>`` where payload is base64url JSON ``{"n": nonce, "exp": unix,
"s": scopes}`` and signature = HMAC-SHA256 over the payload with a key derived from the client
secret. The nonce is also set in an HttpOnly cookie by the start endpoint; the callback accepts the
state only when the signature matches, it has not expired and the cookie carries the same nonce.
That is the OAuth 2.0 CSRF defence (RFC 6749 section 10.12) without server-side storage, so any API
server worker can answer the callback. A state is spent with its cookie (cleared by the callback)
and TikTok's authorization code is itself single-use, so a replayed callback cannot store a grant.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

from tiktok_portability.redact import Secret

DEFAULT_TTL_S = 600
COOKIE_NAME = "tiktok_oauth_nonce"


class OAuthStateError(ValueError):
    """A ``state`` value that is missing, malformed, forged, expired or from another browser."""


@dataclass(frozen=True)
class OAuthState:
    nonce: str
    expires_at: int
    scopes: tuple[str, ...]


def _key(secret: Secret) -> bytes:
    # A purpose-bound key: a state signature can never double as a webhook signature.
    return hmac.new(secret.reveal().encode(), b"tiktok-portability oauth state v1", hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue(
    secret: Secret, scopes: tuple[str, ...], now: float, ttl_s: int = DEFAULT_TTL_S
) -> tuple[str, OAuthState]:
    """A new (state string, decoded state) pair; the nonce goes into the browser cookie."""
    state = OAuthState(nonce=secrets.token_urlsafe(16), expires_at=int(now) + ttl_s, scopes=tuple(scopes))
    payload = _b64(json.dumps({"n": state.nonce, "exp": state.expires_at, "s": list(state.scopes)}).encode())
    signature = _b64(hmac.new(_key(secret), payload.encode(), hashlib.sha256).digest())
    return f"{payload}.{signature}", state


def verify(secret: Secret, value: str | None, cookie_nonce: str | None, now: float) -> OAuthState:
    """Decode and check a state string from the callback, or raise OAuthStateError saying why."""
    if not value:
        raise OAuthStateError("the callback has no state parameter")
    payload, sep, signature = value.partition(".")
    if not sep or not payload or not signature:
        raise OAuthStateError("the state parameter is malformed")
    expected = _b64(hmac.new(_key(secret), payload.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(expected, signature):
        raise OAuthStateError("the state parameter was not issued by this server")
    try:
        data = json.loads(_unb64(payload))
        state = OAuthState(nonce=str(data["n"]), expires_at=int(data["exp"]), scopes=tuple(data["s"]))
    except (ValueError, KeyError, TypeError):
        raise OAuthStateError("the state parameter is malformed") from None
    if now > state.expires_at:
        raise OAuthStateError("the sign-in link has expired; start again")
    if not cookie_nonce or not hmac.compare_digest(cookie_nonce, state.nonce):
        raise OAuthStateError(
            "the sign-in was started in another browser (state cookie missing or different)"
        )
    return state
