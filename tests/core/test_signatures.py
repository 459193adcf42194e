from __future__ import annotations

import hashlib
import hmac

import pytest

from tiktok_portability.signatures import DEFAULT_TOLERANCE_S, RETRY_HORIZON_S, SignatureError, sign, verify


def test_signature_matches_an_independent_hmac() -> None:
    body = b'{"event":"portability.download.ready"}'
    header = sign("secret", body, timestamp=1_700_000_000)
    expected = hmac.new(b"secret", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,s={expected}"
    assert verify("secret", body, header, now=1_700_000_010) == 1_700_000_000


@pytest.mark.parametrize(
    ("header", "now", "message"),
    [
        (None, 0, "missing"),
        ("t=1,x", 1, "malformed"),
        ("s=abc", 1, "needs t= and s="),
        ("t=abc,s=00", 1, "not an integer"),
        ("t=1_000," + "s=" + "0" * 64, 1, "not an integer"),
        ("t=" + "9" * 400 + ",s=" + "0" * 64, 1, "not an integer"),
        ("t=1,s=" + "\u00e9" * 64, 1, "not 64 hex digits"),
        ("t=1,s=00", 1, "not 64 hex digits"),
    ],
)
def test_malformed_headers_are_rejected(header: str | None, now: int, message: str) -> None:
    with pytest.raises(SignatureError, match=message):
        verify("secret", b"{}", header, now=now)


def test_forged_and_stale_signatures_are_rejected() -> None:
    body = b"{}"
    good = sign("secret", body, timestamp=1000)
    with pytest.raises(SignatureError, match="does not match"):
        verify("other-secret", body, good, now=1000)
    with pytest.raises(SignatureError, match="does not match"):
        verify("secret", b'{"x":1}', good, now=1000)
    with pytest.raises(SignatureError, match="stale"):
        verify("secret", body, good, now=1000 + DEFAULT_TOLERANCE_S + 1)
    with pytest.raises(SignatureError, match="stale"):
        verify("secret", body, good, now=1000 - 301)


def test_a_retry_keeping_its_first_timestamp_is_accepted_for_the_whole_retry_horizon() -> None:
    body = b"{}"
    first = sign("secret", body, timestamp=1000)
    assert DEFAULT_TOLERANCE_S >= RETRY_HORIZON_S
    assert verify("secret", body, first, now=1000 + RETRY_HORIZON_S) == 1000
