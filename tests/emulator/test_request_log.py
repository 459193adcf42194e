"""The request log: every TikTok-surface call with time, endpoint, user and outcome."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.emulator.helpers import add_ok, api, check, download, user_with_token


def test_log_records_every_call_with_endpoint_user_status_and_request_id(emulator):
    open_id, token = user_with_token(emulator)
    start = emulator.now()
    with api(emulator) as c:
        rid = add_ok(c, token)
        check(c, token, rid)
        check(c, token, 42)
        check(c, "act.unknown", rid)

    entries = emulator.log(since=start)

    assert [(e["endpoint"], e["status"], e["error_code"]) for e in entries] == [
        ("add", 200, "ok"),
        ("check", 200, "ok"),
        ("check", 400, "invalid_params"),
        ("check", 401, "access_token_invalid"),
    ]
    assert [e["open_id"] for e in entries] == [open_id, open_id, open_id, None]
    assert [e["request_id"] for e in entries] == [rid, rid, 42, rid]
    assert all(e["method"] == "POST" and e["ts"] >= start for e in entries)


def test_log_filters_by_user_and_endpoint_and_skips_admin_calls(emulator):
    a, token_a = user_with_token(emulator)
    b, token_b = user_with_token(emulator)
    with api(emulator) as c:
        rid = add_ok(c, token_a)
        download(c, token_a, rid)
        add_ok(c, token_b)

    assert len(emulator.log(open_id=a)) == 2
    assert [e["endpoint"] for e in emulator.log(open_id=b)] == ["add"]
    assert len(emulator.log(endpoint="add")) == 2
    assert all(not e["endpoint"].startswith("_admin") for e in emulator.log())


def test_log_uses_the_emulator_clock_so_calls_per_minute_can_be_counted(emulator):
    _, token = user_with_token(emulator)
    with api(emulator) as c:
        check(c, token, 1)
        emulator.advance(120)
        later = emulator.now()
        check(c, token, 1)

    entries = emulator.log()
    assert entries[1]["ts"] - entries[0]["ts"] >= 120
    assert len(emulator.log(since=later - 1)) == 1


def test_oauth_calls_are_logged_with_their_outcome(emulator):
    with api(emulator) as c:
        c.post(
            "/v2/oauth/token/",
            data={"client_key": emulator.client_key, "client_secret": "nope", "grant_type": "refresh_token"},
        )
    entry = emulator.log(endpoint="oauth_token")[0]
    assert (entry["status"], entry["error_code"]) == (401, "invalid_client")


def test_a_call_still_running_at_a_reset_is_not_logged_after_it(emulator):
    # A timeout fault holds the answer after the client gave up; the reset (the next test's
    # fixture, here by hand) must leave that late call out of the fresh log.
    _, token = user_with_token(emulator)
    emulator.fault("timeout", delay_s=0.5)
    with httpx.Client(base_url=emulator.base_url, timeout=0.1) as c, pytest.raises(httpx.ReadTimeout):
        check(c, token, 1)
    assert emulator.admin.post("/_admin/reset").status_code == 200
    _, token = user_with_token(emulator)
    with api(emulator) as c:
        check(c, token, 1)
    time.sleep(0.8)  # the held call has answered by now
    assert [e["endpoint"] for e in emulator.log()] == ["check"]
    assert emulator.log()[0]["fault"] is None


def test_the_busiest_window_counts_calls_in_half_open_windows_wherever_they_start():
    from tiktok_portability.emulator.requestlog import busiest_window

    assert busiest_window([], 60) == 0
    # 0, 59.9 and 60 lie in no one window [t, t + 60): 60 starts the next.
    assert busiest_window([60.0, 0.0, 59.9], 60) == 2
    # A burst that straddles a minute boundary is caught: a fixed per-minute count would see 3 + 3.
    assert busiest_window([57, 58, 59, 60, 61, 62], 60) == 6
    assert busiest_window([0, 10, 20, 30], 10) == 1
