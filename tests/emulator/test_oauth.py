"""Login Kit: token grants, rotation, revocation, the OAuth error envelope and the authorize page."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.emulator.helpers import api, bearer, check, error_code

REDIRECT = "https://app.example/oauth/callback"


def token_call(emulator, **form):
    with api(emulator) as c:
        base = {"client_key": emulator.client_key, "client_secret": emulator.client_secret}
        return c.post("/v2/oauth/token/", data={**base, **form})


def test_authorization_code_grant_returns_tiktok_token_fields(emulator):
    user = emulator.create_user(scopes=["portability.all.ongoing", "portability.activity.single"])
    code = emulator.authorization_code(user["open_id"], REDIRECT)

    resp = token_call(emulator, grant_type="authorization_code", code=code, redirect_uri=REDIRECT)

    assert resp.status_code == 200
    body = resp.json()
    assert set(body) == {
        "open_id",
        "scope",
        "access_token",
        "expires_in",
        "refresh_token",
        "refresh_expires_in",
        "token_type",
    }
    assert body["open_id"] == user["open_id"]
    assert body["scope"] == "portability.all.ongoing,portability.activity.single"
    assert body["expires_in"] == 2 * 3600
    assert body["refresh_expires_in"] == 180 * 86400


def test_authorization_code_is_single_use_and_bound_to_redirect_uri(emulator):
    user = emulator.create_user()
    code = emulator.authorization_code(user["open_id"], REDIRECT)

    wrong_uri = token_call(emulator, grant_type="authorization_code", code=code, redirect_uri=REDIRECT + "x")
    first = token_call(emulator, grant_type="authorization_code", code=code, redirect_uri=REDIRECT)
    second = token_call(emulator, grant_type="authorization_code", code=code, redirect_uri=REDIRECT)

    assert wrong_uri.json()["error"] == "invalid_grant"
    assert first.status_code == 200
    assert second.status_code == 400
    assert second.json()["error"] == "invalid_grant"
    assert set(second.json()) == {"error", "error_description", "log_id"}


def test_refresh_rotates_and_the_old_refresh_token_stops_working(emulator):
    user = emulator.create_user()
    tokens = emulator.issue_tokens(user["open_id"])

    fresh = token_call(emulator, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    reused = token_call(emulator, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    newest = token_call(emulator, grant_type="refresh_token", refresh_token=fresh.json()["refresh_token"])

    assert fresh.status_code == 200
    assert fresh.json()["refresh_token"] != tokens["refresh_token"]
    assert fresh.json()["access_token"] != tokens["access_token"]
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant"
    assert newest.status_code == 200


def test_access_token_expires_after_its_lifetime_on_the_emulator_clock(emulator):
    user = emulator.create_user()
    tokens = emulator.issue_tokens(user["open_id"])
    with api(emulator) as c:
        before = check(c, tokens["access_token"], 1)
        emulator.advance(2 * 3600 + 1)
        after = check(c, tokens["access_token"], 1)

    assert error_code(before) == "invalid_params"  # the token works; the request id does not exist
    assert after.status_code == 401
    assert error_code(after) == "access_token_invalid"


def test_refresh_token_lifetime_is_configurable(emulator):
    emulator.configure(refresh_token_ttl_s=100, access_token_ttl_s=10)
    user = emulator.create_user()
    tokens = emulator.issue_tokens(user["open_id"])
    assert tokens["expires_in"] == 10
    assert tokens["refresh_expires_in"] == 100

    emulator.advance(101)
    resp = token_call(emulator, grant_type="refresh_token", refresh_token=tokens["refresh_token"])

    assert resp.json()["error"] == "invalid_grant"


def test_revoke_disconnects_the_user_and_kills_all_their_tokens(emulator):
    user = emulator.create_user()
    tokens = emulator.issue_tokens(user["open_id"])
    with api(emulator) as c:
        resp = c.post(
            "/v2/oauth/revoke/",
            data={
                "client_key": emulator.client_key,
                "client_secret": emulator.client_secret,
                "token": tokens["access_token"],
            },
        )
        after = check(c, tokens["access_token"], 1)
    refresh = token_call(emulator, grant_type="refresh_token", refresh_token=tokens["refresh_token"])

    assert resp.status_code == 200
    assert resp.json() == {}
    assert error_code(after) == "access_token_invalid"
    assert refresh.json()["error"] == "invalid_grant"
    assert emulator.user(user["open_id"])["authorized"] is False


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        (
            {"client_secret": "wrong", "grant_type": "refresh_token", "refresh_token": "x"},
            401,
            "invalid_client",
        ),
        ({"client_key": "other", "grant_type": "refresh_token", "refresh_token": "x"}, 401, "invalid_client"),
        ({"client_key": "", "grant_type": "refresh_token"}, 400, "invalid_request"),
        ({"grant_type": "password"}, 400, "unsupported_grant_type"),
        ({"grant_type": "refresh_token"}, 400, "invalid_request"),
        ({"grant_type": "refresh_token", "refresh_token": "rft.unknown"}, 400, "invalid_grant"),
        (
            {"grant_type": "authorization_code", "code": "nope", "redirect_uri": REDIRECT},
            400,
            "invalid_grant",
        ),
    ],
)
def test_token_errors_use_the_oauth_envelope(emulator, form, status, error):
    resp = token_call(emulator, **form)

    assert resp.status_code == status
    assert resp.json()["error"] == error
    assert resp.json()["error_description"]
    assert resp.json()["log_id"]


def test_token_endpoint_requires_a_form_body(emulator):
    with api(emulator) as c:
        resp = c.post("/v2/oauth/token/", json={"client_key": emulator.client_key})
    assert resp.json()["error"] == "invalid_request"


def authorize_url(emulator, **params):
    base = {
        "client_key": emulator.client_key,
        "scope": "portability.all.ongoing",
        "response_type": "code",
        "redirect_uri": REDIRECT,
        "state": "st-123",
    }
    return "/v2/auth/authorize/", {**base, **params}


def test_authorize_redirects_back_with_code_and_state_that_exchange_for_tokens(emulator):
    user = emulator.create_user(scopes=[])
    path, params = authorize_url(emulator, open_id=user["open_id"], scope="portability.activity.ongoing")
    with api(emulator) as c:
        resp = c.get(path, params=params)

    assert resp.status_code == 302
    location = urlsplit(resp.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    query = parse_qs(location.query)
    assert query["state"] == ["st-123"]
    tokens = token_call(
        emulator, grant_type="authorization_code", code=query["code"][0], redirect_uri=REDIRECT
    )
    assert tokens.json()["open_id"] == user["open_id"]
    assert tokens.json()["scope"] == "portability.activity.ongoing"


def test_authorize_can_create_a_new_user_and_shows_a_chooser_without_one(emulator):
    path, params = authorize_url(emulator)
    with api(emulator) as c:
        page = c.get(path, params=params)
        created = c.get(path, params={**params, "open_id": "new", "region": "IE"})

    assert page.status_code == 200
    assert "open_id=new" in page.text
    code = parse_qs(urlsplit(created.headers["location"]).query)["code"][0]
    tokens = token_call(emulator, grant_type="authorization_code", code=code, redirect_uri=REDIRECT).json()
    assert emulator.user(tokens["open_id"])["region"] == "IE"


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"deny": "1"}, "access_denied"),
        ({"scope": "video.list"}, "invalid_scope"),
        ({"response_type": "token"}, "unsupported_response_type"),
    ],
)
def test_authorize_errors_redirect_with_error_and_state(emulator, params, error):
    user = emulator.create_user()
    path, base = authorize_url(emulator, open_id=user["open_id"])
    with api(emulator) as c:
        resp = c.get(path, params={**base, **params})

    query = parse_qs(urlsplit(resp.headers["location"]).query)
    assert query["error"] == [error]
    assert query["state"] == ["st-123"]
    assert "code" not in query


def test_authorize_rejects_an_unknown_client_key_without_redirecting(emulator):
    path, params = authorize_url(emulator, client_key="someone-else")
    with api(emulator) as c:
        resp = c.get(path, params=params)
    assert resp.status_code == 400
    assert "location" not in resp.headers


def test_deauthorized_user_cannot_use_tokens(emulator):
    user = emulator.create_user()
    tokens = emulator.issue_tokens(user["open_id"])
    emulator.revoke_user(user["open_id"], reason=2)
    with api(emulator) as c:
        resp = c.post("/v2/user/data/check/?fields=status", headers=bearer(tokens["access_token"]), json={})
    assert resp.status_code == 401
    assert error_code(resp) == "access_token_invalid"
