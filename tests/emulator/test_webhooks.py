"""Webhooks: signed deliveries of portability.download.ready and authorization.removed, with retries."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.emulator.helpers import add_ok, api, user_with_token
from tests.fixtures.emulator import free_port


class Receiver:
    """A webhook endpoint on 127.0.0.1 that records deliveries and answers scripted statuses."""

    def __init__(self) -> None:
        self.deliveries: list[tuple[dict[str, str], bytes]] = []
        self.statuses: list[int] = []  # answered in order; 200 once exhausted
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    receiver.deliveries.append((dict(self.headers), body))
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/tiktok/webhook"

    def reset(self) -> None:
        with self.lock:
            self.deliveries.clear()
            self.statuses.clear()

    def bodies(self) -> list[dict]:
        with self.lock:
            return [json.loads(body) for _, body in self.deliveries]


@pytest.fixture(scope="module")
def receiver_server() -> Iterator[Receiver]:
    receiver = Receiver()
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
        thread.join()


@pytest.fixture
def receiver(receiver_server: Receiver, emulator) -> Receiver:
    receiver_server.reset()
    emulator.configure(webhook_url=receiver_server.url)
    return receiver_server


def independent_signature(secret: str, header: str, body: bytes) -> tuple[int, str, str]:
    parts = dict(p.split("=", 1) for p in header.split(","))
    expected = hmac.new(secret.encode(), parts["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
    return int(parts["t"]), parts["s"], expected


def test_download_ready_is_delivered_signed_with_the_client_secret(emulator, receiver):
    _, token = user_with_token(emulator)
    with api(emulator) as c:
        rid = add_ok(c, token)

    emulator.wait_until(lambda: receiver.deliveries, what="a webhook delivery")
    headers, body = receiver.deliveries[0]
    payload = json.loads(body)
    # TikTok's documented example: no user_openid on this event.
    assert list(payload) == ["client_key", "event", "create_time", "content"]
    assert payload["client_key"] == emulator.client_key
    assert payload["event"] == "portability.download.ready"
    assert isinstance(payload["create_time"], int)
    assert isinstance(payload["content"], str)
    assert json.loads(payload["content"]) == {"request_id": rid}
    assert f'"request_id": {rid}' in payload["content"]  # the int64 travels exactly
    t, s, expected = independent_signature(emulator.client_secret, headers["TikTok-Signature"], body)
    assert hmac.compare_digest(s, expected)
    assert abs(t - emulator.now()) < 60


def test_ready_webhooks_can_name_the_user(emulator, receiver):
    emulator.configure(webhook_user_openid=True)
    open_id, token = user_with_token(emulator)
    with api(emulator) as c:
        add_ok(c, token)

    emulator.wait_until(lambda: receiver.deliveries, what="a webhook delivery")
    assert receiver.bodies()[0]["user_openid"] == open_id


def test_ready_webhook_is_sent_when_the_clock_reaches_readiness(emulator, receiver):
    emulator.configure(prep_delay_s=600)
    _, token = user_with_token(emulator)
    with api(emulator) as c:
        rid = add_ok(c, token)
    assert receiver.deliveries == []

    emulator.advance(600)

    emulator.wait_until(lambda: receiver.deliveries, what="the ready webhook")
    assert json.loads(receiver.bodies()[0]["content"]) == {"request_id": rid}


def test_authorization_removed_carries_the_reason(emulator, receiver):
    user = emulator.create_user()
    emulator.revoke_user(user["open_id"], reason=2)

    emulator.wait_until(lambda: receiver.deliveries, what="authorization.removed")
    payload = receiver.bodies()[0]
    assert payload["event"] == "authorization.removed"
    assert payload["user_openid"] == user["open_id"]
    assert json.loads(payload["content"]) == {"reason": 2}


def test_non_200_answers_are_retried_until_delivered(emulator, receiver):
    receiver.statuses[:] = [500, 503]
    user = emulator.create_user()
    emulator.revoke_user(user["open_id"])

    emulator.wait_until(
        lambda: any(d["state"] == "delivered" for d in emulator.webhooks()), what="delivery after retries"
    )
    delivery = emulator.webhooks()[0]
    assert delivery["attempts"] == 3
    assert len(receiver.deliveries) == 3
    assert len({body for _, body in receiver.deliveries}) == 1  # the same event each time
    # Whether TikTok signs a retry again is undocumented: by default the first t (and so the whole
    # header) is kept.
    assert len({headers["TikTok-Signature"] for headers, _ in receiver.deliveries}) == 1


def signed_t(headers: dict[str, str]) -> int:
    return int(dict(p.split("=", 1) for p in headers["TikTok-Signature"].split(","))["t"])


def test_retries_keep_their_first_timestamp_or_are_signed_again(emulator, receiver):
    for resign in (False, True):
        receiver.reset()
        emulator.configure(webhook_resign_retries=resign)
        receiver.statuses[:] = [500]
        user = emulator.create_user()
        emulator.revoke_user(user["open_id"])
        emulator.wait_until(lambda: receiver.deliveries, what="the first attempt")
        emulator.advance(3600)  # the retry goes out an hour of emulator time later

        emulator.wait_until(lambda: len(receiver.deliveries) == 2, what="the retry")
        first, retry = (signed_t(headers) for headers, _ in receiver.deliveries)
        assert retry - first >= (3600 if resign else 0)
        assert (retry == first) is not resign
        body = receiver.deliveries[1][1]
        _, s, expected = independent_signature(
            emulator.client_secret, receiver.deliveries[1][0]["TikTok-Signature"], body
        )
        assert hmac.compare_digest(s, expected)


def test_paused_deliveries_go_out_late_with_their_original_create_time(emulator, receiver):
    emulator.configure(webhooks_paused=True)
    user = emulator.create_user()
    created = int(emulator.now())
    emulator.revoke_user(user["open_id"])
    emulator.advance(48 * 3600)
    assert receiver.deliveries == []

    emulator.configure(webhooks_paused=False)

    emulator.wait_until(lambda: receiver.deliveries, what="the late delivery")
    headers, body = receiver.deliveries[0]
    assert abs(json.loads(body)["create_time"] - created) <= 1
    assert abs(signed_t(headers) - created) <= 1


def test_our_own_revoke_call_sends_authorization_removed_with_reason_5(emulator, receiver):
    open_id, token = user_with_token(emulator)
    form = {"client_key": emulator.client_key, "client_secret": emulator.client_secret, "token": token}
    with api(emulator) as c:
        assert c.post("/v2/oauth/revoke/", data=form).status_code == 200

    emulator.wait_until(lambda: receiver.deliveries, what="authorization.removed")
    payload = receiver.bodies()[0]
    assert payload["event"] == "authorization.removed"
    assert payload["user_openid"] == open_id
    assert json.loads(payload["content"]) == {"reason": 5}


def test_unreachable_receiver_is_retried_and_given_up_after_72_hours(emulator):
    emulator.configure(webhook_url=f"http://127.0.0.1:{free_port()}/gone")
    user = emulator.create_user()
    emulator.revoke_user(user["open_id"])
    emulator.wait_until(lambda: emulator.webhooks()[0]["attempts"] >= 2, what="retries")
    assert emulator.webhooks()[0]["state"] == "queued"

    emulator.advance(72 * 3600)

    emulator.wait_until(lambda: emulator.webhooks()[0]["state"] == "failed", what="giving up")


def test_duplicate_deliveries_can_be_switched_on(emulator, receiver):
    emulator.configure(webhook_duplicate=True)
    user = emulator.create_user()
    emulator.revoke_user(user["open_id"])

    emulator.wait_until(lambda: len(receiver.deliveries) == 2, what="two deliveries")
    assert receiver.bodies()[0] == receiver.bodies()[1]


def test_no_webhook_is_queued_without_a_callback_url(emulator):
    user = emulator.create_user()
    emulator.revoke_user(user["open_id"])
    assert emulator.webhooks() == []
