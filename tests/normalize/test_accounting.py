"""Nothing lost, by construction: every list item of an archive reaches a table.

For every hand-written fixture and every generated layout, the list items counted straight from
the archive's bytes (JSON lists anywhere outside the profile object; TXT blocks and DM lines)
equal the rows of the typed tables plus the rows of ``other_records``. Record errors are not a
third term: an item that is not a record is counted as an error and kept in ``other_records``, a
record with a bad date is counted and kept in its table with a null time. And a list that is
present but empty (``null``, ``{}``, ``"None"``, ``[]``) is reported as present, never absent.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path, PurePosixPath

import pytest

from tests.normalize.test_json_generations import load
from tests.normalize.zips import ARCHIVES, zip_json, zip_txt
from tiktok_portability.lake.normalizer import compact_report
from tiktok_portability.synth import UserSpec, write_archive

NOT_LIST_ROWS = {"profile", "sections_seen"}  # one object per export; the report of the export
EMPTY = (None, {}, [], "None", "N/A", "")
_DATE_LINE = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}")
PROFILE_FILES = {"profile info", "profile information", "profielinformatie"}


def _norm(key: str) -> str:
    return re.sub(r"[^0-9a-z]", "", key.casefold())


def _documents(text: str) -> object:
    """The first JSON document of a member (an export bug can write it twice)."""
    value, _ = json.JSONDecoder().raw_decode(text.lstrip("\ufeff"))
    return value


def _walk(node: object, path: tuple[str, ...], lists: dict, empties: list) -> None:
    if isinstance(node, list):
        lists[path] = len(node)  # items are records: not walked into
        return
    if not isinstance(node, dict):
        if node in EMPTY and path:
            empties.append(path)
        return
    if path and _norm(path[-1]) == "profilemap":
        return  # the profile: one object, one row of its own table
    if not node and path:
        empties.append(path)
    for key, child in node.items():
        _walk(child, (*path, key), lists, empties)


def _txt_items(text: str, stem: str) -> int:
    if _norm(stem) in {_norm(s) for s in PROFILE_FILES}:
        return 0
    lines = text.splitlines()
    if any(line.startswith(">>>") for line in lines):
        return sum(bool(_DATE_LINE.match(line)) for line in lines)
    blocks, current = 0, False
    for line in [*lines, ""]:
        if not line.strip():
            blocks += current
            current = False
        elif ": " in line or line.rstrip().endswith(":"):
            current = True
    return blocks


def archive_items(zip_path: Path | io.BytesIO) -> tuple[int, dict, list]:
    """(list items, {json path: items}, [json paths of present-but-empty values])."""
    lists: dict = {}
    empties: list = []
    total = 0
    with zipfile.ZipFile(zip_path) as zf:
        jsons = [n for n in zf.namelist() if n.endswith(".json")]
        if jsons:
            _walk(_documents(zf.read(jsons[0]).decode()), (), lists, empties)
            total = sum(lists.values())
        else:
            for name in zf.namelist():
                p = PurePosixPath(name)
                total += _txt_items(zf.read(name).decode("utf-8-sig"), p.stem)
    return total, lists, empties


def accounted(tables: dict, report) -> int:
    return sum(t.num_rows for name, t in tables.items() if name not in NOT_LIST_ROWS)


JSON_FIXTURES = sorted(p.stem for p in (ARCHIVES / "json").glob("*.json"))
TXT_FIXTURES = sorted(p.name for p in (ARCHIVES / "txt").iterdir() if p.is_dir())
GENERATED = (
    [("json", "en_new", g, ("all_data",), "full") for g in ("G0", "G1", "G2", "G3")]
    + [("text", v, g, ("all_data",), "full") for v in ("en_new", "en_old", "nl") for g in ("G1", "G3")]
    + [
        ("json", "en_new", g, (c,), lay)
        for g in ("G1", "G2", "G3")
        for c in ("profile", "activity")
        for lay in ("full", "partial")
    ]
    + [("json", "en_new", "G2", ("direct_message",), "full"), ("text", "en_new", "G3", ("activity",), "full")]
)


def _check(zip_path, tables, report) -> None:
    items, lists, empties = archive_items(zip_path)
    assert accounted(tables, report) == items, (report.rows, lists)
    # Every present list (empty or not) and every list-shaped empty value is somewhere in the report.
    shown = {s.path: s for s in report.sections}
    found: dict[str, int] = {}
    for path, n in lists.items():
        at = next((p for p in shown if _same(p, path)), None)
        assert at is not None, path
        assert shown[at].table_name is not None, path
        found[at] = found.get(at, 0) + n
    for at, n in found.items():  # data-valued keys ('*') gather several lists
        assert shown[at].records == n, at
    known_lists = {_norm(p[-1]) for p in lists} | LIST_KEYS
    for path in empties:
        if _norm(path[-1]) in known_lists:
            section = next((s for p, s in shown.items() if _same(p, path)), None)
            assert section is not None, ("absent", path)
            assert section.table_name is not None, ("absent", path)


def _same(shown: str, path: tuple[str, ...]) -> bool:
    parts = shown.split(" / ")
    return len(parts) == len(path) and all(a in ("*", b) for a, b in zip(parts, path, strict=True))


def _all_list_keys() -> set[str]:
    keys: set[str] = set()
    for p in (ARCHIVES / "json").glob("*.json"):
        lists: dict = {}
        _walk(_documents(p.read_text()), (), lists, [])
        keys |= {_norm(path[-1]) for path, n in lists.items() if n}
    return keys


LIST_KEYS = _all_list_keys()


@pytest.mark.parametrize("name", JSON_FIXTURES)
def test_every_item_of_a_json_fixture_is_accounted_for(tmp_path, name):
    path = zip_json(tmp_path, name)
    tables, report = load(path, batch_rows=2)
    _check(path, tables, report)


@pytest.mark.parametrize("variant", TXT_FIXTURES)
def test_every_item_of_a_txt_fixture_is_accounted_for(tmp_path, variant):
    path = zip_txt(tmp_path, variant)
    tables, report = load(path, batch_rows=2)
    _check(path, tables, report)


@pytest.mark.parametrize("case", GENERATED, ids=lambda c: "-".join((c[0], c[1], c[2], *c[3], c[4])))
def test_every_item_of_a_generated_layout_is_accounted_for(case):
    data_format, variant, generation, categories, layout = case
    spec = UserSpec(open_id="u-acc", seed=11, generation=generation, txt_variant=variant, size="tiny")
    buf = io.BytesIO()
    write_archive(spec, version=3, data_format=data_format, categories=categories, sink=buf, layout=layout)
    buf.seek(0)
    tables, report = load(buf, batch_rows=64)
    buf.seek(0)
    _check(buf, tables, report)


def test_present_but_empty_lists_are_present_tables(tmp_path):
    """`FansList: null`, `Following: {}`, `ItemFavoriteList: "None"`, `SearchList: []`: the lake
    must see these tables as present (so 3 followers then null are 3 unfollows)."""
    tables, report = load(zip_json(tmp_path, "empty_lists"))
    present = compact_report(report)["tables_present"]
    assert {"followers", "following", "likes", "searches"} <= set(present)
    assert not {"followers", "following", "likes", "searches"} & set(tables)
    lists = {
        "Your Activity / Follower / FansList",
        "Your Activity / Following / Following",
        "Your Activity / Like List / ItemFavoriteList",
    }
    assert not lists & set(report.unmapped_sections)


def test_items_of_unmapped_lists_are_kept_verbatim_in_other_records(tmp_path):
    tables, report = load(zip_json(tmp_path, "empty_lists"))
    other = tables["other_records"].to_pylist()
    by_section = {(r["section"], r["ordinal"]): json.loads(r["record"]) for r in other}
    assert by_section[("Your Activity / Status / Status List", 0)]["UID"] == 6900000000000000777
    assert by_section[("Tiktok Live / Watch Live History / WatchLiveMap / * / Comments", 0)] == {
        "CommentTime": "2025-05-05 20:11:40",
        "CommentContent": "hi all",
        "RawTime": 1746475900,
    }
    # A watch-history item that is not a record: counted as an error, and still kept.
    assert by_section[("Your Activity / Watch History / VideoList", 0)] == "not a record"
    assert report.record_error_count == 1
    assert [r["occurrence"] for r in other] == [0] * len(other)
