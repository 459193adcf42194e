"""Shapes seen in real published exports (docs/archive-format.md): each is read, none is lost.

Every fixture is hand-written (tests/fixtures/archives/json/*.json and txt/deleted_partner).
"""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest

from tests.normalize.test_json_generations import CTX, load
from tests.normalize.zips import ARCHIVES, zip_json, zip_members, zip_txt
from tiktok_portability.archive import MalformedJSONError
from tiktok_portability.lake.normalizer import compact_report
from tiktok_portability.normalize import NormalizeContext, NormalizeReport, normalize_archive
from tiktok_portability.synth import SyntheticUser, UserSpec, write_archive


def rows(tables, name):
    return tables[name].to_pylist() if name in tables else []


# -- 1. partial exports place sections differently ---------------------------------------------


def test_comments_inside_activity_with_either_key_casing(tmp_path):
    tables, report = load(zip_json(tmp_path, "partial_activity"))
    comments = rows(tables, "comments")
    assert [c["comment"] for c in comments] == ["ha, same here", "where is this?", "lower-case keys too"]
    assert comments[0]["video_id"] == 7360000000000000011
    assert comments[0]["photo"] is None
    assert "Activity / Comments / CommentsList" not in report.unmapped_sections
    assert report.generation == "G1"


def test_comments_directly_under_comment(tmp_path):
    tables, report = load(zip_json(tmp_path, "partial_comment_flat"))
    assert [c["comment"] for c in rows(tables, "comments")] == ["first!", "saving this recipe"]
    assert report.generation == "partial"  # nothing in it names a generation


def test_follow_lists_under_the_profile(tmp_path):
    tables, report = load(zip_json(tmp_path, "partial_profile"))
    assert [r["user_name"] for r in rows(tables, "following")] == [
        "bakes.example",
        "kim_example",
        "lou.example",
    ]
    assert [r["user_name"] for r in rows(tables, "followers")] == ["river.example", "kim_example"]
    assert rows(tables, "profile")[0]["user_name"] == "partial_user_7"
    assert report.generation == "G1"  # `Profile Information` is G1's name


# -- 2. an empty list written as null / {} / "None" is present (test_accounting.py as well) ----


def test_a_null_list_is_present_and_empty_not_unmapped(tmp_path):
    doc = {"Your Activity": {"Follower": {"FansList": None}, "Following": {"Following": {}}}}
    path = zip_members(tmp_path, {"user_data_tiktok.json": json.dumps(doc).encode()})
    _, report = load(path)
    mapped = {s.path: s.table_name for s in report.sections if s.mapped}
    assert mapped["Your Activity / Follower / FansList"] == "followers"
    assert mapped["Your Activity / Following / Following"] == "following"
    assert report.unmapped_sections == [
        "Your Activity",
        "Your Activity / Follower",
        "Your Activity / Following",
    ]


# -- 6 and 9. TXT messages of a deleted partner; exact text -------------------------------------


def test_txt_messages_of_a_deleted_partner_are_all_kept(tmp_path):
    tables, report = load(zip_txt(tmp_path, "deleted_partner"))
    messages = rows(tables, "dm_messages")
    assert [(m["conversation"], m["sender"], m["content"]) for m in messages] == [
        (None, None, "are you still there?"),
        (None, "gone_user_3", "yes  "),  # trailing spaces are part of the text
        (None, None, "hello"),
        ("lou.example", "lou.example", "see you "),
        ("lou.example", "gone_user_3", "bye"),
    ]
    assert [m["direction"] for m in messages] == ["received", "sent", "received", "received", "sent"]
    assert report.record_error_count == 0


def test_json_messages_keep_their_spaces_and_a_nameless_conversation_is_null(tmp_path):
    doc = {
        "Direct Message": {
            "Direct Messages": {
                "ChatHistory": {
                    "Chat History with :": [{"Date": "2025-01-01 10:00:00", "From": "", "Content": " hi  "}]
                }
            }
        }
    }
    path = zip_members(tmp_path, {"user_data_tiktok.json": json.dumps(doc).encode()})
    tables, _ = load(path)
    (message,) = rows(tables, "dm_messages")
    assert (message["conversation"], message["sender"], message["content"]) == (None, None, " hi  ")


# -- 3. placeholder dates ------------------------------------------------------------------------


def _shares(dates: list[str]) -> bytes:
    items = [
        {
            "Date": d,
            "SharedContent": "video",
            "Link": "https://www.tiktokv.com/share/video/7470000000000000009/",
        }
        for d in dates
    ]
    return json.dumps({"Your Activity": {"Share History": {"ShareHistoryList": items}}}).encode()


def test_placeholder_dates_are_null_times_with_their_raw_text(tmp_path):
    dates = ["2025-03-02 10:00:40", "1969-12-31 23:59:59", "2025-03-01 09:00:00", "1969-12-31T23:59:59Z"]
    tables, report = load(zip_members(tmp_path, {"user_data_tiktok.json": _shares(dates)}))
    shares = rows(tables, "shares")
    assert [s["shared_at"] is None for s in shares] == [False, True, False, True]
    assert [s["shared_at_raw"] for s in shares] == dates
    assert report.record_error_count == 0  # a placeholder is not a parse failure
    # The two undated shares of the same link are told apart although they are not adjacent.
    assert [s["occurrence"] for s in shares] == [0, 0, 0, 1]


# -- 5. out of time order ------------------------------------------------------------------------


def test_occurrence_stays_unique_in_a_transcript_that_goes_back_in_time(tmp_path):
    said = [("2025-01-01 10:00:05", "ok"), ("2025-01-01 10:00:01", "hm"), ("2025-01-01 10:00:05", "ok")]
    messages = [{"Date": d, "From": "pat.example", "Content": c} for d, c in said]
    doc = {
        "Direct Message": {"Direct Messages": {"ChatHistory": {"Chat History with pat.example:": messages}}}
    }
    for batch_rows in (1, 2, 100):
        path = zip_members(
            tmp_path, {"user_data_tiktok.json": json.dumps(doc).encode()}, f"dm{batch_rows}.zip"
        )
        tables, _ = load(path, batch_rows=batch_rows)
        got = [(m["sent_at_raw"], m["content"], m["occurrence"]) for m in rows(tables, "dm_messages")]
        assert got == [
            ("2025-01-01 10:00:05", "ok", 0),
            ("2025-01-01 10:00:01", "hm", 0),
            ("2025-01-01 10:00:05", "ok", 1),
        ]


# -- 4. a JSON document written twice ------------------------------------------------------------


def test_a_document_written_twice_loads_once_and_says_so(tmp_path):
    tables, report = load(zip_json(tmp_path, "written_twice"))
    assert len(rows(tables, "watch_history")) == 2
    assert [s["search_term"] for s in rows(tables, "searches")] == ["bread oven"]
    one_copy = len((ARCHIVES / "json" / "written_twice.json").read_bytes().split(b"}{")[0]) + 1
    assert report.repeated_document_at == one_copy
    assert compact_report(report)["repeated_document_at"] == one_copy


def test_trailing_data_that_is_not_a_document_still_fails(tmp_path):
    path = zip_members(tmp_path, {"user_data_tiktok.json": b'{"Your Activity": {}} ]'})
    with pytest.raises(MalformedJSONError, match="trailing data"):
        load(path)


# -- 8. messages without a profile in the archive ------------------------------------------------


def test_messages_without_a_profile_take_the_name_the_lake_knows(tmp_path):
    messages = [
        {"Date": "2025-05-01 10:00:01", "From": "pat.example", "Content": "hi"},
        {"Date": "2025-05-01 10:00:00", "From": "dm_only_user", "Content": "hello"},
    ]
    doc = {
        "Direct Message": {"Direct Messages": {"ChatHistory": {"Chat History with pat.example:": messages}}}
    }
    path = zip_members(tmp_path, {"user_data_tiktok.json": json.dumps(doc).encode()})
    known = NormalizeContext(
        open_id="u-1", request_id=1, snapshot_date=dt.date(2026, 1, 1), known_user_name="dm_only_user"
    )
    for ctx, directions, source in ((known, ["received", "sent"], "lake"), (CTX, [None, None], None)):
        report = NormalizeReport()
        got = [
            d
            for name, batch in normalize_archive(path, ctx, report=report)
            if name == "dm_messages"
            for d in batch.column("direction").to_pylist()
        ]
        assert got == directions
        assert report.user_name_source == source


def test_the_generated_partial_layout_matches_its_ground_truth():
    for generation in ("G1", "G2", "G3"):
        spec = UserSpec(open_id="u-1", seed=3, generation=generation, size="tiny")
        buf = io.BytesIO()
        write_archive(spec, 2, "json", ["profile", "activity"], buf, layout="partial")
        buf.seek(0)
        tables, _ = load(buf)
        snap = SyntheticUser(spec).snapshot(2)
        for table in ("followers", "following", "comments"):
            assert len(rows(tables, table)) == snap.counts()[table], (generation, table)
