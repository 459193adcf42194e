"""Every generation and both formats reproduce the synthetic generator's ground truth."""

from __future__ import annotations

import datetime as dt
import io
from collections import Counter

import pytest

from tests.normalize.test_json_generations import load
from tiktok_portability.synth import SyntheticUser, UserSpec, write_archive

CASES = [("json", "en_new", g) for g in ("G0", "G1", "G2", "G3")] + [
    ("text", variant, g) for variant in ("en_new", "en_old", "nl") for g in ("G1", "G3")
]


def utc(ts: dt.datetime) -> dt.datetime:
    return ts if ts.tzinfo else ts.replace(tzinfo=dt.UTC)


@pytest.fixture(scope="module", params=CASES, ids=lambda c: "-".join(c))
def case(request):
    data_format, variant, generation = request.param
    spec = UserSpec(open_id="u-1", seed=5, generation=generation, txt_variant=variant, size="tiny")
    buf = io.BytesIO()
    write_archive(spec, version=2, data_format=data_format, sink=buf)
    buf.seek(0)
    tables, report = load(buf, batch_rows=50)
    return SyntheticUser(spec).snapshot(2), tables, report


def test_row_counts_match(case):
    snap, _, report = case
    assert {t: report.rows.get(t, 0) for t in snap.counts()} == snap.counts()
    assert report.record_error_count == 0


def test_profile_matches(case):
    snap, tables, _ = case
    (profile,) = tables["profile"].to_pylist()
    assert profile["user_name"] == snap.profile.user_name


def test_watch_history_matches(case):
    snap, tables, _ = case
    got = Counter((r["watched_at"], r["link"]) for r in tables["watch_history"].to_pylist())
    assert got == Counter((utc(w.timestamp), w.link) for w in snap.watch_history)
    assert all(r["video_id"] for r in tables["watch_history"].to_pylist())


def test_social_graph_matches(case):
    snap, tables, _ = case
    for name in ("followers", "following", "blocked_users"):
        got = {r["user_name"] for r in tables[name].to_pylist()} if name in tables else set()
        assert got == {e.user_name for e in getattr(snap, name)}, name


def test_direct_messages_match(case):
    snap, tables, _ = case
    rows = tables["dm_messages"].to_pylist() if "dm_messages" in tables else []
    got = Counter((r["conversation"], r["sent_at"], r["sender"], r["content"]) for r in rows)
    want = Counter((m.partner, utc(m.timestamp), m.sender, m.text) for m in snap.dm_messages)
    assert got == want
    me = snap.profile.user_name
    assert all(r["direction"] == ("sent" if r["sender"] == me else "received") for r in rows)


def test_favorites_and_events_match(case):
    snap, tables, _ = case
    fav = Counter(
        (r["kind"], r["favorited_at"], r["name"] if r["kind"] == "collection" else r["link"])
        for r in (tables["favorites"].to_pylist() if "favorites" in tables else [])
    )
    assert fav == Counter((f.kind, utc(f.timestamp), f.value) for f in snap.favorites)
    search_rows = tables["searches"].to_pylist() if "searches" in tables else []
    searches = Counter((r["searched_at"], r["search_term"]) for r in search_rows)
    assert searches == Counter((utc(s.timestamp), s.term) for s in snap.searches)
    posts = (
        {(r["posted_at"], r["likes"]) for r in tables["posts"].to_pylist()} if "posts" in tables else set()
    )
    assert posts == {(utc(p.timestamp), p.likes) for p in snap.posts}
