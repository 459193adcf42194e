from __future__ import annotations

import hashlib
import hmac

import pytest

from tiktok_portability.signatures import SignatureError, sign, verify


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
        verify("secret", body, good, now=1000 + 301)
