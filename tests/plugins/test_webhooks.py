"""The webhook receiver: only correctly signed deliveries count, each counts once, and a signed
delivery we cannot use is answered 200 (TikTok would retry anything else for 72 hours)."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest

from tiktok_portability.client.models import TokenSet
from tiktok_portability.clock import utcnow
from tiktok_portability.redact import Secret
from tiktok_portability.signatures import DEFAULT_TOLERANCE_S, RETRY_HORIZON_S

_last_create_time = 0


def create_time() -> int:
    """Now, but never the same second twice (the second is part of an event's identity)."""
    global _last_create_time
    _last_create_time = max(int(time.time()), _last_create_time + 1)
    return _last_create_time


def hmac_header(secret: str, body: bytes, t: int) -> str:
    """Computed independently of tiktok_portability.signatures, as docs/tiktok-api.md describes it."""
    digest = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},s={digest}"


def event_body(client_key: str, event: str, open_id: str | None, content: dict) -> bytes:
    body = {"client_key": client_key, "event": event, "create_time": create_time()}
    if open_id is not None:
        body["user_openid"] = open_id
    body["content"] = json.dumps(content)
    return json.dumps(body).encode()


def add_grant(store, open_id: str) -> None:
    now = utcnow()
    store.upsert_grant(
        open_id,
        ["portability.all.ongoing"],
        TokenSet(
            open_id=open_id,
            scopes=["portability.all.ongoing"],
            access_token=Secret("act.x"),
            expires_at=now + timedelta(hours=2),
            refresh_token=Secret("rft.x"),
            refresh_expires_at=now + timedelta(days=180),
            token_type="Bearer",
        ),
    )


@pytest.fixture
def deliver(plugin_server, http):
    """POST a body to the receiver, signed with the app's secret unless told otherwise."""
    secret = plugin_server.services.app.client_secret.reveal()

    def post(body: bytes, *, header: str | bool | None = True, t: int | None = None):
        headers = {"Content-Type": "application/json"}
        if header is True:
            headers["TikTok-Signature"] = hmac_header(secret, body, int(time.time()) if t is None else t)
        elif isinstance(header, str):
            headers["TikTok-Signature"] = header
        return http.post(f"{plugin_server.base_url}/webhook", content=body, headers=headers)

    return post


def key(plugin_server) -> str:
    return plugin_server.services.app.client_key


def test_a_signed_authorization_removed_revokes_the_grant_at_once(plugin_server, deliver):
    add_grant(plugin_server.store, "user-removed")
    body = event_body(key(plugin_server), "authorization.removed", "user-removed", {"reason": 1})

    response = deliver(body)

    assert response.status_code == 200
    assert response.json() == {"status": "recorded"}
    grant = plugin_server.store.get_grant("user-removed")
    assert grant.status == "revoked"
    assert grant.status_reason == "authorization.removed: user disconnected"
    assert grant.access_token is None
    assert grant.refresh_token is None
    assert "user-removed" not in [g.open_id for g in plugin_server.store.due_grants()]


def test_a_readiness_event_marks_the_transfer_ready(plugin_server, deliver):
    add_grant(plugin_server.store, "user-ready")
    transfer = plugin_server.store.create_transfer(
        "user-ready", "run-1", ["all_data"], 7_300_000_000_000_000_001
    )
    body = event_body(
        key(plugin_server),
        "portability.download.ready",
        "user-ready",
        {"request_id": 7_300_000_000_000_000_001},
    )

    response = deliver(body)

    assert response.status_code == 200
    assert plugin_server.store.get_transfer(transfer.id).status == "ready"


def test_a_duplicate_delivery_is_acknowledged_and_counted_once(plugin_server, deliver):
    store = plugin_server.store
    add_grant(store, "user-dup")
    before = store.webhook_event_count("authorization.removed")
    duplicates = store.webhook_counts().get("duplicate", 0)
    body = event_body(key(plugin_server), "authorization.removed", "user-dup", {"reason": 2})

    first, second = deliver(body), deliver(body)

    assert (first.status_code, second.status_code) == (200, 200)
    assert first.json() == {"status": "recorded"}
    assert second.json() == {"status": "duplicate"}
    assert store.webhook_event_count("authorization.removed") == before + 1
    assert store.webhook_counts()["duplicate"] == duplicates + 1


def test_a_forged_signature_is_rejected_and_nothing_is_recorded(plugin_server, deliver):
    add_grant(plugin_server.store, "user-forged")
    before = plugin_server.store.webhook_event_count()
    body = event_body(key(plugin_server), "authorization.removed", "user-forged", {"reason": 1})

    response = deliver(body, header=hmac_header("not-the-secret", body, int(time.time())))

    assert response.status_code == 401
    assert plugin_server.store.webhook_event_count() == before
    assert plugin_server.store.get_grant("user-forged").status == "active"


def test_a_body_changed_after_signing_is_rejected(plugin_server, deliver):
    secret = plugin_server.services.app.client_secret.reveal()
    signed = event_body(key(plugin_server), "authorization.removed", "user-a", {"reason": 1})
    tampered = signed.replace(b"user-a", b"user-b")

    response = deliver(tampered, header=hmac_header(secret, signed, int(time.time())))

    assert response.status_code == 401


def test_a_delivery_without_a_signature_is_rejected(plugin_server, deliver):
    body = event_body(key(plugin_server), "authorization.removed", "user-nosig", {"reason": 1})

    assert deliver(body, header=False).status_code == 401
    assert deliver(body, header="t=abc,s=00").status_code == 401


@pytest.mark.parametrize("age_s", [DEFAULT_TOLERANCE_S + 60, -301])
def test_a_delivery_older_than_the_retry_horizon_or_from_the_future_is_rejected(
    plugin_server, deliver, age_s
):
    add_grant(plugin_server.store, "user-stale")
    before = plugin_server.store.webhook_event_count()
    body = event_body(key(plugin_server), "authorization.removed", "user-stale", {"reason": 1})

    response = deliver(body, t=int(time.time()) - age_s)

    assert response.status_code == 401
    assert plugin_server.store.webhook_event_count() == before
    assert plugin_server.store.get_grant("user-stale").status == "active"


def test_a_signed_event_for_another_app_is_answered_200_and_counted(plugin_server, deliver):
    before = plugin_server.store.webhook_counts().get("wrong_client_key", 0)
    body = event_body("someone-elses-app", "authorization.removed", "user-other", {"reason": 1})

    response = deliver(body)

    assert response.status_code == 200
    assert response.json() == {"status": "ignored", "reason": "wrong_client_key"}
    assert plugin_server.store.webhook_counts()["wrong_client_key"] == before + 1


def test_unknown_events_are_recorded_acknowledged_and_counted(plugin_server, deliver):
    body = event_body(key(plugin_server), "video.publish.completed", "user-x", {"share_id": "s"})

    response = deliver(body)

    assert response.status_code == 200
    assert response.json() == {"status": "recorded", "reason": "unknown_event"}
    assert plugin_server.store.webhook_event_count("video.publish.completed") == 1


def test_the_documented_ready_event_without_user_openid_marks_the_transfer_ready(plugin_server, deliver):
    add_grant(plugin_server.store, "user-documented")
    transfer = plugin_server.store.create_transfer(
        "user-documented", "run-1", ["all_data"], 7_300_000_000_000_000_002
    )
    body = event_body(
        key(plugin_server), "portability.download.ready", None, {"request_id": 7_300_000_000_000_000_002}
    )
    assert set(json.loads(body)) == {"client_key", "event", "create_time", "content"}

    response = deliver(body)

    assert response.status_code == 200
    assert response.json() == {"status": "recorded"}
    assert plugin_server.store.get_transfer(transfer.id).status == "ready"


def test_a_ready_event_for_an_unknown_request_is_answered_200_and_counted(plugin_server, deliver):
    before = plugin_server.store.webhook_counts().get("unknown_request", 0)
    body = event_body(key(plugin_server), "portability.download.ready", None, {"request_id": 123456789})

    response = deliver(body)

    assert response.status_code == 200
    assert response.json() == {"status": "recorded", "reason": "unknown_request"}
    assert plugin_server.store.webhook_counts()["unknown_request"] == before + 1


def test_a_retry_signed_with_its_first_timestamp_is_accepted_within_72_hours(plugin_server, deliver):
    add_grant(plugin_server.store, "user-retried")
    transfer = plugin_server.store.create_transfer(
        "user-retried", "run-1", ["all_data"], 7_300_000_000_000_000_003
    )
    body = event_body(
        key(plugin_server), "portability.download.ready", None, {"request_id": 7_300_000_000_000_000_003}
    )

    response = deliver(body, t=int(time.time()) - RETRY_HORIZON_S + 60)

    assert response.status_code == 200
    assert plugin_server.store.get_transfer(transfer.id).status == "ready"


@pytest.fixture
def error_logs() -> Iterator[list[logging.LogRecord]]:
    """Records at ERROR or above from our loggers and uvicorn's (which does not propagate)."""
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Collect(level=logging.ERROR)
    loggers = [logging.getLogger(), logging.getLogger("uvicorn"), logging.getLogger("uvicorn.error")]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield records
    finally:
        for logger in loggers:
            logger.removeHandler(handler)


def signed_json(plugin_server, **fields) -> bytes:
    body = {"client_key": key(plugin_server), "event": "authorization.removed", "create_time": create_time()}
    body.update(user_openid="user-hostile", content=json.dumps({"reason": 1}))
    body.update(fields)
    return json.dumps(body).encode()


HOSTILE_SIGNED = {
    "not JSON": lambda s: b"{not json",
    "not UTF-8": lambda s: b'{"event": "\xff\xfe"}',
    "a JSON array": lambda s: b"[1, 2, 3]",
    "no event": lambda s: json.dumps({"client_key": key(s), "create_time": 1}).encode(),
    "body nested 32k deep": lambda s: b"[" * 32_000 + b"]" * 32_000,
    "content nested 20k deep": lambda s: signed_json(s, content="[" * 20_000 + "]" * 20_000),
    "user_openid with a lone surrogate": lambda s: signed_json(s).replace(b"user-hostile", b"\\ud800"),
    "user_openid with NUL": lambda s: signed_json(s, user_openid="user\u0000x"),
    "user_openid not a string": lambda s: signed_json(s, user_openid=["a"]),
    "user_openid of 10k characters": lambda s: signed_json(s, user_openid="u" * 10_000),
    "removal without user_openid": lambda s: signed_json(s, user_openid=None),
    "event of 1k characters": lambda s: signed_json(s, event="e" * 1000),
    "create_time beyond int64": lambda s: signed_json(s, create_time=10**30),
    "create_time a float": lambda s: signed_json(s, create_time=1.5e9),
    "create_time text": lambda s: signed_json(s, create_time="yesterday"),
    "content not an object": lambda s: signed_json(s, content="[1]"),
    "content not JSON": lambda s: signed_json(s, content="{oops"),
    "ready without request_id": lambda s: signed_json(s, event="portability.download.ready", content="{}"),
    "ready with a request_id beyond int64": lambda s: signed_json(
        s, event="portability.download.ready", content=json.dumps({"request_id": 2**64})
    ),
    "ready with a request_id that is text": lambda s: signed_json(
        s, event="portability.download.ready", content=json.dumps({"request_id": "seven"})
    ),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_SIGNED))
def test_a_signed_delivery_we_cannot_use_is_answered_200_logged_and_counted(
    plugin_server, deliver, error_logs, caplog, case
):
    before = plugin_server.store.webhook_counts().get("malformed", 0)
    body = HOSTILE_SIGNED[case](plugin_server)
    assert len(body) <= 64 * 1024

    with caplog.at_level(logging.WARNING, logger="tiktok_portability_airflow.webhooks"):
        response = deliver(body)

    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ignored", "reason": "malformed"}
    assert plugin_server.store.webhook_counts()["malformed"] == before + 1
    assert any("reason=malformed" in r.getMessage() for r in caplog.records)
    assert error_logs == []


def test_hostile_unsigned_input_gets_401_or_413_never_500(plugin_server, deliver, http, error_logs):
    body = signed_json(plugin_server)
    secret = plugin_server.services.app.client_secret.reveal()
    now = int(time.time())
    valid_s = hmac_header(secret, body, now).split(",s=")[1]
    before = plugin_server.store.webhook_event_count()
    cases = {
        "t of 400 digits": ("t=" + "9" * 400 + ",s=" + valid_s, body, 401),
        "t of 5000 digits": ("t=" + "9" * 5000 + ",s=" + valid_s, body, 401),
        "negative t": (f"t=-1,s={valid_s}", body, 401),
        "non-ASCII s": (f"t={now},s=" + "\u00e9" * 64, body, 401),
        "s of 10k characters": (f"t={now},s=" + "a" * 10_000, body, 401),
        "no s": (f"t={now}", body, 401),
        "empty header": ("", body, 401),
        "body nested 100k deep": (True, b"[" * 100_000 + b"]" * 100_000, 413),
        "body of 65 KiB": (True, b" " * (65 * 1024), 413),
    }
    for name, (header, payload, expected) in cases.items():
        if isinstance(header, str):
            header = header.encode("utf-8")
        if header is True:
            response = deliver(payload)
        else:
            response = http.post(
                f"{plugin_server.base_url}/webhook",
                content=payload,
                headers={"Content-Type": "application/json", "TikTok-Signature": header},
            )
        assert response.status_code == expected, (name, response.status_code, response.text)
    assert plugin_server.store.webhook_event_count() == before
    assert error_logs == []


def test_a_chunked_body_over_the_limit_is_refused_while_it_streams(plugin_server, http):
    sent = 0

    def chunks():
        nonlocal sent
        for _ in range(64):
            sent += 16 * 1024
            yield b" " * (16 * 1024)

    try:
        response = http.post(f"{plugin_server.base_url}/webhook", content=chunks())
    except httpx.TransportError:
        return  # the server closed the connection before reading the rest: refused all the same
    assert response.status_code == 413


def test_the_emulators_own_deliveries_are_accepted(plugin_server, emulator):
    """End to end with TikTok's sender: the emulator signs and posts authorization.removed."""
    user = emulator.create_user(scopes=["portability.all.ongoing"], region="NL")
    open_id = user["open_id"]
    add_grant(plugin_server.store, open_id)
    emulator.configure(webhook_url=f"{plugin_server.base_url}/webhook")

    emulator.revoke_user(open_id, reason=1)

    grant = emulator.wait_until(
        lambda: (g := plugin_server.store.get_grant(open_id)).status == "revoked" and g,
        what="the emulator's authorization.removed webhook to revoke the grant",
    )
    assert grant.status_reason == "authorization.removed: user disconnected"
