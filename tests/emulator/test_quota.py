"""The per-app quota: calls per sliding window, per endpoint or shared, answered with 429."""

from __future__ import annotations

from tests.emulator.helpers import add, api, check, error_code, user_with_token


def test_calls_beyond_the_quota_get_rate_limit_exceeded_until_the_window_slides(emulator):
    emulator.configure(quota_per_minute=3, quota_window_s=30)
    _, token = user_with_token(emulator)
    with api(emulator) as c:
        allowed = [check(c, token, 1) for _ in range(3)]
        refused = check(c, token, 1)
        emulator.advance(31)
        recovered = check(c, token, 1)

    assert [error_code(r) for r in allowed] == ["invalid_params"] * 3  # failing calls count too
    assert refused.status_code == 429
    assert error_code(refused) == "rate_limit_exceeded"
    assert "retry-after" not in refused.headers  # TikTok does not document one
    assert error_code(recovered) == "invalid_params"


def test_calls_with_invalid_tokens_count_against_the_quota(emulator):
    emulator.configure(quota_per_minute=2)
    with api(emulator) as c:
        codes = [error_code(check(c, "act.nobody", 1)) for _ in range(3)]
    assert codes == ["access_token_invalid", "access_token_invalid", "rate_limit_exceeded"]


def test_per_endpoint_quota_keeps_a_budget_per_endpoint(emulator):
    emulator.configure(quota_per_minute=2)
    _, token = user_with_token(emulator, scopes=["portability.all.single", "portability.activity.single"])
    with api(emulator) as c:
        checks = [check(c, token, 1).status_code for _ in range(3)]
        adds = [add(c, token, cats).status_code for cats in (["all_data"], ["activity"])]

    assert checks == [400, 400, 429]
    assert adds == [200, 200]


def test_shared_quota_counts_every_endpoint_in_one_bucket(emulator):
    emulator.configure(quota_per_minute=2, quota_mode="shared")
    _, token = user_with_token(emulator)
    with api(emulator) as c:
        first = check(c, token, 1)
        second = add(c, token)
        third = c.post("/v2/user/data/cancel/", headers={"Authorization": f"Bearer {token}"}, json={})

    assert first.status_code == 400
    assert second.status_code == 200
    assert third.status_code == 429


def test_oauth_calls_are_outside_the_portability_quota(emulator):
    emulator.configure(quota_per_minute=1)
    user = emulator.create_user()
    tokens = emulator.issue_tokens(user["open_id"])
    with api(emulator) as c:
        statuses = []
        refresh = tokens["refresh_token"]
        for _ in range(3):
            resp = c.post(
                "/v2/oauth/token/",
                data={
                    "client_key": emulator.client_key,
                    "client_secret": emulator.client_secret,
                    "grant_type": "refresh_token",
                    "refresh_token": refresh,
                },
            )
            statuses.append(resp.status_code)
            refresh = resp.json()["refresh_token"]
    assert statuses == [200, 200, 200]


def test_retry_after_header_can_be_switched_on(emulator):
    emulator.configure(quota_per_minute=1, quota_window_s=20, retry_after=True)
    _, token = user_with_token(emulator)
    with api(emulator) as c:
        check(c, token, 1)
        refused = check(c, token, 1)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 20
