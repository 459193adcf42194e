"""The ``TikTok-Signature`` webhook header: signing (emulator) and verification (receiver).

``TikTok-Signature: t=<unix seconds>,s=<hex>`` where s = HMAC-SHA256(key=client_secret,
msg = t + "." + raw body). Shared so that the sender and the receiver cannot drift apart; tests
check it against an independent HMAC computation.
"""

from __future__ import annotations

import hashlib
import hmac
import time

HEADER = "TikTok-Signature"
DEFAULT_TOLERANCE_S = 300


class SignatureError(ValueError):
    """A webhook signature that is missing, malformed, wrong or outside the time tolerance."""


def compute(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``<timestamp>.<body>`` keyed by the client secret."""
    message = str(int(timestamp)).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The full header value for ``body``."""
    t = int(time.time()) if timestamp is None else int(timestamp)
    return f"t={t},s={compute(secret, t, body)}"


def parse_header(header: str | None) -> tuple[int, str]:
    """Split a header value into (timestamp, signature) or raise SignatureError."""
    if not header:
        raise SignatureError(f"missing {HEADER} header")
    fields: dict[str, str] = {}
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            raise SignatureError(f"malformed {HEADER} header: part {part.strip()[:20]!r} has no '='")
        fields[key] = value
    if "t" not in fields or "s" not in fields:
        raise SignatureError(f"malformed {HEADER} header: needs t= and s=")
    try:
        timestamp = int(fields["t"])
    except ValueError:
        raise SignatureError(f"malformed {HEADER} header: t is not an integer") from None
    return timestamp, fields["s"]


def verify(
    secret: str,
    body: bytes,
    header: str | None,
    *,
    now: float | None = None,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
) -> int:
    """Check a delivery's signature and freshness; return its timestamp or raise SignatureError.

    The comparison is constant-time. A timestamp further than ``tolerance_s`` from ``now`` in
    either direction is rejected, which bounds replays of a captured delivery.
    """
    timestamp, signature = parse_header(header)
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_s:
        raise SignatureError(f"stale {HEADER}: timestamp is {int(current - timestamp)} s from now")
    expected = compute(secret, timestamp, body)
    if not hmac.compare_digest(expected, signature.lower()):
        raise SignatureError(f"{HEADER} does not match the body")
    return timestamp
