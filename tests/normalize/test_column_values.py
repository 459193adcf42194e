"""Cleaning strings, parsing timestamps and taking video ids: one path for every slice size."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from tiktok_portability.normalize.columns import parse_timestamps, string_array
from tiktok_portability.normalize.video_ids import video_ids

PREFIX = "https://www.tiktokv.com/share/video/"
LINKS = {
    PREFIX + "7234567890123456789": 7234567890123456789,
    PREFIX + "123": 123,
    PREFIX: None,
    PREFIX + "abc/video/55": 55,  # the first /video/ followed by digits
    PREFIX + "12345678901234567890123": 1234567890123456789,  # at most 19 digits
    PREFIX + "9999999999999999999/": None,  # past int64: null, never wrapped
    PREFIX + "9223372036854775807?lang=en": 9223372036854775807,
    PREFIX + "\u0663\u0663/": None,  # Arabic-Indic digits are not an id
    PREFIX + "12\u00e9/": 12,
    "https://www.tiktok.com/@a/video/7123456789012345678": 7123456789012345678,
    "héllo /video/123/x": 123,
    "/VIDEO/1": None,
    "no link": None,
    "": None,
    None: None,
}
TIMES = {
    "2024-01-01 10:30:00": dt.datetime(2024, 1, 1, 10, 30),
    "2024-01-01T10:30:00": dt.datetime(2024, 1, 1, 10, 30),
    "2024-01-01 10:30:00 UTC": dt.datetime(2024, 1, 1, 10, 30),
    "2024-01-01T10:30:00Z": dt.datetime(2024, 1, 1, 10, 30),
    "2024-02-29 23:59:59": dt.datetime(2024, 2, 29, 23, 59, 59),
    "0001-01-01 00:00:00": dt.datetime(1, 1, 1),
    "2024-01-01T10:30+02": None,
    "2024-13-01 00:00:00": None,
    "2024-01-01 24:00:00": None,
    "2024/01/01 00:00:00": None,
    "2024-01-01 10:30": None,
    None: None,
}


@pytest.mark.parametrize("copies", [1, 1_000])
def test_video_ids_are_the_first_video_digits_that_fit_int64(copies):
    for link, want in LINKS.items():
        got = video_ids(pa.array([link] * copies, pa.string())).to_pylist()
        assert got == [want] * copies, link
    mixed = pa.array(list(LINKS) * copies, pa.string())
    assert video_ids(mixed).to_pylist() == list(LINKS.values()) * copies


def test_video_ids_of_large_strings_and_of_slices():
    values = list(LINKS) * 3
    assert video_ids(pa.array(values, pa.large_string())).to_pylist() == list(LINKS.values()) * 3
    part = pa.array(values, pa.string()).slice(len(LINKS) - 1, len(LINKS))
    assert video_ids(part).to_pylist() == [*list(LINKS.values())[-1:], *list(LINKS.values())[:-1]]


@pytest.mark.parametrize("copies", [1, 1_000])
def test_timestamps_plain_iso_or_utc_suffixed_parse_others_are_null(copies):
    utc = dt.UTC
    for raw, want in TIMES.items():
        got = parse_timestamps(pa.array([raw] * copies, pa.string())).to_pylist()
        assert got == [want.replace(tzinfo=utc) if want else None] * copies, raw


@pytest.mark.parametrize("copies", [1, 1_000])
def test_strings_are_trimmed_and_placeholders_become_null(copies):
    texts = [None, "", "  None ", "N/A", "null", "NULL", "\u3000wide space\u2003", "\x1cinfo sep\x1f"]
    texts += ["plain", "NULLS", " N/A/B", "\u00a0None", "\U0001f600 emoji \U0001f600", 42, True]
    want = [None] * 6 + [
        "wide space",
        "info sep",
        "plain",
        "NULLS",
        "N/A/B",
        None,
        "\U0001f600 emoji \U0001f600",
    ]
    want += ["42", "true"]
    assert string_array(texts * copies).to_pylist() == want * copies
    strings = pa.array(["  x", *[t for t in texts if not isinstance(t, int | bool)]] * copies, pa.string())
    assert string_array(strings.slice(1)).to_pylist()[: len(want) - 2] == want[:-2]
