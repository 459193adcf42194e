"""The webhook receiver against the emulator's deliveries: documented shape first, then each option.

docs: webhooks-events (bodies, reasons), webhooks-verification (the signature, retries for 72 h).
"""

from __future__ import annotations

import json

import pytest

from tests.conformance.conftest import consent
from tiktok_portability.clock import OFFSET_ENV

HOUR = 3600


def delivered(emulator, count: int = 1) -> list[dict]:
    """Wait until ``count`` deliveries got their final answer; return every delivery."""
    return emulator.wait_until(
        lambda: (
            (d := emulator.webhooks())
            and sum(1 for x in d if x["state"] != "queued" or x["last_status"]) >= count
            and d
        ),
        what=f"{count} webhook delivery/deliveries",
    )


@pytest.mark.parametrize("with_user_openid", [False, True], ids=["documented", "webhook_user_openid"])
def test_a_ready_event_marks_its_transfer_ready_with_or_without_user_openid(
    emulator, receiver, sync_client, with_user_openid
):
    emulator.configure(prep_delay_s=1, webhook_user_openid=with_user_openid)
    tokens = consent(emulator, receiver.store)
    request_id = sync_client.add_data_request(tokens.access_token, ["all_data"], open_id=tokens.open_id)
    transfer = receiver.store.create_transfer(tokens.open_id, "run-1", ["all_data"], request_id)

    ready = emulator.wait_until(
        lambda: receiver.store.get_transfer(transfer.id).status == "ready", what="the ready webhook"
    )

    assert ready
    body = delivered(emulator)[0]["body"]
    keys = {"client_key", "event", "create_time", "content"} | (
        {"user_openid"} if with_user_openid else set()
    )
    assert set(body) == keys
    assert json.loads(body["content"]) == {"request_id": request_id}
    assert emulator.webhooks()[0]["last_status"] == 200


def test_a_ready_event_for_a_request_we_never_recorded_is_answered_200_once(emulator, receiver, sync_client):
    tokens = consent(emulator, receiver.store)
    before = receiver.counts().get("unknown_request", 0)
    sync_client.add_data_request(tokens.access_token, ["all_data"], open_id=tokens.open_id)

    delivery = delivered(emulator)[0]

    assert (delivery["state"], delivery["attempts"], delivery["last_status"]) == ("delivered", 1, 200)
    assert receiver.counts()["unknown_request"] == before + 1


@pytest.mark.parametrize("resign", [False, True], ids=["first_t_kept", "webhook_resign_retries"])
def test_a_delivery_71_hours_late_is_accepted_whether_or_not_the_retry_was_signed_again(
    emulator, receiver, sync_client, monkeypatch, resign
):
    emulator.configure(prep_delay_s=0, webhooks_paused=True, webhook_resign_retries=resign)
    tokens = consent(emulator, receiver.store)
    request_id = sync_client.add_data_request(tokens.access_token, ["all_data"], open_id=tokens.open_id)
    transfer = receiver.store.create_transfer(tokens.open_id, "run-1", ["all_data"], request_id)
    # TikTok kept retrying for 71 hours; the receiver's clock moves with the emulator's.
    emulator.advance(71 * HOUR)
    monkeypatch.setenv(OFFSET_ENV, str(71 * HOUR))

    emulator.configure(webhooks_paused=False)

    delivery = delivered(emulator)[0]
    assert delivery["last_status"] == 200
    assert (delivery["last_t"] >= delivery["signed_at"] + 71 * HOUR) is resign
    assert receiver.store.get_transfer(transfer.id).status == "ready"


def test_a_replayed_delivery_changes_nothing_and_is_counted_as_a_duplicate(emulator, receiver, sync_client):
    emulator.configure(prep_delay_s=1, webhook_duplicate=True)
    tokens = consent(emulator, receiver.store)
    request_id = sync_client.add_data_request(tokens.access_token, ["all_data"], open_id=tokens.open_id)
    transfer = receiver.store.create_transfer(tokens.open_id, "run-1", ["all_data"], request_id)
    events = receiver.store.webhook_event_count()
    duplicates = receiver.counts().get("duplicate", 0)

    deliveries = delivered(emulator, 2)

    assert [d["last_status"] for d in deliveries] == [200, 200]
    assert deliveries[0]["body"] == deliveries[1]["body"]
    assert receiver.store.webhook_event_count() == events + 1
    assert receiver.counts()["duplicate"] == duplicates + 1
    assert receiver.store.get_transfer(transfer.id).status == "ready"


def test_our_revoke_call_revokes_the_grant_through_its_reason_5_webhook(emulator, receiver, sync_client):
    tokens = consent(emulator, receiver.store)

    sync_client.revoke(tokens.access_token, open_id=tokens.open_id)

    grant = emulator.wait_until(
        lambda: (g := receiver.store.get_grant(tokens.open_id)).status == "revoked" and g,
        what="authorization.removed",
    )
    assert grant.status_reason == "authorization.removed: developer revoked"
    assert json.loads(delivered(emulator)[0]["body"]["content"]) == {"reason": 5}


def test_revoke_then_reconnect_then_the_late_removal_leaves_the_grant_active(
    emulator, receiver, sync_client, monkeypatch
):
    emulator.configure(webhooks_paused=True)  # the removal is delayed (TikTok retries for 72 h)
    tokens = consent(emulator, receiver.store)
    sync_client.revoke(tokens.access_token, open_id=tokens.open_id)
    # The user reconnects a minute later: a new code, exchanged, stored as the callback does.
    monkeypatch.setenv(OFFSET_ENV, "60")
    emulator.advance(60)
    code = emulator.authorization_code(tokens.open_id, "http://127.0.0.1/callback")
    renewed = sync_client.exchange_code(code, "http://127.0.0.1/callback")
    receiver.store.upsert_grant(renewed.open_id, renewed.scopes, renewed)
    late = receiver.counts().get("late_removal", 0)

    emulator.configure(webhooks_paused=False)

    delivery = delivered(emulator)[0]
    assert delivery["body"]["event"] == "authorization.removed"
    assert delivery["last_status"] == 200
    grant = receiver.store.get_grant(tokens.open_id)
    assert grant.status == "active"
    assert grant.refresh_token is not None
    assert grant.refresh_token.reveal() == renewed.refresh_token.reveal()
    assert receiver.counts()["late_removal"] == late + 1
    assert receiver.store.webhook_event_totals()["authorization.removed"]["stored"] >= 1


def test_without_a_webhook_for_our_own_revoke_the_grant_is_left_to_the_pipeline(
    emulator, receiver, sync_client
):
    emulator.configure(webhook_on_app_revoke=False)
    tokens = consent(emulator, receiver.store)

    sync_client.revoke(tokens.access_token, open_id=tokens.open_id)
    emulator.admin.post("/_admin/tick").raise_for_status()

    assert emulator.webhooks() == []
    # The erasure DAG marks the grant itself; no event is needed for that.
    assert receiver.store.get_grant(tokens.open_id).status == "active"
