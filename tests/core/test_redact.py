from __future__ import annotations

import logging
import pickle

import pytest

from tiktok_portability.redact import Secret, fingerprint


def test_secret_never_prints(caplog: pytest.LogCaptureFixture) -> None:
    s = Secret("tok-very-secret")
    caplog.set_level(logging.INFO)
    logging.getLogger("t").info("token=%s repr=%r fmt=%s", s, s, f"{s}")
    assert "very-secret" not in caplog.text
    assert "very-secret" not in repr([s]) + str({"a": s})
    assert s.reveal() == "tok-very-secret"
    with pytest.raises(TypeError):
        pickle.dumps(s)


def test_fingerprint_is_stable_and_short() -> None:
    assert fingerprint("open-id") == fingerprint("open-id")
    assert len(fingerprint("open-id")) == 10
    assert "open-id" not in fingerprint("open-id")
