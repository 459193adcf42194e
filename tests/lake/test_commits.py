"""Commits are atomic and idempotent; one bad archive never fails or half-loads a batch."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.lake.conftest import JsonNormalizer, rows_of
from tiktok_portability.lake import CommitError, Lake, batch
from tiktok_portability.lake.batch import BatchStage
from tiktok_portability.lake.storage import TMP_PREFIX

WATCH = [("2026-01-01 10:00:00", "v1"), ("2026-01-01 10:00:01", "v2")]
FOLLOWERS = [["alice", "2025-12-01 00:00:00"]]


def put(lake: Lake, write_archive, open_id: str, request_id: int, doc: dict, day: str = "2026-01-01"):
    return lake.raw.put_archive(open_id, day, request_id, write_archive(doc))


def table_files(lake: Lake) -> dict[str, bytes]:
    return {
        k: lake.storage.get_bytes(k)
        for k in lake.storage.list("")
        if k.endswith(".parquet") and not k.startswith((TMP_PREFIX, "_state/"))
    }


def ledger_files(lake: Lake) -> dict[str, bytes]:
    return {k: lake.storage.get_bytes(k) for k in lake.storage.list("_state/")}


def test_rerunning_a_batch_leaves_byte_identical_files(lake: Lake, write_archive):
    refs = [
        put(
            lake,
            write_archive,
            "u1",
            1,
            {"watch": WATCH, "followers": FOLLOWERS, "profile": {"user_name": "a"}},
        ),
        put(lake, write_archive, "u2", 2, {"watch": WATCH}),
    ]
    first = lake.normalize_batch(refs, "2026-01-01")
    before, ledger = table_files(lake), ledger_files(lake)

    again = lake.normalize_batch(list(reversed(refs)), "2026-01-01")

    assert again.batch_id == first.batch_id
    assert again.rows == first.rows == {"watch_history": 4, "followers": 1, "profile": 1}
    assert table_files(lake) == before
    assert sorted(before) == sorted(first.files)
    # One ledger file per user for the date, rewritten byte for byte.
    assert ledger_files(lake) == ledger
    assert sorted(k.rsplit("/", 1)[1] for k in ledger) == ["2026-01-01.state.arrow"] * 2


def test_resyncing_one_user_on_a_date_replaces_their_rows_in_the_other_batch(lake: Lake, write_archive):
    batch = lake.normalize_batch(
        [
            put(lake, write_archive, "u1", 1, {"watch": WATCH}),
            put(lake, write_archive, "u2", 2, {"watch": WATCH}),
        ],
        "2026-01-01",
        batch_id="nightly-0",
    )
    more = [*WATCH, ("2026-01-01 23:00:00", "v3")]
    resync = lake.normalize_batch(
        [put(lake, write_archive, "u1", 3, {"watch": more})], "2026-01-01", "resync-u1"
    )

    assert sorted(resync.rewritten) == ["watch_history/snapshot_date=2026-01-01/batch-nightly-0.parquet"]
    assert [r["link"] for r in rows_of(lake, "watch_history", open_id="u1")] == ["v1", "v2", "v3"]
    assert [r["link"] for r in rows_of(lake, "watch_history", open_id="u2")] == ["v1", "v2"]
    assert batch.batch_id == "nightly-0"
    # Rebuilding the date keeps each user in the batch that holds them now.
    lake.reprocess("2026-01-01")
    assert len(rows_of(lake, "watch_history")) == 5


def test_a_bad_archive_is_reported_and_contributes_no_rows(lake: Lake, write_archive, tmp_path: Path):
    garbage = tmp_path / "garbage.zip"
    garbage.write_bytes(b"\x00not an archive")
    refs = [
        put(lake, write_archive, "good", 1, {"watch": WATCH}),
        put(lake, write_archive, "halfway", 2, {"watch": [*WATCH, *WATCH], "explode": True}),
        lake.raw.put_archive("garbage", "2026-01-01", 3, garbage),
    ]

    result = lake.normalize_batch(refs, "2026-01-01")

    assert result.loaded == [1]
    failures = {e.open_id: e for e in result.errors}
    assert set(failures) == {"halfway", "garbage"}
    assert "record 2 of watch history is not an object" in failures["halfway"].reason
    assert failures["garbage"].key == refs[2].key
    assert {r["open_id"] for r in rows_of(lake, "watch_history")} == {"good"}


def test_a_batch_whose_every_archive_is_bad_writes_no_table(local_lake: Lake, write_archive):
    ref = put(local_lake, write_archive, "u1", 1, {"watch": WATCH, "explode": True})

    result = local_lake.normalize_batch([ref], "2026-01-01")

    assert not result.ok
    assert local_lake.tables() == []


class Crash(BaseException):
    """Stands for the process dying (SIGKILL, OOM): not an Exception, nothing catches it."""


class CrashingNormalizer(JsonNormalizer):
    def normalize(self, path, ref, summary):
        yield from super().normalize(path, ref, summary)
        if ref.open_id == "u2":
            raise Crash


def test_a_crash_mid_batch_leaves_readers_on_the_previous_state(tmp_path: Path, write_archive):
    lake = Lake.from_uri(str(tmp_path / "lake"), normalizer=JsonNormalizer())
    refs = [
        put(lake, write_archive, "u1", 1, {"watch": WATCH}),
        put(lake, write_archive, "u2", 2, {"watch": WATCH}),
    ]
    lake.normalize_batch(refs, "2026-01-01", batch_id="b")
    before = table_files(lake)
    refs2 = [
        put(
            lake, write_archive, "u1", 3, {"watch": [*WATCH, ("2026-01-02 01:00:00", "v9")]}, day="2026-01-02"
        ),
        put(lake, write_archive, "u2", 4, {"watch": WATCH}, day="2026-01-02"),
    ]

    crashing = Lake(lake.storage, normalizer=CrashingNormalizer())
    with pytest.raises(Crash):
        crashing.normalize_batch(refs2, "2026-01-02", batch_id="b")
    with pytest.raises(Crash):
        crashing.normalize_batch(refs, "2026-01-01", batch_id="b")

    assert table_files(lake) == before
    assert not any(p.is_file() for p in (lake.storage.root / TMP_PREFIX).rglob("*"))


class FlakyPublish:
    """Wraps a storage so the n-th published file fails, like a network drop mid-commit."""

    def __init__(self, storage, fail_at: int) -> None:
        self._storage = storage
        self._left = fail_at

    def __getattr__(self, name):
        return getattr(self._storage, name)

    def put_file(self, key, path):
        self._left -= 1
        if self._left == 0:
            from tiktok_portability.lake.errors import StorageError

            raise StorageError(f"cannot upload {key}: connection reset")
        return self._storage.put_file(key, path)


def test_a_failure_mid_publish_shows_only_whole_files_and_a_retry_completes(lake: Lake, write_archive):
    doc = {"watch": WATCH, "followers": FOLLOWERS, "profile": {"user_name": "a"}}
    ref = put(lake, write_archive, "u1", 1, doc)
    flaky = Lake(FlakyPublish(lake.storage, fail_at=2), normalizer=JsonNormalizer())

    with pytest.raises(CommitError, match="connection reset"):
        flaky.normalize_batch([ref], "2026-01-01", batch_id="b")
    assert lake.storage.list("_commits") == []
    assert len(table_files(lake)) == 1  # the one file published before the failure, whole

    lake.normalize_batch([ref], "2026-01-01", batch_id="b")
    assert len(lake.storage.list("_commits")) == 1
    assert len(rows_of(lake, "watch_history")) == 2


def test_archives_of_another_date_and_superseded_requests_are_not_loaded(local_lake: Lake, write_archive):
    old = put(local_lake, write_archive, "u1", 1, {"watch": WATCH})
    new = put(local_lake, write_archive, "u1", 2, {"watch": WATCH[:1]})
    other_day = put(local_lake, write_archive, "u2", 3, {"watch": WATCH}, day="2026-01-05")

    result = local_lake.normalize_batch([old, new, other_day], "2026-01-01")

    assert result.loaded == [2]
    assert result.skipped == [1]
    assert [e.reason for e in result.errors] == ["archive is dated 2026-01-05, batch is 2026-01-01"]
    assert result.rows["watch_history"] == 1


def test_large_archives_spill_to_scratch_files_with_the_same_outcome(
    local_lake: Lake, write_archive, monkeypatch: pytest.MonkeyPatch
):
    from tiktok_portability.lake import batch

    monkeypatch.setattr(batch, "SPILL_BYTES", 0)
    good = put(local_lake, write_archive, "u1", 1, {"watch": WATCH * 3, "followers": FOLLOWERS})
    bad = put(local_lake, write_archive, "u2", 2, {"watch": WATCH * 3, "explode": True})

    result = local_lake.normalize_batch([good, bad], "2026-01-01")

    assert result.rows == {"watch_history": 6, "followers": 1}
    assert [e.open_id for e in result.errors] == ["u2"]


def test_a_first_archive_that_fails_after_writing_straight_in_leaves_no_row(lake: Lake, write_archive):
    # The first archive to give a table rows writes them into the batch's Parquet writer as it
    # goes; "a-halfway" sorts first and fails after its first watch batch.
    refs = [
        put(lake, write_archive, "a-halfway", 1, {"watch": [*WATCH, *WATCH], "explode": True}),
        put(lake, write_archive, "b-good", 2, {"watch": WATCH, "followers": FOLLOWERS}),
    ]

    result = lake.normalize_batch(refs, "2026-01-01")

    assert result.loaded == [2]
    assert [e.open_id for e in result.errors] == ["a-halfway"]
    assert {r["open_id"] for r in rows_of(lake, "watch_history")} == {"b-good"}
    assert len(rows_of(lake, "watch_history")) == len(WATCH)
    assert result.rows["watch_history"] == len(WATCH)


@pytest.mark.parametrize("spill", [False, True], ids=["staged-in-memory", "staged-in-scratch-files"])
def test_writing_straight_in_gives_the_same_files_as_staging(
    tmp_path: Path, write_archive, monkeypatch, spill: bool
):
    docs = [
        {"watch": WATCH, "followers": FOLLOWERS, "profile": {"user_name": "a"}},
        {"watch": [*WATCH, ("2026-01-01 11:00:00", "v3")], "explode": True},
        {"watch": [("2026-01-01 12:00:00", "v4"), *WATCH], "profile": {"user_name": "c"}},
    ]

    def build(name: str) -> dict[str, bytes]:
        lake = Lake.from_uri(str(tmp_path / name), normalizer=JsonNormalizer())
        refs = [put(lake, write_archive, f"u{n}", n, doc) for n, doc in enumerate(docs)]
        lake.normalize_batch(refs, "2026-01-01", batch_id="b")
        return table_files(lake)

    direct = build("direct")
    monkeypatch.setattr(BatchStage, "_direct_sink", lambda self, table: None)
    if spill:
        monkeypatch.setattr(batch, "SPILL_BYTES", 0)
    staged = build("staged")
    assert direct == staged
    assert any(k.startswith("watch_history/") for k in direct)


def test_the_biggest_archive_is_normalized_first(local_lake: Lake, write_archive):
    """It writes straight into the batch's empty files (encoding while it decodes); rows of the
    others follow in open_id order, the same on every run."""
    big = [(f"2026-01-01 10:00:{s:02d}", f"v{s}") for s in range(30)]
    refs = [
        put(local_lake, write_archive, "a-small", 1, {"watch": WATCH}),
        put(local_lake, write_archive, "b-small", 2, {"watch": WATCH}),
        put(local_lake, write_archive, "z-big", 3, {"watch": big}),
    ]
    local_lake.normalize_batch(refs, "2026-01-01")
    (key,) = [k for k in table_files(local_lake) if k.startswith("watch_history/")]
    with local_lake.storage.local_copy(key) as path:
        owners = pq.read_table(path, columns=["open_id"]).column("open_id").to_pylist()
    assert owners == ["z-big"] * 30 + ["a-small"] * 2 + ["b-small"] * 2
