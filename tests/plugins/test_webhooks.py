"""The webhook receiver: only correctly signed, fresh deliveries count, and each counts once."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from datetime import timedelta

import pytest

from tiktok_portability.client.models import TokenSet
from tiktok_portability.clock import utcnow
from tiktok_portability.redact import Secret
from tiktok_portability.signatures import DEFAULT_TOLERANCE_S

_create_times = itertools.count(int(time.time()) - 1000)


def hmac_header(secret: str, body: bytes, t: int) -> str:
    """Computed independently of tiktok_portability.signatures, as tiktok-api.md describes it."""
    digest = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},s={digest}"


def event_body(client_key: str, event: str, open_id: str, content: dict) -> bytes:
    return json.dumps(
        {
            "client_key": client_key,
            "event": event,
            "create_time": next(_create_times),
            "user_openid": open_id,
            "content": json.dumps(content),
        }
    ).encode()


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
    before = store.webhook_event_count("authorization.removed")
    body = event_body(key(plugin_server), "authorization.removed", "user-dup", {"reason": 2})

    first, second = deliver(body), deliver(body)

    assert (first.status_code, second.status_code) == (200, 200)
    assert first.json() == {"status": "recorded"}
    assert second.json() == {"status": "duplicate"}
    assert store.webhook_event_count("authorization.removed") == before + 1


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
def test_a_delivery_older_than_the_retry_horizon_or_from_the_future_is_rejected(plugin_server, deliver, age_s):
    add_grant(plugin_server.store, "user-stale")
    before = plugin_server.store.webhook_event_count()
    body = event_body(key(plugin_server), "authorization.removed", "user-stale", {"reason": 1})

    response = deliver(body, t=int(time.time()) - age_s)

    assert response.status_code == 401
    assert plugin_server.store.webhook_event_count() == before
    assert plugin_server.store.get_grant("user-stale").status == "active"


def test_a_signed_event_for_another_app_is_refused(plugin_server, deliver):
    body = event_body("someone-elses-app", "authorization.removed", "user-other", {"reason": 1})

    response = deliver(body)

    assert response.status_code == 400
    assert "client_key" in response.json()["error"]


def test_a_signed_body_that_is_not_an_event_is_refused(plugin_server, deliver):
    assert deliver(b"[1, 2, 3]").status_code == 400
    assert deliver(json.dumps({"event": "x"}).encode()).status_code == 400


def test_unknown_events_are_recorded_and_acknowledged(plugin_server, deliver):
    body = event_body(key(plugin_server), "video.publish.completed", "user-x", {"share_id": "s"})

    response = deliver(body)

    assert response.status_code == 200
    assert plugin_server.store.webhook_event_count("video.publish.completed") == 1


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
