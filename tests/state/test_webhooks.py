"""Webhook events: stored once under at-least-once delivery, applied to transfers and grants."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime

import pytest

from tests.state.stores import tokens

REQUEST_ID = 7_300_000_000_000_000_999


def ready_event(request_id: int = REQUEST_ID, create_time: int = 1_800_000_000) -> dict:
    return {
        "client_key": "k",
        "event": "portability.download.ready",
        "create_time": create_time,
        "user_openid": "user-1",
        "content": json.dumps({"request_id": request_id}),
    }


def test_duplicate_deliveries_are_counted_once(store):
    store.create_transfer("user-1", "run-1", ["all_data"], REQUEST_ID)
    first = store.record_webhook_event(ready_event())
    again = store.record_webhook_event(ready_event())
    reformatted = dict(ready_event(), content=f'{{ "request_id" : {REQUEST_ID} }}')
    assert first
    assert first.applied
    assert not again
    assert not store.record_webhook_event(reformatted)
    assert store.webhook_event_count() == 1
    assert store.transfer_by_request_id(REQUEST_ID).status == "ready"


def test_concurrent_duplicate_deliveries_store_one_event(store):
    store.create_transfer("user-1", "run-1", ["all_data"], REQUEST_ID)
    results: list[bool] = []

    def deliver() -> None:
        results.append(bool(store.record_webhook_event(ready_event())))

    threads = [threading.Thread(target=deliver) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 5 + [True]
    assert store.webhook_event_count("portability.download.ready") == 1


def test_a_new_event_time_is_a_new_event(store):
    assert store.record_webhook_event(ready_event(create_time=1))
    assert store.record_webhook_event(ready_event(create_time=2))
    assert store.webhook_event_count() == 2


def test_ready_before_the_transfer_exists_is_applied_when_it_is_created(store):
    outcome = store.record_webhook_event(ready_event())
    assert outcome.first_time
    assert not outcome.applied
    transfer = store.create_transfer("user-1", "run-1", ["all_data"], REQUEST_ID)
    assert transfer.status == "ready"
    assert transfer.ready_at is not None


def test_ready_for_a_transfer_already_downloaded_changes_nothing(store):
    t = store.create_transfer("user-1", "run-1", ["all_data"], REQUEST_ID)
    store.transition(t.id, "ready")
    store.transition(t.id, "downloaded", raw_location="x", raw_size=1, raw_sha256="00" * 32)
    outcome = store.record_webhook_event(ready_event())
    assert outcome.transfer_id == t.id
    assert store.get_transfer(t.id).status == "downloaded"


def removal(create_time: int, open_id: str = "user-1", reason: int = 2) -> dict:
    return {
        "event": "authorization.removed",
        "create_time": create_time,
        "user_openid": open_id,
        "content": json.dumps({"reason": reason}),
    }


def test_authorization_removed_revokes_the_grant(store):
    grant = store.upsert_grant("user-1", ["portability.all.ongoing"], tokens())
    outcome = store.record_webhook_event(removal(int(grant.consented_at.timestamp()) + 5))
    assert outcome.applied
    grant = store.get_grant("user-1")
    assert grant.status == "revoked"
    assert grant.status_reason == "authorization.removed: account deleted"
    assert grant.refresh_token is None
    assert store.due_grants() == []


def test_unknown_events_are_stored_but_not_applied(store):
    body = {"event": "video.publish.completed", "create_time": 1, "user_openid": "u"}
    outcome = store.record_webhook_event(body)
    assert outcome.first_time
    assert not outcome.applied
    assert outcome.reason == "unknown_event"
    assert store.webhook_counts() == {"unknown_event": 1}


def documented_ready(request_id: int = REQUEST_ID, create_time: int = 1_800_000_000) -> dict:
    """TikTok's own example of the event: no user_openid."""
    event = ready_event(request_id, create_time)
    del event["user_openid"]
    return event


def test_a_ready_event_without_user_openid_is_routed_by_its_request_id(store):
    transfer = store.create_transfer("user-1", "run-1", ["all_data"], REQUEST_ID)

    outcome = store.record_webhook_event(documented_ready())

    assert outcome.applied
    assert outcome.reason is None
    assert outcome.transfer_id == transfer.id
    assert store.get_transfer(transfer.id).status == "ready"
    # The event is filed under the transfer's user, so the user's history stays complete.
    assert store.unclaimed_ready_request("user-1", datetime.fromtimestamp(0, tz=UTC)) is None
    assert store.webhook_event_totals() == {"portability.download.ready": {"stored": 1, "applied": 1}}


def test_a_ready_event_without_user_openid_before_its_transfer_is_kept_and_counted(store):
    outcome = store.record_webhook_event(documented_ready())
    assert outcome.first_time
    assert not outcome.applied
    assert outcome.reason == "unknown_request"
    assert store.webhook_counts() == {"unknown_request": 1}

    transfer = store.create_transfer("user-1", "run-1", ["all_data"], REQUEST_ID)

    assert transfer.status == "ready"
    assert store.webhook_event_totals()["portability.download.ready"] == {"stored": 1, "applied": 1}


def test_the_same_ready_event_with_or_without_user_openid_is_one_event(store):
    store.create_transfer("user-1", "run-1", ["all_data"], REQUEST_ID)
    assert store.record_webhook_event(documented_ready())
    again = store.record_webhook_event(ready_event())
    assert not again
    assert again.reason == "duplicate"
    assert store.webhook_counts() == {"duplicate": 1}


def test_a_replayed_removal_changes_nothing_and_counts_as_a_duplicate(store):
    grant = store.upsert_grant("user-1", ["portability.all.ongoing"], tokens())
    event = removal(int(grant.consented_at.timestamp()) + 1)
    assert store.record_webhook_event(event).applied
    store.upsert_grant("user-1", ["portability.all.ongoing"], tokens())  # the user comes back

    replay = store.record_webhook_event(event)

    assert not replay.first_time
    assert store.get_grant("user-1").status == "active"
    assert store.webhook_counts() == {"duplicate": 1}


def test_a_removal_created_before_the_latest_consent_is_recorded_but_not_applied(store):
    grant = store.upsert_grant("user-1", ["portability.all.ongoing"], tokens())
    consented = int(grant.consented_at.timestamp())

    late = store.record_webhook_event(removal(consented - 60, reason=5))

    assert late.first_time
    assert not late.applied
    assert late.reason == "late_removal"
    assert store.get_grant("user-1").status == "active"
    assert store.get_grant("user-1").refresh_token is not None
    assert store.webhook_counts() == {"late_removal": 1}
    assert store.webhook_event_totals()["authorization.removed"] == {"stored": 1, "applied": 0}
    # A removal after the consent still applies.
    assert store.record_webhook_event(removal(consented + 60, reason=1)).applied
    assert store.get_grant("user-1").status == "revoked"


def test_a_removal_for_a_user_without_a_live_grant_is_counted(store):
    outcome = store.record_webhook_event(removal(1_800_000_000, open_id="nobody"))
    assert not outcome.applied
    assert outcome.reason == "unknown_user"
    store.upsert_grant("user-1", ["portability.all.ongoing"], tokens())
    store.erase_grant("user-1")
    assert store.record_webhook_event(removal(2_000_000_000)).reason == "unknown_user"
    assert store.get_grant("user-1").status == "erased"
    assert store.webhook_counts() == {"unknown_user": 2}


def test_the_receiver_counts_what_it_could_not_parse(store):
    store.count_webhook("malformed")
    store.count_webhook("malformed")
    store.count_webhook("wrong_client_key")
    assert store.webhook_counts() == {"malformed": 2, "wrong_client_key": 1}
    with pytest.raises(ValueError, match="unknown webhook reason"):
        store.count_webhook("anything")


def test_unclaimed_ready_request_names_the_newest_export_no_transfer_holds(store):
    since = datetime.fromtimestamp(1_700_000_000, tz=UTC)
    assert store.unclaimed_ready_request("user-1", since) is None
    store.record_webhook_event(ready_event(REQUEST_ID, create_time=1_800_000_000))
    store.record_webhook_event(ready_event(REQUEST_ID + 1, create_time=1_800_000_100))
    store.record_webhook_event(dict(ready_event(REQUEST_ID + 2), user_openid="user-2"))
    assert store.unclaimed_ready_request("user-1", since) == REQUEST_ID + 1
    # Once a transfer holds it (it is applied then), the older one is what is left.
    store.create_transfer("user-1", "run-1", ["all_data"], REQUEST_ID + 1)
    assert store.unclaimed_ready_request("user-1", since) == REQUEST_ID
    # Too old to be downloadable any more.
    later = datetime.fromtimestamp(1_800_000_000, tz=UTC)
    assert store.unclaimed_ready_request("user-1", later) is None
    # Other events of the user are not exports.
    store.record_webhook_event(dict(ready_event(), event="authorization.removed", create_time=1_800_000_200))
    assert store.unclaimed_ready_request("user-1", since) == REQUEST_ID


def test_a_lost_add_can_be_recovered_only_from_a_ready_event_that_names_its_user(store):
    since = datetime.fromtimestamp(1_700_000_000, tz=UTC)
    store.record_webhook_event(documented_ready())  # TikTok's shape: no user to match it to
    assert store.unclaimed_ready_request("user-1", since) is None
    store.record_webhook_event(ready_event(REQUEST_ID + 1, create_time=1_800_000_001))
    assert store.unclaimed_ready_request("user-1", since) == REQUEST_ID + 1
