"""The fixed-offset slice of shared-prefix links gives the regex's ids, whatever else is mixed in."""

from __future__ import annotations

import pyarrow as pa

from tiktok_portability.normalize.video_ids import regex_video_ids, video_ids

PREFIX = "https://www.tiktokv.com/share/video/"
ODD = [
    PREFIX + "7234567890123456789",
    PREFIX + "123",
    PREFIX,
    PREFIX + "abc/video/55",
    PREFIX + "12345678901234567890123",
    PREFIX + "9999999999999999999/",
    PREFIX + "9223372036854775807?lang=en",
    PREFIX + "\u0663\u0663/",
    PREFIX + "12\u00e9/",
    PREFIX + "123456789012345678\u00e9/",
    "https://www.tiktok.com/@a/video/7123456789012345678",
    "no link",
    "",
    None,
]
USUAL = [f"{PREFIX}{7_000_000_000_000_000_000 + i}/" for i in range(300)]


def same(values: list, kind: pa.DataType | None = None) -> None:
    arr = pa.array(values, kind or pa.string())
    assert video_ids(arr).to_pylist() == regex_video_ids(arr).to_pylist(), values[:3]


def test_shared_prefix_links_with_one_odd_value_anywhere():
    for odd in ODD:
        for at in (0, 5, 150, 299):
            same([*USUAL[:at], odd, *USUAL[at:]])
        same([odd] * 50)


def test_links_without_a_shared_prefix_and_text_among_them():
    text = ["ok", "h\u00e9llo \U0001f600", None, "https://example.com/page"] * 40
    mixed = [f"https://www.tiktok.com/@u{i}/video/{7_100_000_000_000_000_000 + i}" for i in range(100)]
    for odd in ODD:
        same([*text, odd, *USUAL[:50]])
        same([*mixed, odd, *text])


def test_slices_of_a_longer_array_and_large_strings():
    wide = [f"{PREFIX}\uff17{i}/" for i in range(100)]  # a full-width 7: not ASCII, not an id
    arr = pa.array([*wide, *USUAL, *wide], pa.string())
    for start, length in ((100, 300), (0, 400), (99, 102), (300, 200)):
        part = arr.slice(start, length)
        assert video_ids(part).to_pylist() == regex_video_ids(part).to_pylist(), (start, length)
    same([*USUAL, *ODD], pa.large_string())


def test_the_fast_path_gives_the_ids_of_plain_share_links():
    assert video_ids(pa.array(USUAL[:3])).to_pylist() == [7_000_000_000_000_000_000 + i for i in range(3)]
