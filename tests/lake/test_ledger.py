"""The per-user ledger: a commit reads only its own users' state, whatever else the lake holds."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from tests.fixtures.recording_storage import RecordingStorage
from tests.lake.conftest import FOLLOWERS, SPECS, JsonNormalizer, follower_changes, rows_of
from tiktok_portability.lake import Lake, summarize
from tiktok_portability.lake.ledger import COMPRESS_FROM_BYTES, read_state, set_of, user_prefix, write_state
from tiktok_portability.lake.storage import LocalStorage

DAYS = ("2026-01-01", "2026-01-02", "2026-01-03", "2026-01-04")


def doc(day_index: int) -> dict:
    """The full export on night ``day_index``: one more watch event each night, same follower."""
    watch = [(f"2026-01-0{d + 1} 10:00:00", f"v{d}") for d in range(day_index + 1)]
    return {"watch": watch, "followers": [["alice", "2025-12-01 00:00:00"]]}


def test_a_commit_reads_only_its_own_users_state(local_lake: Lake, write_archive):
    """Other batches and earlier dates add files to the lake, not reads to a batch."""
    for n, day in enumerate(DAYS[:3]):
        for b in range(6):  # six other batches of two users every night
            refs = [
                local_lake.raw.put_archive(
                    f"other-{b}-{i}", day, 100 * b + i + 1000 * n, write_archive(doc(n))
                )
                for i in range(2)
            ]
            local_lake.normalize_batch(refs, day, batch_id=f"night-{b}")
        me = local_lake.raw.put_archive("me", day, 9000 + n, write_archive(doc(n)))
        local_lake.normalize_batch([me], day, batch_id="mine")
    recording = RecordingStorage(local_lake.storage)
    lake = Lake(recording, normalizer=JsonNormalizer())
    ref = lake.raw.put_archive("me", DAYS[3], 9003, write_archive(doc(3)))
    recording.reads.clear()

    result = lake.normalize_batch([ref], DAYS[3], batch_id="mine")

    assert result.rows == {"watch_history": 1}
    mine = user_prefix("me")
    allowed = (mine, f"raw/snapshot_date={DAYS[3]}/user=", f"_commits/snapshot_date={DAYS[3]}/batch-mine")
    assert [k for k in recording.reads if not k.startswith(allowed)] == []
    # One listing of the user's ledger, its newest state and set, the archive, the own manifest.
    assert len(recording.reads) <= 9


def test_incremental_state_comes_from_the_ledger_across_dates(lake: Lake, write_archive):
    for n, day in enumerate(DAYS):
        lake.normalize_batch([lake.raw.put_archive("u", day, n + 1, write_archive(doc(n)))], day)

    assert [r["link"] for r in rows_of(lake, "watch_history")] == ["v0", "v1", "v2", "v3"]
    changes = follower_changes(lake)
    assert changes == [("2026-01-01", "alice", "follow")]
    keys = lake.storage.list(user_prefix("u"))
    assert [k.rsplit("/", 1)[1] for k in keys] == [f"{d}.state.arrow" for d in DAYS]
    # The follower set is stored on the date it changed; later files point back to it.
    docs = [read_state(lake.storage, k) for k in keys]
    assert [d["sets_at"] for d, _ in docs] == [{"followers": DAYS[0]}] * 4
    held = [set_of(t, "followers", FOLLOWERS) for _, t in docs]
    assert held[0].column("user_name").to_pylist() == ["alice"]
    assert held[1:] == [None, None, None]
    assert docs[-1][0]["watermarks"]["watch_history"]["keys_at_max"]


def test_unfollowed_by_everyone_then_followed_again(lake: Lake, write_archive):
    sets = [["alice", "bob"], [], ["alice"]]
    for n, names in enumerate(sets):
        followers = [[name, "2025-12-01 00:00:00"] for name in names]
        ref = lake.raw.put_archive("u", DAYS[n], n + 1, write_archive({"followers": followers}))
        lake.normalize_batch([ref], DAYS[n])

    changes = follower_changes(lake)
    assert changes == [
        ("2026-01-01", "alice", "follow"),
        ("2026-01-01", "bob", "follow"),
        ("2026-01-02", "alice", "unfollow"),
        ("2026-01-02", "bob", "unfollow"),
        ("2026-01-03", "alice", "follow"),
    ]


def test_a_retry_that_loses_a_user_drops_their_state_for_the_date(local_lake: Lake, write_archive, tmp_path):
    lake = local_lake
    watch = {"watch": [("2026-01-01 10:00:00", "v1")]}
    good = [lake.raw.put_archive(u, DAYS[0], i + 1, write_archive(watch)) for i, u in enumerate(("u1", "u2"))]
    lake.normalize_batch(good, DAYS[0], batch_id="night")
    assert lake.storage.list(user_prefix("u2"))

    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    broken = lake.raw.put_archive("u2", DAYS[0], 7, garbage)
    result = lake.normalize_batch([good[0], broken], DAYS[0], batch_id="night")

    assert [e.open_id for e in result.errors] == ["u2"]
    assert rows_of(lake, "watch_history", open_id="u2") == []
    assert lake.storage.list(user_prefix("u2")) == []
    # So the next night loads u2's events as new instead of skipping them.
    nxt = lake.raw.put_archive("u2", DAYS[1], 8, write_archive(watch))
    lake.normalize_batch([nxt], DAYS[1])
    assert [r["link"] for r in rows_of(lake, "watch_history", open_id="u2")] == ["v1"]


def test_rebuilding_a_date_without_a_section_drops_its_set(local_lake: Lake, write_archive):
    lake = local_lake
    with_followers = lake.raw.put_archive("u", DAYS[0], 1, write_archive(doc(0)))
    lake.normalize_batch([with_followers], DAYS[0], batch_id="night")
    (key,) = lake.storage.list(user_prefix("u"))
    assert set_of(read_state(lake.storage, key)[1], "followers", FOLLOWERS) is not None

    without = lake.raw.put_archive("u", DAYS[0], 2, write_archive({"watch": doc(0)["watch"]}))
    lake.normalize_batch([without], DAYS[0], batch_id="night")

    assert lake.storage.list(user_prefix("u")) == [key]
    state, row = read_state(lake.storage, key)
    assert (state["sets_at"], set_of(row, "followers", FOLLOWERS)) == ({}, None)
    # The next night starts the follower log afresh instead of diffing against a stale set.
    nxt = lake.raw.put_archive("u", DAYS[1], 3, write_archive(doc(1)))
    lake.normalize_batch([nxt], DAYS[1])
    assert [(r["user_name"], r["change"]) for r in rows_of(lake, "followers", open_id="u")] == [
        ("alice", "follow")
    ]


def test_follower_changes_match_a_set_model_over_random_nights(local_lake: Lake, write_archive):
    """Random exports (section present or absent, any subset), retries and same-night rebuilds:
    the change log always equals the differences between consecutive known sets."""
    import random

    rng = random.Random(20261123)
    lake = local_lake
    names = ["ana", "ben", "cy", "dee", "eli", "fay"]
    known: set[str] | None = None
    expected = []
    for night in range(10):
        day = f"2026-02-{night + 1:02d}"
        present = rng.random() > 0.25
        chosen = sorted(rng.sample(names, rng.randint(0, len(names)))) if present else None
        archive = {"watch": [(f"{day} 10:00:00", f"v{night}")]}
        if chosen is not None:
            archive["followers"] = [[n, "2025-12-01 00:00:00"] for n in chosen]
        ref = lake.raw.put_archive("u", day, night + 1, write_archive(archive))
        for _ in range(rng.choice((1, 1, 2))):  # sometimes a retried (cleared) batch
            lake.normalize_batch([ref], day, batch_id="nightly")
        if rng.random() < 0.2:
            lake.reprocess(day)  # an operator's rebuild of the newest date
        if chosen is not None:
            now = set(chosen)
            before = known or set()
            expected += [(day, n, "follow") for n in sorted(now - before)]
            expected += [(day, n, "unfollow") for n in sorted(before - now)]
            known = now
    got = follower_changes(lake)
    assert got == sorted(expected)
    assert [r["link"] for r in rows_of(lake, "watch_history")] == [f"v{n}" for n in range(10)]


class WithoutFollowers(JsonNormalizer):
    """A normalizer version that no longer maps followers: its rebuilds change the state."""

    def normalize(self, path, ref, summary):
        return ((t, b) for t, b in super().normalize(path, ref, summary) if t != "followers")


def test_rebuilding_a_past_date_names_the_later_dates_it_made_stale(local_lake: Lake, write_archive):
    for n, day in enumerate(DAYS[:3]):
        local_lake.normalize_batch([local_lake.raw.put_archive("u", day, n + 1, write_archive(doc(n)))], day)
    watch = rows_of(local_lake, "watch_history")

    (same,) = local_lake.reprocess(DAYS[0])
    assert same.later_dates_stale == []  # same normalizer, same state: nothing downstream moves

    upgraded = Lake(local_lake.storage, normalizer=WithoutFollowers())
    (changed,) = upgraded.reprocess(DAYS[0])
    assert changed.later_dates_stale == [DAYS[1], DAYS[2]]
    assert summarize([changed])["later_dates_stale"] == [DAYS[1], DAYS[2]]

    results = upgraded.reprocess(DAYS[0], and_later=True)
    assert [r.snapshot_date for r in results] == list(DAYS[:3])
    assert [r.later_dates_stale for r in results] == [[], [], []]
    assert rows_of(upgraded, "followers") == []
    assert rows_of(upgraded, "watch_history") == watch
    later = [read_state(upgraded.storage, k)[0]["sets_at"] for k in upgraded.storage.list(user_prefix("u"))]
    assert later == [{}, {}, {}]


def _followers(count: int) -> pa.Table:
    return pa.table(
        {
            "open_id": ["u"] * count,
            "request_id": [7] * count,
            "snapshot_date": [dt.date(2026, 1, 1)] * count,
            "user_name": [f"follower_{i:06d}" for i in range(count)],
            "followed_at": [dt.datetime(2025, 1, 1, tzinfo=dt.UTC)] * count,
        },
        schema=FOLLOWERS.schema,
    )


@pytest.mark.parametrize("count", [3, 20_000])
def test_ledger_files_read_back_whether_compressed_or_not(tmp_path, count):
    """Small files are written plain (zstd made them bigger and slower), big ones compressed."""
    storage = LocalStorage(tmp_path)
    followers = _followers(count)
    write_state(
        tmp_path / "u.state.arrow",
        SPECS,
        batch_id="b1",
        watermarks=[],
        changed_sets={"followers": followers},
        sets_at={"followers": "2026-01-01"},
    )
    doc, row = read_state(storage, "u.state.arrow")
    assert doc["batch_id"] == "b1"
    assert set_of(row, "followers", FOLLOWERS).equals(followers)
    size = (tmp_path / "u.state.arrow").stat().st_size
    raw = followers.get_total_buffer_size()
    if raw >= COMPRESS_FROM_BYTES:
        assert size < raw / 4  # repetitive names and dates: zstd pays here
    else:
        assert size > raw  # plain buffers, plus the schema and footer
