"""The TXT readers: values over continuation lines, in linear time, and a cap on one value."""

from __future__ import annotations

import io

import pytest

from tests.normalize.test_json_generations import CTX, load
from tests.normalize.zips import zip_members
from tiktok_portability.archive.errors import ValueTooLargeError
from tiktok_portability.archive.safezip import ArchiveLimits
from tiktok_portability.archive.txt import read_blocks, read_dm_transcript
from tiktok_portability.normalize import normalize_archive


def _blocks(text: str, **kw) -> list[dict]:
    return [r for chunk in read_blocks(io.BytesIO(text.encode()), "a.zip", "m.txt", **kw) for r in chunk]


def _dms(text: str, **kw) -> list[tuple[str, list[dict]]]:
    return list(read_dm_transcript(io.BytesIO(text.encode()), "a.zip", "dm.txt", **kw))


def test_continuation_lines_join_the_previous_value():
    got = _blocks("Date: 2026-01-01 10:00:00\nLink: a\nb\n c \n\nDate: 2026-01-02 10:00:00\nLink: d\n")
    assert got == [
        {"Date": "2026-01-01 10:00:00", "Link": "a\nb\nc"},
        {"Date": "2026-01-02 10:00:00", "Link": "d"},
    ]


def test_a_value_of_many_thousand_lines_is_whole():
    lines = [f"https://example.com/{i}" for i in range(200_000)]
    (record,) = _blocks("Date: 2026-01-01 10:00:00\nLink: " + "\n".join(lines) + "\n")
    assert record["Link"].split("\n") == lines


def test_dm_continuation_lines_stay_with_their_message_across_slices():
    text = ">>> Chat History with pat::\n"
    for i in range(5):
        text += f"2026-01-01 10:00:0{i} UTC pat: m{i}\nmore {i}\n"
    slices = _dms(text, chunk=2)
    messages = [m["Content"] for _, chunk in slices for m in chunk]
    assert messages == [f"m{i}\nmore {i}" for i in range(5)]
    assert {partner for partner, _ in slices} == {"pat"}


def test_a_line_longer_than_the_cap_names_the_archive_member_and_line():
    text = "Date: 2026-01-01 10:00:00\nLink: ok\n\nDate: 2026-01-02 10:00:00\nLink: " + "x" * 5000 + "\n"
    with pytest.raises(ValueTooLargeError) as err:
        _blocks(text, max_value_bytes=4096)
    message = str(err.value)
    assert "'a.zip'" in message
    assert "'m.txt'" in message
    assert "line 5" in message
    assert "4,096 characters" in message


def test_continuation_lines_cannot_build_a_value_past_the_cap():
    text = "Date: 2026-01-01 10:00:00\nLink: start\n" + ("y" * 100 + "\n") * 100
    assert len(_blocks(text, max_value_bytes=20_000)[0]["Link"]) == 5 + 101 * 100
    with pytest.raises(ValueTooLargeError, match="line 2 is longer than 5,000"):
        _blocks(text, max_value_bytes=5_000)
    dm = ">>> Chat History with pat::\n2026-01-01 10:00:00 UTC pat: hi\n" + ("z" * 100 + "\n") * 100
    with pytest.raises(ValueTooLargeError, match=r"'dm\.txt': the value at line 2"):
        _dms(dm, max_value_bytes=5_000)


def test_a_value_right_at_the_cap_is_read():
    value = "v" * (4096 - len("Link: "))
    assert _blocks(f"Link: {value}\n", max_value_bytes=4096) == [{"Link": value}]
    assert _blocks(f"Link: {value}", max_value_bytes=4096) == [{"Link": value}]


def test_the_normalizer_applies_the_archives_value_cap(tmp_path):
    members = {
        "TikTok/Activity/Watch History.txt": b"Date: 2026-01-01 10:00:00 UTC\nLink: " + b"x" * 10_000 + b"\n",
    }
    path = zip_members(tmp_path, members)
    tables, _ = load(path)
    assert tables["watch_history"].num_rows == 1
    with pytest.raises(ValueTooLargeError, match=r"Watch History\.txt"):
        for _ in normalize_archive(path, CTX, limits=ArchiveLimits(max_value_bytes=1_000)):
            pass


def test_nul_characters_are_removed_and_counted(tmp_path):
    seen: list[int] = []
    got = _blocks("Date: 2026-01-01 10:00:00\nLink: a\x00b\x00\n", on_nul=seen.append)
    assert got == [{"Date": "2026-01-01 10:00:00", "Link": "ab"}]
    assert seen == [2]
    members = {
        "TikTok/Activity/Watch History.txt": b"Date: 2026-01-01 10:00:00 UTC\nLink: https://x/\x00\n",
        "TikTok/Direct Messages/Direct Messages.txt": b">>> Chat History with pat::\n"
        b"2026-01-01 10:00:00 UTC pat: h\x00i\x00\n",
    }
    tables, report = load(zip_members(tmp_path, members))
    assert tables["watch_history"].column("link").to_pylist() == ["https://x/"]
    assert tables["dm_messages"].column("content").to_pylist() == ["hi"]
    assert report.nul_chars_removed == 3
