"""TXT archives in the en_new, en_old and nl variants: paths, block format, DMs, localisation."""

from __future__ import annotations

import io
import zipfile

import pytest

from tiktok_portability.synth import SyntheticUser, UserSpec, write_archive
from tiktok_portability.synth.text_layout import VARIANTS, blocks


def load(variant: str, generation: str = "G2", categories: tuple[str, ...] = ("all_data",)) -> dict[str, str]:
    buf = io.BytesIO()
    spec = UserSpec(open_id="u-0001", seed=1, generation=generation, txt_variant=variant, size="tiny")
    info = write_archive(spec, 2, "text", list(categories), buf)
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as zf:
        assert zf.namelist() == info.members
        return {name: zf.read(name).decode("utf-8") for name in info.members}


def parse_blocks(text: str) -> list[dict[str, str]]:
    records = []
    for block in text.replace("\r\n", "\n").strip("\n").split("\n\n"):
        records.append(dict(line.split(": ", 1) for line in block.split("\n")))
    return records


def test_en_new_layout_paths_crlf_and_utc() -> None:
    files = load("en_new")
    root = "TikTok_Data_1767398400/TikTok/"
    for path in (
        "Your Activity/Watch History.txt",
        "Likes and Favourites/Like List.txt",
        "Profile and Settings/Following.txt",
        "Profile and Settings/Profile Information.txt",
        "Comments/Comments.txt",
        "Messages/Direct Messages.txt",
    ):
        assert root + path in files
    watch = files[root + "Your Activity/Watch History.txt"]
    assert "\r\n" in watch
    assert "\n" not in watch.replace("\r\n", "")
    records = parse_blocks(watch)
    snap = SyntheticUser(UserSpec(open_id="u-0001", seed=1, size="tiny")).snapshot(2)
    assert [(r["Date"], r["Link"]) for r in records] == [
        (e.timestamp.strftime("%Y-%m-%d %H:%M:%S UTC"), e.link) for e in snap.watch_history
    ]


def test_en_old_layout_has_no_utc_suffix_and_lf() -> None:
    files = load("en_old")
    assert "Tiktok/Activity/Browsing History.txt" in files
    assert "Tiktok/Profile/Profile Info.txt" in files
    watch = files["Tiktok/Activity/Browsing History.txt"]
    assert "\r" not in watch
    first = parse_blocks(watch)[0]
    assert not first["Date"].endswith("UTC")
    assert files["Tiktok/Profile/Profile Info.txt"].startswith("Username: ")


def test_en_old_g0_uses_video_link_key() -> None:
    files = load("en_old", generation="G0")
    assert set(parse_blocks(files["Tiktok/Activity/Browsing History.txt"])[0]) == {"Date", "Video Link"}


def test_nl_layout_is_localised() -> None:
    files = load("nl")
    root = "TikTok_Data_1767398400/TikTok/"
    assert root + "Je activiteit/Kijkgeschiedenis.txt" in files
    assert root + "Berichten/Directe berichten.txt" in files
    assert root + "Profiel/Profielinformatie.txt" in files
    record = parse_blocks(files[root + "Je activiteit/Zoekopdrachten.txt"])[0]
    assert set(record) == {"Datum", "Zoekterm"}
    assert files[root + "Berichten/Directe berichten.txt"].startswith(">>> Chatgeschiedenis met ")


def test_login_and_share_blocks_carry_every_field() -> None:
    files = load("en_new")
    root = "TikTok_Data_1767398400/TikTok/Your Activity/"
    assert set(parse_blocks(files[root + "Login History.txt"])[0]) == {
        "Date", "IP", "Device Model", "Device System", "Network Type", "Carrier",
    }  # fmt: skip
    assert set(parse_blocks(files[root + "Share History.txt"])[0]) == {
        "Date",
        "Shared Content",
        "Link",
        "Method",
    }


def test_direct_messages_follow_the_chat_history_format() -> None:
    text = load("en_new")["TikTok_Data_1767398400/TikTok/Messages/Direct Messages.txt"].replace("\r\n", "\n")
    snap = SyntheticUser(UserSpec(open_id="u-0001", seed=1, size="tiny")).snapshot(2)
    assert text.startswith(f">>> Chat History with {snap.conversations[0]}::\n\n")
    sections = text.split(">>> Chat History with ")[1:]
    assert len(sections) == len(snap.conversations)
    for partner, section in zip(snap.conversations, sections, strict=True):
        header, body = section.split("\n\n", 1)
        assert header == f"{partner}::"
        lines = [line for line in body.split("\n") if line]
        assert lines == [
            f"{m.timestamp:%Y-%m-%d %H:%M:%S} UTC {m.sender}: {m.text}" for m in snap.messages_with(partner)
        ]


@pytest.mark.parametrize("variant", ["en_new", "en_old", "nl"])
def test_empty_sections_hold_a_localised_no_data_sentence(variant: str) -> None:
    spec = VARIANTS[variant]
    assert "".join(blocks(spec, ("date", "link"), iter(()), lambda r: r)) == spec.no_data + spec.newline


def test_categories_select_files() -> None:
    files = load("en_new", categories=("direct_message",))
    assert list(files) == ["TikTok_Data_1767398400/TikTok/Messages/Direct Messages.txt"]
