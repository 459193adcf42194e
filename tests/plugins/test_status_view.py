"""The status view's app without Airflow: who may see it, what it shows, what it refuses.

Authentication and authorization are injected here (the real ones, Airflow's JWT and auth
manager, are exercised through the api-server in tests/scheduler/test_status_view_ui.py).
"""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

import httpx
import pytest
import sqlalchemy as sa
from fastapi import HTTPException

from tests.state.stores import KEY_A, tokens
from tiktok_portability.clock import utcnow
from tiktok_portability.state import StateStore
from tiktok_portability.state.tables import grants
from tiktok_portability_airflow.status_view import AppFacts, create_app

RUN = "manual__2026-12-06T02:00:00+00:00"


@pytest.fixture
def store(tmp_path):
    url = f"sqlite:///{tmp_path / 'state.db'}"
    writer = StateStore.from_url(url, fernet_keys=[KEY_A])
    writer.upsert_grant("user-ok", ["portability.all.ongoing"], tokens("ok"))
    writer.upsert_grant("user-reauth", ["portability.all.ongoing"], tokens("r"))
    writer.mark_grant("user-reauth", "needs_reauth", "refresh token expired")
    writer.upsert_grant("<script>alert(1)</script>", ["portability.all.ongoing"], tokens("x"))
    writer.save_run_plan(RUN, "2026-12-06", "sync", [["user-ok", "user-corrupt"]])
    t = writer.create_transfer("user-ok", RUN, ["all_data"], 1)
    writer.transition(t.id, "ready")
    writer.transition(t.id, "downloaded", raw_location="raw/a.zip", raw_size=1, raw_sha256="0" * 64)
    writer.transition(t.id, "normalized")
    writer.upsert_grant("user-corrupt", ["portability.all.ongoing"], tokens("c"))
    bad = writer.create_transfer("user-corrupt", RUN, ["all_data"], 2)
    writer.transition(bad.id, "failed", reason="archive_corrupt: CRC mismatch in activity.json")
    writer.close()
    # The view's own store has no key: statuses only.
    reader = StateStore.from_url(url, fernet_keys=None)
    yield reader
    reader.close()


class _Client:
    """GETs the app in-process (httpx over ASGI), synchronously for readable tests."""

    def __init__(self, app) -> None:
        self.app = app

    def get(self, path: str, params: dict | None = None) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
                return await client.get(path, params=params)

        return asyncio.run(go())


def _client(store, *, user="ops", allowed=True, facts=None) -> _Client:
    async def authenticate(request):
        if user is None:
            raise HTTPException(status_code=401, detail="Not authenticated")
        return user

    return _Client(create_app(lambda: store, authenticate, lambda u: allowed, lambda: facts or AppFacts()))


def test_without_a_session_the_view_answers_401_and_reads_nothing(store, monkeypatch):
    monkeypatch.setattr(store, "grant_counts", lambda: pytest.fail("read without a session"))
    resp = _client(store, user=None).get("/")
    assert resp.status_code == 401
    assert "user-corrupt" not in resp.text


def test_a_user_the_auth_manager_refuses_gets_403(store):
    resp = _client(store, allowed=False).get("/")
    assert resp.status_code == 403
    assert "tiktok_state" in resp.text
    assert "user-corrupt" not in resp.text


def test_a_run_shows_who_failed_in_words_with_the_next_action(store):
    resp = _client(store).get("/", params={"run_id": RUN})
    assert resp.status_code == 200
    page = resp.text
    assert "archive_corrupt</b>: The downloaded archive was truncated" in page
    assert "CRC mismatch in activity.json" in page
    assert "Re-sync with open_ids set to the user" in page
    assert "2026-12-06" in page
    # The run narrows the grants table to the run's users.
    assert "user-reauth" not in page
    assert resp.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'self'" in resp.headers["content-security-policy"]


def test_grants_show_the_reason_next_action_deadline_and_last_sync(store):
    page = _client(store).get("/", params={"reason": "needs_reauth"}).text
    assert "user-reauth" in page
    # The link to send the user, complete (the OAuth app is mounted beside the view) ...
    assert "<a href='http://testserver/tiktok/oauth/start'" in page
    # ... or the public one the connection's redirect_uri names, when it has one.
    public = AppFacts(sign_in_url="https://airflow.example.com/tiktok/oauth/start")
    page = _client(store, facts=public).get("/", params={"reason": "needs_reauth"}).text
    assert "<a href='https://airflow.example.com/tiktok/oauth/start'" in page
    assert (utcnow() + timedelta(days=180)).strftime("%Y-%m-%d") in page  # consent deadline
    ok = _client(store).get("/", params={"open_id": "user-ok"}).text
    assert f"<td>{utcnow().strftime('%Y-%m-%d')}" in ok  # last successful sync


def test_re_consent_due_lists_the_active_grants_near_their_deadline(store):
    with store.engine.begin() as conn:
        conn.execute(
            sa.update(grants)
            .where(grants.c.open_id == "user-ok")
            .values(refresh_expires_at=utcnow() + timedelta(days=2))
        )
    page = _client(store).get("/", params={"reconsent_due": "1"}).text
    listed = re.findall(r"<tr data-open-id='([^']+)'", page)
    assert listed == ["user-ok"]
    assert "re-consent due" in page


def test_values_from_the_store_are_escaped(store):
    page = _client(store).get("/").text
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"reason": "nope"}, "reason"),
        ({"date": "06/12/2026"}, "date"),
        ({"grant_status": "x"}, "grant_status"),
    ],
)
def test_a_filter_the_form_does_not_offer_is_a_400_naming_it(store, params, named):
    resp = _client(store).get("/", params=params)
    assert resp.status_code == 400
    assert named in resp.text
