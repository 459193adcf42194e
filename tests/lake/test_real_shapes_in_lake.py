"""Real export shapes through the real normalizer into the lake, night after night (issue 18)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from tests.lake.conftest import follower_changes
from tiktok_portability.lake import Lake

USER = "shape-user"


def _night(lake: Lake, tmp_path: Path, day: str, request_id: int, doc: dict) -> None:
    path = tmp_path / f"{day}.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("user_data_tiktok.json", json.dumps(doc))
    result = lake.normalize_batch([lake.raw.put_archive(USER, day, request_id, path)], day)
    assert result.errors == []


def _profile(followers: list | None) -> dict:
    return {
        "Profile": {"Profile Info": {"ProfileMap": {"userName": "shape_user"}}},
        "Your Activity": {"Follower": {"App": 0, "FansList": followers}},
    }


def test_a_follower_list_that_becomes_null_is_everyone_unfollowing(tmp_path: Path):
    lake = Lake.from_uri(str(tmp_path / "lake"))
    fans = [{"Date": f"2025-0{i}-01 10:00:00", "UserName": f"fan_{i}"} for i in (1, 2, 3)]
    _night(lake, tmp_path, "2026-03-01", 1, _profile(fans))
    _night(lake, tmp_path, "2026-03-02", 2, _profile(None))
    changes = follower_changes(lake)
    assert [c for c in changes if c[2] == "unfollow"] == [
        ("2026-03-02", "fan_1", "unfollow"),
        ("2026-03-02", "fan_2", "unfollow"),
        ("2026-03-02", "fan_3", "unfollow"),
    ]


def _off_tiktok(events: list[dict]) -> dict:
    return {"Ads and data": {"Off TikTok Activity": {"OffTikTokActivityDataList": events}}}


def test_other_records_are_stored_once_the_night_they_first_appear(tmp_path: Path):
    lake = Lake.from_uri(str(tmp_path / "lake"))
    old = [
        {"TimeStamp": "2025-01-02 10:00:00", "Source": "Example Bakery", "Event": "Purchase"},
        {"TimeStamp": "2025-01-01 10:00:00", "Source": "Example Bakery", "Event": "Purchase"},
    ]
    new = {"TimeStamp": "2025-01-03 09:00:00", "Source": "Example Gym", "Event": "Visit"}
    # An older record that appears only on the third night is still loaded (no watermark).
    late = {"TimeStamp": "2024-12-31 23:00:00", "Source": "Example Shop", "Event": "Visit"}
    _night(lake, tmp_path, "2026-03-01", 1, _off_tiktok(old))
    _night(lake, tmp_path, "2026-03-02", 2, _off_tiktok([new, *old]))
    _night(lake, tmp_path, "2026-03-03", 3, _off_tiktok([new, *old, late]))
    table = lake.read_table("other_records")
    got = sorted((str(r["snapshot_date"]), json.loads(r["record"])["TimeStamp"]) for r in table.to_pylist())
    assert got == [
        ("2026-03-01", "2025-01-01 10:00:00"),
        ("2026-03-01", "2025-01-02 10:00:00"),
        ("2026-03-02", "2025-01-03 09:00:00"),
        ("2026-03-03", "2024-12-31 23:00:00"),
    ]
    assert set(table.column("section").to_pylist()) == {
        "Ads and data / Off TikTok Activity / OffTikTokActivityDataList"
    }


def _shares(dates: list[str]) -> dict:
    # Each share's link is named after its day, so the same share has the same key every night.
    items = [
        {
            "Date": d,
            "SharedContent": "video",
            "Link": f"https://www.tiktokv.com/share/video/74700{d[:10].replace('-', '')}/",
        }
        for d in dates
    ]
    return {"Your Activity": {"Share History": {"ShareHistoryList": items}}}


def test_a_share_without_a_date_is_loaded_the_night_it_first_appears_and_only_then(tmp_path: Path):
    lake = Lake.from_uri(str(tmp_path / "lake"))
    _night(lake, tmp_path, "2026-03-01", 1, _shares(["2025-03-02 10:00:00", "2025-03-01 10:00:00"]))
    # Night 2 lists an undated share (TikTok's 1969 placeholder): older than any watermark.
    night2 = ["2025-03-03 10:00:00", "2025-03-02 10:00:00", "2025-03-01 10:00:00", "1969-12-31 23:59:59"]
    _night(lake, tmp_path, "2026-03-02", 2, _shares(night2))
    _night(lake, tmp_path, "2026-03-03", 3, _shares(night2))
    got = sorted(
        (str(r["snapshot_date"]), r["shared_at_raw"], r["shared_at"])
        for r in lake.read_table("shares").to_pylist()
    )
    assert [(d, raw) for d, raw, _ in got] == [
        ("2026-03-01", "2025-03-01 10:00:00"),
        ("2026-03-01", "2025-03-02 10:00:00"),
        ("2026-03-02", "1969-12-31 23:59:59"),
        ("2026-03-02", "2025-03-03 10:00:00"),
    ]
    assert [t for _, raw, t in got if raw.startswith("1969")] == [None]


def _messages(profile: bool) -> dict:
    said = [("2025-05-01 10:00:01", "pat.example"), ("2025-05-01 10:00:00", "shape_user")]
    messages = [{"Date": d, "From": who, "Content": f"{who} at {d}"} for d, who in said]
    doc: dict = {
        "Direct Message": {"Direct Messages": {"ChatHistory": {"Chat History with pat.example:": messages}}}
    }
    if profile:
        doc["Profile"] = {"Profile Info": {"ProfileMap": {"userName": "shape_user"}}}
    return doc


def test_messages_of_an_export_without_a_profile_take_direction_from_the_lake(tmp_path: Path):
    lake = Lake.from_uri(str(tmp_path / "lake"))
    # Night 1: a messages-only export and no profile ever seen: direction unknown, and said.
    _night(lake, tmp_path, "2026-03-01", 1, {"Direct Message": {}})
    assert lake.read_table("dm_messages") is None
    _night(lake, tmp_path, "2026-03-02", 2, _profile([]))  # a profile arrives
    _night(lake, tmp_path, "2026-03-03", 3, _messages(profile=False))
    got = sorted((r["sender"], r["direction"]) for r in lake.read_table("dm_messages").to_pylist())
    assert got == [("pat.example", "received"), ("shape_user", "sent")]


def test_without_any_profile_direction_is_null_and_the_report_says_so(tmp_path: Path):
    lake = Lake.from_uri(str(tmp_path / "lake"))
    path = tmp_path / "dm.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("user_data_tiktok.json", json.dumps(_messages(profile=False)))
    result = lake.normalize_batch([lake.raw.put_archive(USER, "2026-03-01", 1, path)], "2026-03-01")
    assert result.reports["1"]["user_name_source"] is None
    assert {r["direction"] for r in lake.read_table("dm_messages").to_pylist()} == {None}
