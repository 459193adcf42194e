"""The ``TikTok-Signature`` webhook header: signing (emulator) and verification (receiver).

``TikTok-Signature: t=<unix seconds>,s=<hex>`` where s = HMAC-SHA256(key=client_secret,
msg = t + "." + raw body). Shared so that the sender and the receiver cannot drift apart; tests
check it against an independent HMAC computation.

Whether TikTok signs a retry again with a fresh ``t`` is not documented, and retries go on for
72 hours: a receiver that rejects old timestamps could reject every retry. So the tolerance for
the past covers the whole retry horizon, and replay safety rests on idempotent processing (a
replayed delivery is a duplicate event). Timestamps from the future are only allowed clock skew.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time

HEADER = "TikTok-Signature"
RETRY_HORIZON_S = 72 * 3600
# The past we accept: TikTok's 72 h of retries plus an hour of slack (clock skew, the last backoff).
DEFAULT_TOLERANCE_S = RETRY_HORIZON_S + 3600
# How far ahead of our clock a timestamp may be (clock skew only).
FUTURE_SKEW_S = 300

_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"[0-9a-fA-F]{64}")


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
    """Split a header value into (timestamp, signature) or raise SignatureError.

    ``t`` must be 1-12 ASCII digits and ``s`` 64 hex digits: anything else (a 400-digit ``t``,
    a non-ASCII ``s``) is malformed before any arithmetic or comparison touches it.
    """
    if not header:
        raise SignatureError(f"missing {HEADER} header")
    fields: dict[str, str] = {}
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            raise SignatureError(f"malformed {HEADER} header: a part has no '='")
        fields[key] = value.strip()
    if "t" not in fields or "s" not in fields:
        raise SignatureError(f"malformed {HEADER} header: needs t= and s=")
    if not _TIMESTAMP.fullmatch(fields["t"]):
        raise SignatureError(f"malformed {HEADER} header: t is not an integer of at most 12 digits")
    if not _SIGNATURE.fullmatch(fields["s"]):
        raise SignatureError(f"malformed {HEADER} header: s is not 64 hex digits")
    return int(fields["t"]), fields["s"].lower()


def verify(
    secret: str,
    body: bytes,
    header: str | None,
    *,
    now: float | None = None,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
) -> int:
    """Check a delivery's signature and age; return its timestamp or raise SignatureError.

    The comparison is constant-time. A timestamp older than ``tolerance_s`` or more than
    ``FUTURE_SKEW_S`` ahead of ``now`` is rejected.
    """
    timestamp, signature = parse_header(header)
    current = time.time() if now is None else now
    age = current - timestamp
    if age > tolerance_s or age < -FUTURE_SKEW_S:
        raise SignatureError(f"stale {HEADER}: timestamp is {int(age)} s from now")
    expected = compute(secret, timestamp, body)
    if not hmac.compare_digest(expected, signature):
        raise SignatureError(f"{HEADER} does not match the body")
    return timestamp
