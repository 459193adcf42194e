"""DuckDB reads every public table the real normalizer writes, with the documented glob and types."""

from __future__ import annotations

import duckdb
import pytest

from tiktok_portability.contract import PUBLIC_TABLES
from tiktok_portability.lake import Lake
from tiktok_portability.normalize import TABLES
from tiktok_portability.synth import UserSpec, write_archive


def test_the_cheap_table_list_dags_import_equals_the_schemas() -> None:
    assert list(PUBLIC_TABLES) == list(TABLES)


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    root = tmp_path_factory.mktemp("duckdb_every_table")
    lake = Lake.from_uri(str(root / "lake"))
    for night, day in enumerate(("2026-11-20", "2026-11-21"), start=1):
        refs = []
        for i, (generation, fmt) in enumerate((("G2", "json"), ("G3", "json"), ("G1", "text"))):
            spec = UserSpec(open_id=f"u-{i}", seed=i, generation=generation, size="small")
            path = root / f"{spec.open_id}-{night}.zip"
            write_archive(spec, version=night, data_format=fmt, categories=["all_data"], sink=path)
            refs.append(lake.raw.put_archive(spec.open_id, day, 1000 * night + i, path))
        result = lake.normalize_batch(refs, day)
        assert result.errors == []
    return lake


@pytest.mark.parametrize("table", PUBLIC_TABLES)
def test_every_table_reads_with_its_documented_columns(lake: Lake, table: str) -> None:
    con = duckdb.connect()
    relation = con.sql(f"select * from read_parquet('{lake.table_uri(table)}', hive_partitioning = true)")
    columns = dict(zip(relation.columns, relation.types, strict=True))
    for field in TABLES[table].schema:
        assert field.name in columns, f"{table}.{field.name} missing"
    assert str(columns["open_id"]) == "VARCHAR"
    assert str(columns["request_id"]) == "BIGINT"
    assert str(columns["snapshot_date"]) == "DATE"
    rows = relation.aggregate("count(*) as n, count(distinct open_id) as users").fetchall()[0]
    assert rows[0] > 0, f"{table} is empty"
    assert rows[1] == 3


def test_timestamps_are_utc(lake: Lake) -> None:
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    kind = con.sql(
        f"select typeof(watched_at) from read_parquet('{lake.table_uri('watch_history')}', "
        "hive_partitioning = true) limit 1"
    ).fetchall()[0][0]
    assert kind == "TIMESTAMP WITH TIME ZONE"
