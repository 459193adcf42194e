"""The streaming walker yields exactly what a full parse sees, whatever the slice size."""

from __future__ import annotations

import io
import json

import pytest

from tests.normalize.zips import ARCHIVES
from tiktok_portability.archive import JsonStream, MalformedJSONError


def rebuild(data: bytes, **kwargs) -> object:
    """Put the events back together into one document."""
    root: dict = {}
    for path, value, is_slice in JsonStream(io.BytesIO(data), archive="a.zip", member="m", **kwargs).events():
        if not path:
            return value
        node = root
        for key in path[:-1]:
            node = node.setdefault(key, {})
        if is_slice:
            node.setdefault(path[-1], []).extend(value)
        else:
            node[path[-1]] = value
    return root


@pytest.mark.parametrize("generation", ["G0", "G1", "G2", "G3"])
@pytest.mark.parametrize(("chunk", "whole"), [(16, 16), (64, 256), (1 << 20, 4 << 20)])
def test_events_reassemble_the_document(generation, chunk, whole):
    data = (ARCHIVES / "json" / f"{generation}.json").read_bytes()
    assert rebuild(data, chunk_size=chunk, whole_limit=whole) == json.loads(data)


def test_tricky_strings_survive_slicing():
    records = [{"Content": s} for s in ["}", "]", '"}, {"', "\\", "é😀", "}]}", "x" * 300]] * 5
    doc = {"Direct Message": {"Direct Messages": {"ChatHistory": {"Chat History with a:": records}}}}
    data = json.dumps(doc, ensure_ascii=False).encode()
    assert rebuild(data, chunk_size=7, whole_limit=8) == doc


def test_lists_of_scalars_and_nested_records():
    doc = {"A": {"B": [1, 2, [3, {"c": "}"}], None, "x"], "C": [{"n": {"deep": [1, {}]}}] * 20}}
    data = json.dumps(doc).encode()
    assert rebuild(data, chunk_size=5, whole_limit=8) == doc


def test_byte_order_mark_is_ignored():
    assert rebuild(b'\xef\xbb\xbf{"a": [1]}') == {"a": [1]}


def test_skip_builds_nothing_for_skipped_paths():
    data = json.dumps({"Big": {"L": list(range(100))}, "Keep": {"v": 1}}).encode()
    stream = JsonStream(
        io.BytesIO(data),
        archive="a",
        member="m",
        chunk_size=8,
        whole_limit=8,
        skip=lambda p: p[:1] == ("Big",),
    )
    assert [(p, v) for p, v, _ in stream.events()] == [(("Keep",), {"v": 1})]


@pytest.mark.parametrize("bad", [b'{"a": [1, 2', b'{"a" 1}', b'{"a": [1,, 2]}', b'{"a": 1} trailing', b""])
def test_malformed_documents_raise(bad):
    with pytest.raises(MalformedJSONError, match=r"archive 'a\.zip': member 'm'"):
        rebuild(bad, chunk_size=4, whole_limit=4)


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"])
@pytest.mark.parametrize("chunk", [4, 7, 64, 1 << 20])
@pytest.mark.parametrize(("bad", "at"), [('{"x": 1,, "y": 2}', 8), ('{"x" 1}', 5)])
def test_errors_name_the_offending_byte_of_the_file(bom, chunk, bad, at):
    items = ", ".join(json.dumps({"Date": f"2024-01-01 00:00:{i:02d}", "Link": "x" * i}) for i in range(40))
    data = bom + ('{"A": {"L": [' + items + ", " + bad + ', {"z": 1}]}}').encode()
    expected = data.index(bad.encode()) + at
    with pytest.raises(MalformedJSONError, match=rf"member 'm' at byte {expected}:"):
        rebuild(data, chunk_size=chunk, whole_limit=8)


@pytest.mark.parametrize("chunk", [3, 5, 16, 97, 1 << 20])
def test_brackets_written_into_the_buffer_do_not_leak_into_later_values(chunk):
    """Slices are decoded in place (``[`` and ``]`` written over neighbouring bytes, then put
    back): whatever the read boundaries, every later value must still see the bytes as read."""
    records = [{"Content": s, "n": i} for i, s in enumerate(["a", "]", "[", "},{", "x" * 50] * 30)]
    doc = {"L": records, "After": [[1], [2, [3]]], "S": ["]", "["], "Last": {"k": "]"}}
    assert rebuild(json.dumps(doc).encode(), chunk_size=chunk, whole_limit=8) == doc


def test_an_exact_decoder_ends_a_list_at_the_first_bracket_it_accepts():
    """A typed decoder's ``exact`` gets the list up to its first "]" and may refuse it (None);
    a refused candidate (the "]" sat in a string) goes through the usual end-finding path."""
    import msgspec

    seen: list[bytes] = []

    def exact(data):
        seen.append(bytes(data))
        try:
            return ("exact", msgspec.json.decode(data))
        except msgspec.DecodeError:
            return None

    def typed(path):
        def decode(data):
            return msgspec.json.decode(data)

        decode.exact = exact
        return decode

    doc = {"a": [{"t": "x]"}, {"t": "y"}], "b": [{"t": "z"}, {"t": "w"}], "c": 1}
    data = json.dumps(doc, indent=1).encode()
    events = list(
        JsonStream(
            io.BytesIO(data), archive="a.zip", member="m", chunk_size=4096, whole_limit=8, typed=typed
        ).events()
    )
    lists = {path: value for path, value, is_slice in events if is_slice}
    assert lists[("a",)] == [{"t": "x]"}, {"t": "y"}]  # the first "]" was in a string: refused
    assert lists[("b",)] == ("exact", [{"t": "z"}, {"t": "w"}])
    assert seen[0].endswith(b'"x]')
    assert all(s.startswith(b"[") and s.endswith(b"]") for s in seen[1:])
