"""The Login Kit flow: start -> TikTok's consent page (the emulator) -> callback -> grant stored."""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
import sqlalchemy as sa

from tiktok_portability.clock import OFFSET_ENV
from tiktok_portability.redact import fingerprint
from tiktok_portability.state import StateStore, generate_key
from tiktok_portability_airflow.oauth_state import COOKIE_NAME


@pytest.fixture
def browser():
    """A cookie-keeping client that does not follow redirects, so each hop can be checked."""
    with httpx.Client(timeout=30, follow_redirects=False) as client:
        yield client


def start(plugin_server, browser, **params) -> dict[str, str]:
    response = browser.get(f"{plugin_server.base_url}/oauth/start", params=params)
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    return {"location": location, **query}


def consent(browser, authorize_location: str, open_id: str) -> str:
    """The user consents on the emulator's page; returns the redirect back to our callback."""
    response = browser.get(f"{authorize_location}&{urlencode({'open_id': open_id})}")
    assert response.status_code in (302, 303, 307), response.text
    return response.headers["location"]


def test_start_redirects_to_the_consent_page_with_a_state_and_sets_the_browser_cookie(
    plugin_server, browser, emulator
):
    query = start(plugin_server, browser)

    assert query["location"].startswith(f"{emulator.base_url}/v2/auth/authorize/?")
    assert query["client_key"] == emulator.client_key
    assert query["scope"] == "portability.all.ongoing"
    assert query["response_type"] == "code"
    assert query["redirect_uri"] == plugin_server.services.app.redirect_uri
    assert query["state"]
    assert browser.cookies.get(COOKIE_NAME)


def test_the_full_flow_against_the_emulator_stores_the_grant_with_its_scopes(
    plugin_server, browser, emulator
):
    open_id = emulator.create_user(scopes=["portability.all.ongoing"], region="NL")["open_id"]
    query = start(plugin_server, browser)

    callback = consent(browser, query["location"], open_id)
    assert callback.startswith(plugin_server.services.app.redirect_uri)
    page = browser.get(callback)

    assert page.status_code == 200, page.text
    assert "TikTok account connected" in page.text
    assert fingerprint(open_id) in page.text
    assert open_id not in page.text
    grant = plugin_server.store.get_grant(open_id)
    assert grant.status == "active"
    assert grant.scopes == ["portability.all.ongoing"]
    assert grant.access_token is not None
    assert grant.access_token.reveal()
    assert [e["endpoint"] for e in emulator.log() if e["endpoint"].startswith("oauth")]
    assert not browser.cookies.get(COOKIE_NAME), "the state cookie is spent by the callback"


def test_a_state_cannot_be_used_twice(plugin_server, browser, emulator):
    open_id = emulator.create_user(scopes=["portability.all.ongoing"], region="NL")["open_id"]
    callback = consent(browser, start(plugin_server, browser)["location"], open_id)
    assert browser.get(callback).status_code == 200

    again = browser.get(callback)

    assert again.status_code == 400
    assert "another browser" in again.text


def test_a_callback_without_state_or_with_a_forged_state_stores_nothing(plugin_server, browser, emulator):
    open_id = emulator.create_user(scopes=["portability.all.ongoing"], region="NL")["open_id"]
    code = emulator.authorization_code(open_id, plugin_server.services.app.redirect_uri)
    callback = f"{plugin_server.base_url}/oauth/callback"

    missing = browser.get(callback, params={"code": code})
    forged = browser.get(callback, params={"code": code, "state": "eyJuIjoiYSJ9.c2lnbmF0dXJl"})

    assert missing.status_code == 400
    assert "no state" in missing.text
    assert forged.status_code == 400
    assert "not issued by this server" in forged.text
    assert plugin_server.store.find_grant(open_id) is None


def test_a_callback_in_another_browser_is_refused(plugin_server, browser, emulator):
    """CSRF: an attacker's state, replayed into the victim's browser, has no matching cookie."""
    open_id = emulator.create_user(scopes=["portability.all.ongoing"], region="NL")["open_id"]
    callback = consent(browser, start(plugin_server, browser)["location"], open_id)

    with httpx.Client(timeout=30) as victim:
        page = victim.get(callback)

    assert page.status_code == 400
    assert "another browser" in page.text
    assert plugin_server.store.find_grant(open_id) is None


def test_an_expired_state_is_refused(plugin_server, browser, emulator, monkeypatch):
    open_id = emulator.create_user(scopes=["portability.all.ongoing"], region="NL")["open_id"]
    callback = consent(browser, start(plugin_server, browser)["location"], open_id)
    monkeypatch.setenv(OFFSET_ENV, "3600")  # the server runs in this process and reads the same clock

    page = browser.get(callback)

    assert page.status_code == 400
    assert "expired" in page.text
    assert plugin_server.store.find_grant(open_id) is None


def test_a_declined_consent_renders_a_clear_page(plugin_server, browser, emulator):
    query = start(plugin_server, browser)
    response = browser.get(f"{query['location']}&deny=1")
    callback = response.headers["location"]

    page = browser.get(callback)

    assert page.status_code == 400
    assert "TikTok did not connect" in page.text
    assert "denied" in page.text


def test_a_code_tiktok_refuses_renders_a_clear_page_and_stores_nothing(plugin_server, browser, emulator):
    query = start(plugin_server, browser)

    page = browser.get(
        f"{plugin_server.base_url}/oauth/callback", params={"code": "not-a-code", "state": query["state"]}
    )

    assert page.status_code == 500
    assert "nothing was stored" in page.text
    assert "invalid_grant" not in page.text, "the page shows an error id, never the exception"
    assert "<script" not in page.text


def test_start_rejects_a_scope_tiktok_does_not_define(plugin_server, browser):
    response = browser.get(f"{plugin_server.base_url}/oauth/start", params={"scope": "user.info.basic"})

    assert response.status_code == 400
    assert "not a Data Portability scope" in response.text


def test_start_can_ask_for_narrower_scopes(plugin_server, browser):
    query = start(
        plugin_server, browser, scope="portability.activity.ongoing,portability.directmessages.ongoing"
    )

    assert query["scope"] == "portability.activity.ongoing,portability.directmessages.ongoing"


def error_id_of(page_text: str) -> str:
    match = re.search(r"error id: ([0-9a-f]{12})", page_text)
    assert match, page_text
    return match.group(1)


def test_a_state_store_outage_shows_an_error_id_and_logs_the_detail_masked(
    plugin_server, browser, emulator, monkeypatch, tmp_path, caplog
):
    """The SQL of a failed grant write holds the open_id and both encrypted tokens: none may leak."""
    broken = StateStore.from_url(f"sqlite:///{tmp_path / 'broken.db'}", [generate_key()])
    with broken.engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE grants"))
    monkeypatch.setattr(plugin_server.services, "state_store", broken)
    open_id = emulator.create_user(scopes=["portability.all.ongoing"], region="NL")["open_id"]
    callback = consent(browser, start(plugin_server, browser)["location"], open_id)

    with caplog.at_level(logging.INFO):
        page = browser.get(callback)
    broken.close()

    assert page.status_code == 500
    error_id = error_id_of(page.text)
    for leaked in ("INSERT", "grants", open_id, "sqlite"):
        assert leaked not in page.text
    failures = [r.getMessage() for r in caplog.records if error_id in r.getMessage()]
    assert len(failures) == 1
    assert "store_grant" in failures[0]
    assert "no such table" in failures[0]
    assert fingerprint(open_id) in failures[0]
    assert open_id not in caplog.text
    assert "gAAAA" not in caplog.text, "a Fernet token (encrypted access/refresh token) was logged"


def test_the_state_cookie_is_secure_unless_turned_off(plugin_server, browser, monkeypatch):
    secure = replace(plugin_server.services.app, oauth_cookie_secure=True)
    monkeypatch.setattr(plugin_server.services, "app", secure)

    response = browser.get(f"{plugin_server.base_url}/oauth/start")

    assert response.status_code == 302
    assert "secure" in response.headers["set-cookie"].lower()


def test_redirect_uri_comes_only_from_the_configuration(plugin_server, browser, monkeypatch):
    spoofed = browser.get(f"{plugin_server.base_url}/oauth/start", headers={"Host": "attacker.example"})
    assert parse_qs(urlsplit(spoofed.headers["location"]).query)["redirect_uri"] == [
        plugin_server.services.app.redirect_uri
    ]
    unset = replace(plugin_server.services.app, redirect_uri=None)
    monkeypatch.setattr(plugin_server.services, "app", unset)

    start_page = browser.get(f"{plugin_server.base_url}/oauth/start")
    callback_page = browser.get(f"{plugin_server.base_url}/oauth/callback", params={"code": "c"})

    for page in (start_page, callback_page):
        assert page.status_code == 503
        assert "redirect_uri" in page.text
        assert "location" not in page.headers


def test_a_spent_state_is_refused_even_replayed_with_its_cookie(plugin_server, browser, emulator):
    open_id = emulator.create_user(scopes=["portability.all.ongoing"], region="NL")["open_id"]
    callback = consent(browser, start(plugin_server, browser)["location"], open_id)
    cookie = browser.cookies.get(COOKIE_NAME)
    assert browser.get(callback).status_code == 200
    plugin_server.store.revoke_grant(open_id)

    with httpx.Client(timeout=30, cookies={COOKIE_NAME: cookie}) as replayer:
        again = replayer.get(callback)

    assert again.status_code == 400
    assert "already used" in again.text
    assert plugin_server.store.get_grant(open_id).status == "revoked", "the replay stored nothing"


def test_with_user_info_basic_the_page_names_the_account_by_its_display_name(
    plugin_server, browser, emulator
):
    user = emulator.create_user(
        scopes=["portability.all.ongoing"], region="NL", display_name="Ada <Lovelace>"
    )
    query = start(plugin_server, browser, scope="portability.all.ongoing,user.info.basic")
    assert query["scope"] == "portability.all.ongoing,user.info.basic"

    page = browser.get(consent(browser, query["location"], user["open_id"]))

    assert page.status_code == 200, page.text
    assert "The account Ada &lt;Lovelace&gt; is connected" in page.text
    assert fingerprint(user["open_id"]) not in page.text
    scopes = plugin_server.store.get_grant(user["open_id"]).scopes
    assert scopes == ["portability.all.ongoing", "user.info.basic"]
    assert [e["status"] for e in emulator.log(endpoint="user_info")] == [200]


def test_a_consent_page_refusing_the_region_renders_a_plain_page(plugin_server, browser, emulator):
    emulator.configure(ineligible_region_mode="consent")
    try:
        open_id = emulator.create_user(scopes=["portability.all.ongoing"], region="US")["open_id"]
        callback = consent(browser, start(plugin_server, browser)["location"], open_id)
        page = browser.get(callback)
    finally:
        emulator.configure(ineligible_region_mode="add")

    assert page.status_code == 403
    assert "cannot be connected" in page.text
    assert "EEA and the UK" in page.text
    assert plugin_server.store.find_grant(open_id) is None


def test_a_re_consent_keeps_a_grant_parked_as_ineligible(plugin_server, browser, emulator):
    open_id = emulator.create_user(scopes=["portability.all.ongoing"], region="NL")["open_id"]
    first = browser.get(consent(browser, start(plugin_server, browser)["location"], open_id))
    assert first.status_code == 200
    plugin_server.store.mark_grant(open_id, "ineligible", "ineligible_region: outside the EEA/UK")

    page = browser.get(consent(browser, start(plugin_server, browser)["location"], open_id))

    assert page.status_code == 200
    assert "not eligible" in page.text
    grant = plugin_server.store.get_grant(open_id)
    assert (grant.status, grant.status_reason) == ("ineligible", "ineligible_region: outside the EEA/UK")
