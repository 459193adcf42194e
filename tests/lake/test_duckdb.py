"""Analysts read every table with DuckDB's hive-partitioned globs; the documented queries work."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest

from tests.lake.conftest import JsonNormalizer
from tiktok_portability.lake import Lake

SNAPSHOTS = [
    ("2026-01-01", {"followers": [["alice", "2025-12-01 00:00:00"], ["bob", "2025-12-02 00:00:00"]]}),
    ("2026-01-02", {"followers": [["alice", "2025-12-01 00:00:00"]]}),
    ("2026-01-03", {"followers": [["alice", "2025-12-01 00:00:00"], ["carol", "2026-01-03 00:00:00"]]}),
]


@pytest.fixture
def loaded(tmp_path: Path, write_archive) -> Lake:
    lake = Lake.from_uri(str(tmp_path / "lake"), normalizer=JsonNormalizer())
    for i, (day, doc) in enumerate(SNAPSHOTS):
        doc = {**doc, "profile": {"user_name": "me", "follower_count": len(doc["followers"])}}
        doc["watch"] = [(f"{day} 10:00:00", f"v{i}")]
        lake.normalize_batch([lake.raw.put_archive("u1", day, i + 1, write_archive(doc))], day)
    # Debris of an interrupted commit must stay invisible to readers.
    tmp = lake.storage.root / "_tmp" / ".stage-x"
    tmp.mkdir(parents=True)
    (tmp / "watch_history.parquet").write_bytes(b"half-written")
    return lake


def scan(con, lake: Lake, table: str, select: str, rest: str = "") -> list[tuple]:
    return con.execute(
        f"select {select} from read_parquet('{lake.table_uri(table)}', hive_partitioning=true) {rest}"
    ).fetchall()


def test_every_table_reads_with_hive_partitioning(loaded: Lake):
    con = duckdb.connect()
    counts = {table: scan(con, loaded, table, "count(*)")[0][0] for table in loaded.tables()}
    assert counts == {"followers": 4, "profile": 3, "watch_history": 3}
    dates = scan(con, loaded, "profile", "distinct snapshot_date", "order by 1")
    assert [d for (d,) in dates] == [date(2026, 1, 1), date(2026, 1, 2), date(2026, 1, 3)]


def followers_on(con, lake: Lake, day: str) -> list[str]:
    rows = con.execute(
        f"""
        select user_name from (
            select user_name, change,
                   row_number() over (partition by open_id, user_name order by snapshot_date desc) as n
            from read_parquet('{lake.table_uri("followers")}', hive_partitioning=true)
            where open_id = ? and snapshot_date <= ?::date
        ) where n = 1 and change = 'follow' order by user_name
        """,
        ["u1", day],
    ).fetchall()
    return [r[0] for r in rows]


def test_documented_queries_answer_who_followed_and_unfollowed_when(loaded: Lake):
    con = duckdb.connect()
    assert followers_on(con, loaded, "2026-01-01") == ["alice", "bob"]
    assert followers_on(con, loaded, "2026-01-02") == ["alice"]
    assert followers_on(con, loaded, "2026-01-03") == ["alice", "carol"]
    unfollows = scan(
        con, loaded, "followers", "user_name, snapshot_date", "where change = 'unfollow' order by 2"
    )
    assert unfollows == [("bob", date(2026, 1, 2))]
