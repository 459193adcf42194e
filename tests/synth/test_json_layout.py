"""JSON archives in generations G0-G3: file names, key names, casing and quirks (docs/archive-format.md)."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import pytest

from tiktok_portability.synth import SyntheticUser, UserSpec, write_archive
from tiktok_portability.synth.errors import ArchiveRequestError


def load(
    spec: UserSpec, version: int = 2, categories: tuple[str, ...] = ("all_data",)
) -> tuple[str, dict[str, Any]]:
    buf = io.BytesIO()
    info = write_archive(spec, version, "json", list(categories), buf)
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as zf:
        assert zf.namelist() == info.members
        (name,) = info.members
        return name, json.loads(zf.read(name).decode("utf-8"))


def spec(generation: str) -> UserSpec:
    return UserSpec(open_id="u-0001", seed=1, generation=generation, size="tiny")


@pytest.mark.parametrize(
    ("generation", "member"),
    [
        ("G0", "user_data.json"),
        ("G1", "user_data.json"),
        ("G2", "user_data_tiktok.json"),
        ("G3", "TikTok_Data_1767398400/user_data_tiktok.json"),
    ],
)
def test_json_file_name_follows_the_generation(generation: str, member: str) -> None:
    name, _ = load(spec(generation))
    assert name == member


def test_g2_matches_the_your_activity_skeleton() -> None:
    _, doc = load(spec("G2"))
    snap = SyntheticUser(spec("G2")).snapshot(2)
    activity = doc["Your Activity"]
    watch = activity["Watch History"]["VideoList"]
    assert [(r["Date"], r["Link"]) for r in watch][:3] == [
        (e.timestamp.strftime("%Y-%m-%d %H:%M:%S"), e.link) for e in snap.watch_history[:3]
    ]
    assert len(watch) == len(snap.watch_history)
    assert set(activity["Like List"]["ItemFavoriteList"][0]) == {"date", "link"}
    assert activity["Like List"]["App"] == 0
    assert activity["Follower"]["IsFastLane"] is False
    assert {r["UserName"] for r in activity["Follower"]["FansList"]} == {f.user_name for f in snap.followers}
    assert set(doc["Comment"]["Comments"]["CommentsList"][0]) == {"date", "comment", "photo", "url"}
    profile = doc["Profile"]["Profile Info"]["ProfileMap"]
    assert profile["userName"] == snap.profile.user_name
    assert isinstance(profile["likesReceived"], str)
    assert profile["followerCount"] == len(snap.followers)
    assert isinstance(doc["Post"]["Posts"]["VideoList"][0]["Likes"], str)
    assert doc["App Settings"]["Settings"]["SettingsMap"]["Interests"] == "Food|Animals|DIY"
    assert doc["Your Activity"]["Searches"]["SearchList"][0].keys() == {"Date", "SearchTerm"}
    for unmapped in ("TikTok Shop", "Tiktok Live", "Ads and data", "Income Plus Wallet Transactions"):
        assert unmapped in doc
    assert "Activity Summary" in activity


def test_direct_messages_are_keyed_by_chat_history_with_partner() -> None:
    _, doc = load(spec("G2"))
    snap = SyntheticUser(spec("G2")).snapshot(2)
    chats = doc["Direct Message"]["Direct Messages"]["ChatHistory"]
    assert list(chats) == [f"Chat History with {p}:" for p in snap.conversations]
    for partner in snap.conversations:
        records = chats[f"Chat History with {partner}:"]
        expected = list(snap.messages_with(partner))
        assert [(r["Date"], r["From"], r["Content"]) for r in records] == [
            (m.timestamp.strftime("%Y-%m-%d %H:%M:%S"), m.sender, m.text) for m in expected
        ]


def test_g1_uses_legacy_names_and_capitalised_records() -> None:
    _, doc = load(spec("G1"))
    assert {"Activity", "Video", "Direct Messages", "Profile"} <= doc.keys()
    assert "Your Activity" not in doc
    activity = doc["Activity"]
    assert {"Video Browsing History", "Follower List", "Following List", "Search History"} <= activity.keys()
    assert set(activity["Like List"]["ItemFavoriteList"][0]) == {"Date", "Link"}
    assert "App" not in activity["Like List"]
    assert set(doc["Comment"]["Comments"]["CommentsList"][0]) == {"Date", "Comment"}
    assert set(doc["Video"]["Videos"]["VideoList"][0]) == {"Date", "Likes", "Link"}
    profile = doc["Profile"]["Profile Information"]["ProfileMap"]
    assert "displayName" not in profile
    assert "followerCount" not in profile
    assert "ChatHistory" in doc["Direct Messages"]["Chat History"]
    assert "Block" in doc["App Settings"]
    assert "Tiktok Shopping" in doc


def test_g0_uses_video_link() -> None:
    _, doc = load(spec("G0"))
    record = doc["Activity"]["Video Browsing History"]["VideoList"][0]
    assert set(record) == {"Date", "VideoLink"}
    assert record["VideoLink"].startswith("https://www.tiktokv.com/share/video/")


def test_g3_splits_likes_and_profile_sections() -> None:
    _, doc = load(spec("G3"))
    assert {"Like List", "Favorite Videos", "Favorite Sounds"} <= doc["Likes and Favorites"].keys()
    assert {"Profile Info", "Follower", "Following", "Settings"} <= doc["Profile And Settings"].keys()
    assert "Like List" not in doc["Your Activity"]
    assert "Follower" not in doc["Your Activity"]
    link = doc["Your Activity"]["Watch History"]["VideoList"][0]["Link"]
    assert link.startswith("https://www.tiktok.com/@/video/")


def test_output_is_utf8_with_escapes_and_placeholders() -> None:
    buf = io.BytesIO()
    info = write_archive(UserSpec(open_id="u-0001", seed=3, size="small"), 1, "json", ["all_data"], buf)
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as zf:
        raw = zf.read(info.members[0])
    text = raw.decode("utf-8")
    assert '\\"' in text
    assert "\\\\" in text
    assert "😂" in text
    doc = json.loads(text)
    assert doc["Tiktok Live"]["Go Live History"]["GoLiveList"] is None
    assert doc["App Settings"]["Settings"]["SettingsMap"]["Web Language"] == "N/A"


@pytest.mark.parametrize(
    ("categories", "present", "absent"),
    [
        (("direct_message",), {"Direct Message"}, {"Your Activity", "Post", "Profile", "TikTok Shop"}),
        (("video",), {"Post"}, {"Your Activity", "Direct Message", "Profile"}),
        (("activity",), {"Your Activity", "Comment"}, {"Post", "Direct Message", "Profile", "Tiktok Live"}),
        (("profile",), {"Profile", "App Settings", "Your Activity"}, {"Post", "Comment", "Direct Message"}),
        (("video", "profile"), {"Post", "Profile"}, {"Direct Message", "Comment"}),
    ],
)
def test_categories_select_sections(categories: tuple[str, ...], present: set[str], absent: set[str]) -> None:
    _, doc = load(spec("G2"), categories=categories)
    assert present <= doc.keys()
    assert not absent & doc.keys()


def test_profile_category_in_g2_brings_only_the_social_part_of_your_activity() -> None:
    _, doc = load(spec("G2"), categories=("profile",))
    assert set(doc["Your Activity"]) == {"Follower", "Following"}


@pytest.mark.parametrize("generation", ["G1", "G2", "G3"])
def test_the_partial_layout_puts_comments_in_activity_and_follow_lists_under_profile(generation: str) -> None:
    buf = io.BytesIO()
    write_archive(spec(generation), 2, "json", ["profile", "activity"], buf, layout="partial")
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as zf:
        doc = json.loads(zf.read(zf.namelist()[0]))
    activity = doc["Activity" if generation == "G1" else "Your Activity"]
    assert "CommentsList" in activity["Comments"]
    assert "Comment" not in doc
    assert "FansList" in doc["Profile"]["Follower List"]
    assert "Following" in doc["Profile"]["Following List"]
    full = load(spec(generation), 2, ("profile", "activity"))[1]
    assert len(activity["Comments"]["CommentsList"]) == len(full["Comment"]["Comments"]["CommentsList"])


def test_an_unknown_layout_is_refused() -> None:
    with pytest.raises(ArchiveRequestError, match="layout='half'"):
        write_archive(spec("G2"), 1, "json", ["all_data"], io.BytesIO(), layout="half")
