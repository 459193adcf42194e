"""JSON exports of every layout generation normalise into the public tables."""

from __future__ import annotations

import datetime as dt
import json

import pyarrow as pa
import pytest

from tests.normalize.zips import zip_json, zip_members
from tiktok_portability.normalize import TABLES, NormalizeContext, NormalizeReport, normalize_archive

CTX = NormalizeContext(open_id="u-1", request_id=77, snapshot_date=dt.date(2026, 1, 12))


def load(source, batch_rows: int = 65_536) -> tuple[dict[str, pa.Table], NormalizeReport]:
    report = NormalizeReport()
    batches: dict[str, list[pa.RecordBatch]] = {}
    for name, batch in normalize_archive(source, CTX, report=report, batch_rows=batch_rows):
        assert batch.schema.equals(TABLES[name].schema, check_metadata=True)
        assert batch.num_rows <= batch_rows
        batches.setdefault(name, []).append(batch)
    tables = {n: pa.Table.from_batches(b, schema=TABLES[n].schema) for n, b in batches.items()}
    return tables, report


@pytest.fixture(scope="module")
def g3(tmp_path_factory):
    return load(zip_json(tmp_path_factory.mktemp("g3"), "G3"))


def rows(tables, name):
    return tables[name].to_pylist()


def test_every_row_carries_lineage(g3):
    tables, _ = g3
    for name, table in tables.items():
        assert set(table.column("open_id").to_pylist()) == {"u-1"}, name
        assert set(table.column("request_id").to_pylist()) == {77}, name
        assert set(table.column("snapshot_date").to_pylist()) == {dt.date(2026, 1, 12)}, name


def test_generation_is_detected_per_layout(tmp_path):
    for generation in ("G0", "G1", "G2", "G3"):
        _, report = load(zip_json(tmp_path, generation))
        assert report.generation == generation
        assert report.format == "json"


def test_g3_reads_split_sections(g3):
    tables, report = g3
    assert report.rows["followers"] == 1
    assert report.rows["following"] == 1
    assert rows(tables, "likes")[0]["video_id"] == 7480000000000000003
    kinds = sorted(r["kind"] for r in rows(tables, "favorites"))
    assert kinds == ["collection", "effect", "hashtag", "sound", "video"]
    collection = next(r for r in rows(tables, "favorites") if r["kind"] == "collection")
    assert collection["name"] == "Recipes"
    effect = next(r for r in rows(tables, "favorites") if r["kind"] == "effect")
    assert effect["link"] == "https://www.tiktok.com/sticker/e-123"


def test_profile_placeholders_and_numbers_as_strings(g3):
    tables, _ = g3
    (profile,) = rows(tables, "profile")
    assert profile["user_name"] == "demo_user_03"
    assert profile["likes_received"] is None  # "None"
    assert profile["following_count"] == 1  # "1"
    assert profile["follower_count"] == 1  # 1
    assert profile["bio_description"] is None  # "N/A"
    assert profile["email_address"] is None  # ""
    assert profile["extra"] == '{"PlatformInfo":[{"Name":"x"}]}'


def test_posts_keep_photo_links_counts_and_unknown_fields(g3):
    tables, _ = g3
    (post,) = rows(tables, "posts")
    assert post["likes"] == 1234
    assert post["link"].split("\n") == [
        "https://p16.example.invalid/a.jpeg",
        "https://p16.example.invalid/b.jpeg",
    ]
    assert post["extra"] == '{"NewField2026":"kept"}'
    assert post["posted_at"] == dt.datetime(2026, 1, 2, 17, 0, tzinfo=dt.UTC)
    assert post["posted_at_raw"] == "2026-01-02 17:00:00"


def test_same_second_events_get_occurrence_ordinals(g3):
    tables, _ = g3
    watch = [(r["watched_at"].second, r["video_id"], r["occurrence"]) for r in rows(tables, "watch_history")]
    assert watch == [
        (12, 7480000000000000003, 0),
        (12, 7480000000000000003, 1),
        (12, 7480000000000000001, 0),
        (48, 7480000000000000001, 0),
    ]
    dms = [(r["content"], r["occurrence"]) for r in rows(tables, "dm_messages") if r["content"] == "ok"]
    assert dms == [("ok", 0), ("ok", 1)]


def test_occurrence_is_stable_across_batch_boundaries(tmp_path):
    whole, _ = load(zip_json(tmp_path, "G3"))
    split, _ = load(zip_json(tmp_path, "G3"), batch_rows=1)
    for name in ("watch_history", "dm_messages", "likes"):
        assert split[name].to_pylist() == whole[name].to_pylist()


def test_dm_partner_and_direction(g3):
    tables, _ = g3
    got = {(r["conversation"], r["sender"], r["direction"]) for r in rows(tables, "dm_messages")}
    assert got == {
        ("pat.example", "demo_user_03", "sent"),
        ("pat.example", "pat.example", "received"),
        ("sam_example", "sam_example", "received"),
    }
    shared = next(r for r in rows(tables, "dm_messages") if r["sender"] == "pat.example")
    assert shared["video_id"] == 7480000000000000002


def test_bad_records_are_reported_with_path_and_the_rest_loads(g3):
    tables, report = g3
    reasons = {(e.path, e.index, e.reason) for e in report.record_errors}
    assert ("Likes and Favorites / Like List / ItemFavoriteList", 3, "expected an object, got str") in reasons
    assert (
        "Likes and Favorites / Like List / ItemFavoriteList",
        2,
        "unparseable timestamp 'not a date'",
    ) in reasons
    likes = rows(tables, "likes")
    assert len(likes) == 3
    assert likes[2]["liked_at"] is None
    assert likes[2]["liked_at_raw"] == "not a date"
    assert report.record_error_count == 2


def test_sections_seen_lists_mapped_and_unknown_sections(g3):
    tables, report = g3
    seen = {(r["path"], r["node"]): r for r in rows(tables, "sections_seen")}
    watch = seen[("Your Activity / Watch History / VideoList", "list")]
    assert watch["mapped"]
    assert watch["table_name"] == "watch_history"
    assert watch["records"] == 4
    unknown = seen[("Shiny New Section / Things / ThingList", "list")]
    assert not unknown["mapped"]
    assert unknown["records"] == 1
    assert not seen[("Shiny New Section / Things / ThingList[] / What", "field")]["mapped"]
    assert not seen[("Post / Posts / VideoList[] / NewField2026", "field")]["mapped"]
    assert seen[("Direct Message / Direct Messages / ChatHistory / *", "list")]["records"] == 4
    assert all("pat.example" not in path for path, _ in seen)
    assert "Shiny New Section / Things / ThingList" in report.unmapped_sections
    assert {r["generation"] for r in rows(tables, "sections_seen")} == {"G3"}


def test_sections_seen_reports_every_object_above_a_section(tmp_path):
    """Also above lists the reader meets without their objects: those over 1 MB are walked key
    by key, and only their lists and scalars arrive."""
    watch = [
        {"Date": f"2025-01-01 00:{i // 60 % 60:02d}:{i % 60:02d}", "Link": f"https://x/video/{i}/"}
        for i in range(40_000)
    ]
    doc = {
        "Your Activity": {
            "Watch History": {"VideoList": watch, "App": 0},
            "Searches": {"SearchList": [{"Date": "2025-01-01 00:00:00", "SearchTerm": "x"}]},
            "Shiny": {"Deeper": {"Deepest": {"Things": watch[:20_000]}}},
        },
        "Profile": {"Profile Info": {"ProfileMap": {"userName": "me"}}},
    }
    tables, _ = load(zip_members(tmp_path, {"TikTok/user_data_tiktok.json": json.dumps(doc).encode()}))
    seen = {(r["path"], r["node"]) for r in rows(tables, "sections_seen")}
    paths = {path for path, _ in seen}
    for path, node in seen:
        parts = path.split("[]")[0].split(" / ")
        above = parts if node == "field" else parts[:-1]  # a field's list is reported too
        for depth in range(1, len(above) + 1):
            assert " / ".join(above[:depth]) in paths, (path, depth)
    assert ("Your Activity / Shiny / Deeper / Deepest", "object") in seen
    assert ("Your Activity / Shiny / Deeper / Deepest / Things", "list") in seen
    assert ("Your Activity / Watch History / App", "value") in seen


def test_g1_legacy_layout(tmp_path):
    tables, report = load(zip_json(tmp_path, "G1"))
    assert report.rows["watch_history"] == 1
    assert rows(tables, "followers")[0]["user_name"] == "fan_one"
    assert rows(tables, "following")[0]["user_name"] == "idol_one"
    assert rows(tables, "blocked_users")[0]["user_name"] == "spammer"
    assert rows(tables, "posts")[0]["likes"] == 7
    assert rows(tables, "comments")[0]["comment"] == "lol"
    directions = {r["sender"]: r["direction"] for r in rows(tables, "dm_messages")}
    assert directions == {"legacy_user": "sent", "fan_one": "received"}
    assert rows(tables, "profile")[0]["likes_received"] == 42
    assert "favorites" not in tables  # FavoriteVideoList: null


def test_g0_video_link_key(tmp_path):
    tables, _ = load(zip_json(tmp_path, "G0"))
    assert rows(tables, "watch_history")[0]["video_id"] == 6900000000000000001
    assert rows(tables, "favorites")[0]["video_id"] == 6900000000000000002


def test_g2_skeleton_every_table(tmp_path):
    tables, report = load(zip_json(tmp_path, "G2"))
    expected = set(TABLES)
    assert set(tables) == expected
    assert report.record_error_count == 0


def test_json_member_is_found_by_name_anywhere(tmp_path):
    tables, report = load(zip_json(tmp_path, "G2", member="some/folder/user_data.json"))
    assert report.member == "some/folder/user_data.json"
    assert tables["profile"].num_rows == 1
