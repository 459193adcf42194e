"""TXT exports (new and old English layouts, Dutch) normalise into the same tables as JSON."""

from __future__ import annotations

import datetime as dt
import json

from tests.normalize.test_json_generations import load
from tests.normalize.zips import zip_txt


def test_new_english_txt(tmp_path):
    tables, report = load(zip_txt(tmp_path, "en_new"))
    assert report.format == "txt"
    assert report.txt_variant == "en_new"
    watch = tables["watch_history"].to_pylist()
    assert [r["occurrence"] for r in watch] == [0, 1, 0]  # CRLF file, same-second repeats
    assert watch[0]["watched_at"] == dt.datetime(2026, 1, 11, 10, 0, 12, tzinfo=dt.UTC)
    assert watch[0]["watched_at_raw"] == "2026-01-11 10:00:12 UTC"
    assert tables["searches"].to_pylist()[0]["search_term"] == "sourdough starter"
    (login,) = tables["logins"].to_pylist()
    assert (login["device_model"], login["network_type"]) == ("Pixel 8", "Wi-Fi")
    (share,) = tables["shares"].to_pylist()
    assert share["shared_content"] == "video"
    assert share["video_id"] == 7480000000000000003
    (fav,) = tables["favorites"].to_pylist()
    assert fav["kind"] == "hashtag"
    assert fav["link"] == "https://www.tiktok.com/tag/baking"
    (profile,) = tables["profile"].to_pylist()
    assert profile["user_name"] == "demo_user_03"
    assert profile["likes_received"] is None
    assert profile["bio_description"] is None


def test_txt_direct_messages(tmp_path):
    tables, _ = load(zip_txt(tmp_path, "en_new"))
    dms = tables["dm_messages"].to_pylist()
    got = [(r["conversation"], r["sender"], r["direction"], r["content"]) for r in dms]
    assert got == [
        ("pat.example", "demo_user_03", "sent", "ok"),
        (
            "pat.example",
            "pat.example",
            "received",
            "https://www.tiktokv.com/share/video/7480000000000000002/\nsecond line",
        ),
        ("sam_example", "sam_example", "received", "hi: there"),
    ]
    assert dms[0]["sent_at"] == dt.datetime(2026, 1, 11, 9, 0, 1, tzinfo=dt.UTC)


def test_txt_unknown_files_are_reported_unmapped(tmp_path):
    tables, _report = load(zip_txt(tmp_path, "en_new"))
    seen = {r["path"]: r for r in tables["sections_seen"].to_pylist()}
    reposts = seen["TikTok_Data_1767225600/TikTok/Your Activity/Reposts.txt"]
    assert reposts["node"] == "file"
    assert not reposts["mapped"]
    watch = seen["TikTok_Data_1767225600/TikTok/Your Activity/Watch History.txt"]
    assert watch["mapped"]
    assert watch["table_name"] == "watch_history"
    assert watch["records"] == 3


def test_old_english_txt(tmp_path):
    tables, report = load(zip_txt(tmp_path, "en_old"))
    assert report.txt_variant == "en_old"
    assert report.generation == "G0"  # `Video Link:` records
    assert tables["watch_history"].to_pylist()[0]["video_id"] == 6900000000000000001
    assert [r["user_name"] for r in tables["followers"].to_pylist()] == ["fan_one", "fan_two"]
    assert tables["posts"].to_pylist()[0]["likes"] == 7  # `Like(s): 7`
    assert tables["blocked_users"].num_rows == 1
    assert "searches" not in tables  # a "No data" sentence is not a record


def test_dutch_txt(tmp_path):
    tables, report = load(zip_txt(tmp_path, "nl"))
    assert report.txt_variant == "nl"
    (watch,) = tables["watch_history"].to_pylist()
    assert watch["video_id"] == 7470000000000000003
    assert watch["watched_at"] == dt.datetime(2025, 3, 2, 10, 0, 12, tzinfo=dt.UTC)
    assert tables["profile"].to_pylist()[0]["user_name"] == "nl_gebruiker"
    directions = [r["direction"] for r in tables["dm_messages"].to_pylist()]
    assert directions == ["received", "sent"]


def test_more_dutch_file_names(tmp_path):
    tables, report = load(zip_txt(tmp_path, "nl_more"))
    assert report.txt_variant == "nl"
    assert [r["video_id"] for r in tables["likes"].to_pylist()] == [7540000000000000001, 7540000000000000002]
    assert [r["user_name"] for r in tables["followers"].to_pylist()] == ["fiets.example"]
    assert [r["user_name"] for r in tables["blocked_users"].to_pylist()] == ["spam.example"]
    (share,) = tables["shares"].to_pylist()
    assert (share["shared_content"], share["method"]) == ("video", "chat_merge")
    assert report.unmapped_sections == []


def test_favorite_collections_and_reposts(tmp_path):
    tables, _ = load(zip_txt(tmp_path, "en_more"))
    favorites = tables["favorites"].to_pylist()
    assert [(r["kind"], r["name"]) for r in favorites] == [("collection", "Bread"), ("collection", "Bikes")]
    # Reposts have no typed table yet: every one is in other_records, as written.
    reposts = tables["other_records"].to_pylist()
    assert [(r["section"], r["ordinal"]) for r in reposts] == [
        ("Your Activity / Reposts", 0),
        ("Your Activity / Reposts", 1),
    ]
    assert json.loads(reposts[0]["record"]) == {
        "Creation Time": "2026-02-03 18:00:00 UTC",
        "Link": "https://www.tiktok.com/@someone/video/7600000000000000001",
    }
