"""Data Portability: add, check, cancel, download, the lifecycle and every documented error."""

from __future__ import annotations

import io
import json
import re
import zipfile

import pytest

from tests.emulator.helpers import (
    ADD_PATH,
    CANCEL_PATH,
    CHECK_PATH,
    DOWNLOAD_PATH,
    add,
    add_ok,
    api,
    bearer,
    check,
    download,
    error_code,
    status_of,
    user_with_token,
)

FOUR_DAYS = 4 * 86400


def test_add_returns_an_int64_request_id_above_2_pow_53_exactly_in_the_raw_json(emulator):
    _, token = user_with_token(emulator)
    with api(emulator) as c:
        resp = add(c, token)

    assert resp.status_code == 200
    raw = re.search(rb'"request_id":\s*(\d+)', resp.content)
    assert raw is not None
    request_id = int(raw.group(1))
    assert request_id > 2**53
    assert resp.json() == {
        "data": {"request_id": request_id},
        "error": {**resp.json()["error"], "code": "ok"},
    }
    assert resp.json()["error"]["message"] == ""
    assert resp.json()["error"]["log_id"]
    assert emulator.request(request_id)["request_id"] == request_id


def test_check_returns_only_the_fields_named_in_the_query(emulator):
    _, token = user_with_token(emulator)
    with api(emulator) as c:
        rid = add_ok(c, token, ["activity", "video"], "text")
        full = check(c, token, rid)
        narrow = check(c, token, rid, path="/v2/user/data/check/?fields=status,request_id")

    assert full.json()["data"] == {
        "request_id": rid,
        "apply_time": full.json()["data"]["apply_time"],
        "collect_time": full.json()["data"]["collect_time"],
        "status": "downloading",
        "data_format": "text",
        "category_selection_list": ["activity", "video"],
    }
    assert isinstance(full.json()["data"]["apply_time"], int)
    assert narrow.json()["data"] == {"status": "downloading", "request_id": rid}


@pytest.mark.parametrize("path", ["/v2/user/data/check/", "/v2/user/data/check/?fields=status,colour"])
def test_check_without_or_with_unknown_fields_is_invalid_params(emulator, path):
    _, token = user_with_token(emulator)
    with api(emulator) as c:
        rid = add_ok(c, token)
        resp = check(c, token, rid, path=path)
    assert resp.status_code == 400
    assert error_code(resp) == "invalid_params"


def test_request_is_pending_until_the_preparation_delay_passes_on_the_emulator_clock(emulator):
    emulator.configure(prep_delay_s=3600)
    _, token = user_with_token(emulator)
    with api(emulator) as c:
        rid = add_ok(c, token)
        pending = status_of(c, token, rid)
        early = download(c, token, rid)
        emulator.advance(3600)
        ready = status_of(c, token, rid)

    assert pending == "pending"
    assert early.status_code == 400
    assert error_code(early) == "invalid_params"
    assert ready == "downloading"
    assert emulator.request(rid)["version"] == 1


def test_download_streams_a_zip_of_the_users_archive(emulator):
    _, token = user_with_token(emulator, generation="G2")
    with api(emulator) as c:
        rid = add_ok(c, token, ["all_data"], "json")
        resp = download(c, token, rid)

    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/zip"
    assert int(resp.headers["content-length"]) == len(resp.content)
    with zipfile.ZipFile(io.BytesIO(resp.content)) as zf:
        assert zf.testzip() is None
        names = zf.namelist()
    assert any(n.endswith(".json") for n in names)


def test_text_format_download_holds_txt_files(emulator):
    _, token = user_with_token(emulator, generation="G3", txt_variant="en_new")
    with api(emulator) as c:
        rid = add_ok(c, token, ["all_data"], "text")
        resp = download(c, token, rid)

    with zipfile.ZipFile(io.BytesIO(resp.content)) as zf:
        assert any(n.endswith(".txt") for n in zf.namelist())


def test_each_ready_request_gets_the_next_data_version(emulator):
    _, token = user_with_token(emulator)
    with api(emulator) as c:
        first = add_ok(c, token)
        assert download(c, token, first).status_code == 200
        second = add_ok(c, token)
        size_1 = len(download(c, token, first).content)
        size_2 = len(download(c, token, second).content)

    assert emulator.request(first)["version"] == 1
    assert emulator.request(second)["version"] == 2
    assert size_2 > size_1  # the user's data grew between requests


def test_download_window_closes_four_days_after_ready_and_the_request_expires(emulator):
    emulator.configure(access_token_ttl_s=30 * 86400)
    _, token = user_with_token(emulator)
    with api(emulator) as c:
        rid = add_ok(c, token)
        emulator.advance(FOUR_DAYS - 60)
        still = download(c, token, rid)
        emulator.advance(61)
        expired_status = status_of(c, token, rid)
        gone = download(c, token, rid)

    assert still.status_code == 200
    assert expired_status == "expired"
    assert gone.status_code == 400
    assert error_code(gone) == "invalid_params"


def test_cancel_accepts_request_id_in_body_or_query_and_frees_an_ongoing_grant(emulator):
    emulator.configure(prep_delay_s=60)
    _, token = user_with_token(emulator, scopes=["portability.activity.ongoing"])
    with api(emulator) as c:
        first = add_ok(c, token, ["activity"])
        blocked = add(c, token, ["activity"])
        cancelled = c.post(CANCEL_PATH, headers=bearer(token), json={"request_id": first})
        second = add_ok(c, token, ["activity"])
        by_query = c.post(f"{CANCEL_PATH}?request_id={second}", headers=bearer(token))
        again = c.post(CANCEL_PATH, headers=bearer(token), json={"request_id": first})
        download_cancelled = download(c, token, first)
        first_status = status_of(c, token, first)

    assert error_code(blocked) == "invalid_params"
    assert cancelled.status_code == 200
    assert cancelled.json()["error"]["code"] == "ok"
    assert cancelled.json()["data"] == {}
    assert by_query.json()["error"]["code"] == "ok"
    assert first_status == "cancelled"
    assert error_code(again) == "invalid_params"
    assert error_code(download_cancelled) == "invalid_params"


def test_ongoing_grant_allows_a_new_request_once_the_last_one_was_downloaded(emulator):
    _, token = user_with_token(emulator, scopes=["portability.all.ongoing"])
    with api(emulator) as c:
        first = add_ok(c, token)
        before_download = add(c, token)
        download(c, token, first)
        after_download = add(c, token)

    assert error_code(before_download) == "invalid_params"
    assert after_download.status_code == 200


def test_single_scope_can_be_used_once(emulator):
    open_id, token = user_with_token(emulator, scopes=["portability.activity.single"])
    with api(emulator) as c:
        first = add(c, token, ["activity"])
        second = add(c, token, ["activity"])

    assert first.status_code == 200
    assert second.status_code == 401
    assert error_code(second) == "scope_not_authorized"
    assert emulator.user(open_id)["scopes"] == []


def test_single_request_consumes_the_narrowest_scope_covering_the_whole_request(emulator):
    open_id, token = user_with_token(
        emulator, scopes=["portability.all.single", "portability.activity.single"]
    )
    with api(emulator) as c:
        mixed = add_ok(c, token, ["activity", "video"])
        remaining = emulator.user(open_id)["scopes"]
        activity = add(c, token, ["activity"])
        video = add(c, token, ["video"])

    assert emulator.request(mixed)["scopes_used"] == ["portability.all.single"]
    assert remaining == ["portability.activity.single"]
    assert activity.status_code == 200
    assert error_code(video) == "scope_not_authorized"


def test_all_data_takes_precedence_over_other_categories(emulator):
    _, narrow = user_with_token(emulator, scopes=["portability.activity.ongoing"])
    _, wide = user_with_token(emulator, scopes=["portability.all.ongoing"])
    with api(emulator) as c:
        refused = add(c, narrow, ["activity", "all_data"])
        rid = add_ok(c, wide, ["video", "all_data", "activity"])
        cats = check(c, wide, rid).json()["data"]["category_selection_list"]

    assert error_code(refused) == "scope_not_authorized"
    assert cats == ["all_data"]


@pytest.mark.parametrize(
    ("scopes", "categories"),
    [
        (["portability.postsandprofile.ongoing"], ["direct_message"]),
        (["portability.directmessages.ongoing"], ["profile"]),
        (["portability.activity.ongoing"], ["all_data"]),
    ],
)
def test_category_without_a_covering_scope_is_scope_not_authorized(emulator, scopes, categories):
    _, token = user_with_token(emulator, scopes=scopes)
    with api(emulator) as c:
        resp = add(c, token, categories)
    assert resp.status_code == 401
    assert error_code(resp) == "scope_not_authorized"


def test_user_outside_the_eea_and_uk_is_not_authorized(emulator):
    _, us_token = user_with_token(emulator, region="US")
    _, uk_token = user_with_token(emulator, region="GB")
    with api(emulator) as c:
        us = add(c, us_token)
        uk = add(c, uk_token)
    assert error_code(us) == "scope_not_authorized"
    assert "region" in us.json()["error"]["message"]
    assert uk.status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"data_format": "xml", "category_selection_list": ["all_data"]},
        {"data_format": "json", "category_selection_list": []},
        {"data_format": "json", "category_selection_list": ["photos"]},
        {"data_format": "json", "category_selection_list": "all_data"},
        {"category_selection_list": ["all_data"]},
    ],
)
def test_add_with_bad_parameters_is_invalid_params(emulator, body):
    _, token = user_with_token(emulator)
    with api(emulator) as c:
        resp = c.post(ADD_PATH, headers=bearer(token), json=body)
    assert resp.status_code == 400
    assert error_code(resp) == "invalid_params"
    assert resp.json()["error"]["http_status_code"] == 400


def test_malformed_json_and_unknown_request_ids_are_invalid_params(emulator):
    _, token = user_with_token(emulator)
    _, other_token = user_with_token(emulator)
    with api(emulator) as c:
        rid = add_ok(c, token)
        bad_json = c.post(CHECK_PATH, headers=bearer(token), content=b"{not json")
        not_int = c.post(CHECK_PATH, headers=bearer(token), json={"request_id": 1.5})
        someone_elses = check(c, other_token, rid)
        as_string = c.post(CHECK_PATH, headers=bearer(token), json={"request_id": str(rid)})

    for resp in (bad_json, not_int, someone_elses):
        assert resp.status_code == 400
        assert error_code(resp) == "invalid_params"
    assert as_string.status_code == 200


@pytest.mark.parametrize("path", [ADD_PATH, CHECK_PATH, CANCEL_PATH, DOWNLOAD_PATH])
@pytest.mark.parametrize("header", [None, "Bearer act.unknown", "Basic abc"])
def test_missing_or_unknown_token_is_access_token_invalid(emulator, path, header):
    headers = {"Authorization": header} if header else {}
    with api(emulator) as c:
        resp = c.post(path, headers=headers, json={"request_id": 1})
    assert resp.status_code == 401
    assert error_code(resp) == "access_token_invalid"
    assert resp.headers["content-type"].startswith("application/json")


def test_download_error_is_a_json_envelope_not_a_zip(emulator):
    _, token = user_with_token(emulator)
    with api(emulator) as c:
        resp = download(c, token, 123456789)
    assert resp.status_code == 400
    assert resp.headers["content-type"] == "application/json"
    assert json.loads(resp.content)["error"]["code"] == "invalid_params"
