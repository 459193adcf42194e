"""Hostile JSON: deep nesting and one huge value end in a clear error naming where, never a crash."""

from __future__ import annotations

import io
import json

import pytest

from tiktok_portability.archive import JsonStream, MalformedJSONError
from tiktok_portability.archive.errors import ValueTooLargeError
from tiktok_portability.lake.errors import InvalidIdentifier
from tiktok_portability.lake.keys import user_key


def events(data: bytes, **kwargs) -> list:
    return list(JsonStream(io.BytesIO(data), archive="a.zip", member="m.json", **kwargs).events())


def test_a_list_nested_100k_deep_is_malformed_json_naming_the_archive():
    data = b'{"Activity": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    with pytest.raises(MalformedJSONError, match=r"archive 'a\.zip': member 'm\.json'.*nests deeper"):
        events(data)


def test_objects_nested_past_the_depth_limit_are_refused_before_python_recursion():
    # Bigger than whole_limit, so the walker goes key by key, one level per generator.
    deep = b'{"k": ' * 200 + b'"' + b"x" * 2000 + b'"' + b"}" * 200
    with pytest.raises(MalformedJSONError, match="nest deeper than 64 levels"):
        events(deep, chunk_size=512, whole_limit=1024)


def test_one_value_past_the_cap_names_the_member_section_and_record():
    videos = [{"Date": f"2026-01-0{i} 10:00:00", "Link": "https://x/"} for i in range(1, 4)]
    videos.append({"Date": "2026-01-05 10:00:00", "Link": "y" * 300_000})
    data = json.dumps({"Activity": {"Video Browsing History": {"VideoList": videos}}}).encode()
    with pytest.raises(ValueTooLargeError) as err:
        events(data, chunk_size=4096, whole_limit=8192, max_value_bytes=100_000)
    message = str(err.value)
    assert "member 'm.json'" in message
    assert "section Activity/Video Browsing History/VideoList, record 3" in message
    assert "longer than 100,000 bytes" in message


def test_a_value_under_the_cap_is_read_whole():
    data = json.dumps({"Activity": {"List": [{"Link": "y" * 90_000}, {"Link": "z"}]}}).encode()
    got = [
        item
        for path, value, is_slice in events(data, chunk_size=4096, whole_limit=8192, max_value_bytes=100_000)
        for item in value
    ]
    assert [len(item["Link"]) for item in got] == [90_000, 1]


def test_an_open_id_with_a_lone_surrogate_is_an_invalid_identifier():
    with pytest.raises(InvalidIdentifier, match="lone surrogate"):
        user_key("abc\ud800")
