"""Nightly full snapshots become incremental tables: each event once, follower history kept."""

from __future__ import annotations

from datetime import date

from tests.lake.conftest import follower_changes, rows_of, ts
from tiktok_portability.lake import Lake

DAY1 = [("2026-01-01 10:00:00", "v1"), ("2026-01-01 10:00:00", "v1"), ("2026-01-01 10:00:05", "v2")]
# Same second as the day-1 watermark but a different video; then a genuinely later event.
DAY2 = [*DAY1, ("2026-01-01 10:00:05", "v3"), ("2026-01-02 08:00:00", "v4")]
# v4 again in the very same second (the normalizer gives it occurrence 1), then a later one.
DAY3 = [*DAY2, ("2026-01-02 08:00:00", "v4"), ("2026-01-03 07:00:00", "v5")]

SNAPSHOTS = [
    (
        "2026-01-01",
        101,
        {"watch": DAY1, "followers": [["alice", "2025-12-01 00:00:00"], ["bob", "2025-12-02 00:00:00"]]},
    ),
    (
        "2026-01-02",
        102,
        {"watch": DAY2, "followers": [["alice", "2025-12-01 00:00:00"], ["carol", "2026-01-02 01:00:00"]]},
    ),
    (
        "2026-01-03",
        103,
        {
            "watch": DAY3,
            "followers": [
                ["alice", "2025-12-01 00:00:00"],
                ["carol", "2026-01-02 01:00:00"],
                ["bob", "2026-01-03 02:00:00"],
            ],
        },
    ),
]


def load(lake: Lake, write_archive, open_id: str, day: str, request_id: int, doc: dict, batch_id=None):
    ref = lake.raw.put_archive(open_id, day, request_id, write_archive(doc))
    return lake.normalize_batch([ref], day, batch_id=batch_id)


def test_three_growing_snapshots_store_every_event_exactly_once(lake: Lake, write_archive):
    results = [
        load(lake, write_archive, "u1", day, rid, {"profile": {"user_name": "me"}, **doc})
        for day, rid, doc in SNAPSHOTS
    ]

    assert [r.rows["watch_history"] for r in results] == [3, 2, 2]
    watched = [
        (r["watched_at"], r["link"], r["occurrence"], r["snapshot_date"])
        for r in rows_of(lake, "watch_history")
    ]
    assert sorted(watched) == [
        (ts("2026-01-01 10:00:00"), "v1", 0, date(2026, 1, 1)),
        (ts("2026-01-01 10:00:00"), "v1", 1, date(2026, 1, 1)),
        (ts("2026-01-01 10:00:05"), "v2", 0, date(2026, 1, 1)),
        (ts("2026-01-01 10:00:05"), "v3", 0, date(2026, 1, 2)),
        (ts("2026-01-02 08:00:00"), "v4", 0, date(2026, 1, 2)),
        (ts("2026-01-02 08:00:00"), "v4", 1, date(2026, 1, 3)),
        (ts("2026-01-03 07:00:00"), "v5", 0, date(2026, 1, 3)),
    ]


def test_followers_are_a_change_log_with_unfollows_and_refollows(lake: Lake, write_archive):
    for day, rid, doc in SNAPSHOTS:
        load(lake, write_archive, "u1", day, rid, doc)

    changes = follower_changes(lake)
    assert changes == [
        ("2026-01-01", "alice", "follow"),
        ("2026-01-01", "bob", "follow"),
        ("2026-01-02", "bob", "unfollow"),
        ("2026-01-02", "carol", "follow"),
        ("2026-01-03", "bob", "follow"),
    ]
    unfollow = next(r for r in rows_of(lake, "followers") if r["change"] == "unfollow")
    assert unfollow["followed_at"] == ts("2025-12-02 00:00:00")


def test_profile_keeps_one_row_per_snapshot_date(lake: Lake, write_archive):
    for i, (day, rid, doc) in enumerate(SNAPSHOTS):
        load(
            lake, write_archive, "u1", day, rid, {**doc, "profile": {"user_name": "me", "follower_count": i}}
        )

    assert [(str(r["snapshot_date"]), r["follower_count"]) for r in rows_of(lake, "profile")] == [
        ("2026-01-01", 0),
        ("2026-01-02", 1),
        ("2026-01-03", 2),
    ]


def test_a_snapshot_without_the_followers_section_changes_nothing(local_lake: Lake, write_archive):
    load(local_lake, write_archive, "u1", "2026-01-01", 1, SNAPSHOTS[0][2])
    load(local_lake, write_archive, "u1", "2026-01-02", 2, {"watch": DAY2})  # e.g. an activity-only grant
    load(local_lake, write_archive, "u1", "2026-01-03", 3, {"followers": [["alice", "2025-12-01 00:00:00"]]})

    assert follower_changes(local_lake) == [
        ("2026-01-01", "alice", "follow"),
        ("2026-01-01", "bob", "follow"),
        ("2026-01-03", "bob", "unfollow"),
    ]


def test_a_missing_section_carries_the_event_watermark_forward(local_lake: Lake, write_archive):
    load(local_lake, write_archive, "u1", "2026-01-01", 1, {"watch": DAY1})
    load(local_lake, write_archive, "u1", "2026-01-02", 2, {"profile": {"user_name": "me"}})
    third = load(local_lake, write_archive, "u1", "2026-01-03", 3, {"watch": DAY2})

    assert third.rows["watch_history"] == 2
    assert len(rows_of(local_lake, "watch_history")) == 5


def test_events_without_a_parseable_time_are_matched_by_key(local_lake: Lake, write_archive):
    first = load(local_lake, write_archive, "u1", "2026-01-01", 1, {"watch": [[None, "x1"], *DAY1]})
    second = load(
        local_lake, write_archive, "u1", "2026-01-02", 2, {"watch": [[None, "x1"], [None, "x2"], *DAY1]}
    )

    assert (first.rows["watch_history"], second.rows["watch_history"]) == (4, 1)
    assert sorted(r["link"] for r in rows_of(local_lake, "watch_history", watched_at=None)) == ["x1", "x2"]


def test_reprocessing_a_past_date_reproduces_its_rows_without_duplicates(local_lake: Lake, write_archive):
    for day, rid, doc in SNAPSHOTS:
        load(local_lake, write_archive, "u1", day, rid, doc)
    before = rows_of(local_lake, "watch_history")

    results = local_lake.reprocess("2026-01-02")

    assert [r.rows["watch_history"] for r in results] == [2]
    assert rows_of(local_lake, "watch_history") == before
