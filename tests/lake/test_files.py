"""ParquetSink: row groups written on a background thread, same bytes, errors not swallowed."""

from __future__ import annotations

import contextlib

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tiktok_portability.lake import files
from tiktok_portability.lake.files import MAX_QUEUED, ParquetSink, close_all, dictionary_columns, write_table
from tiktok_portability.normalize import TABLES

SCHEMA = pa.schema([("n", pa.int64()), ("text", pa.string()), ("link", pa.string())])


def batches(count: int, rows: int) -> list[pa.RecordBatch]:
    out = []
    for b in range(count):
        start = b * rows
        out.append(
            pa.record_batch(
                [
                    pa.array(range(start, start + rows), pa.int64()),
                    pa.array([f"t{i % 7}" for i in range(start, start + rows)]),
                    pa.array([f"https://x/video/{i}" for i in range(start, start + rows)]),
                ],
                schema=SCHEMA,
            )
        )
    return out


def test_background_row_groups_keep_order_and_match_a_single_write(tmp_path):
    sink = ParquetSink(tmp_path / "a.parquet", SCHEMA, row_group_rows=100)
    for batch in batches(25, 37):
        sink.write(batch)
    assert sink.close() == tmp_path / "a.parquet"
    assert sink.rows == 25 * 37
    table = pq.read_table(tmp_path / "a.parquet")
    assert table.column("n").to_pylist() == list(range(25 * 37))
    assert pq.ParquetFile(tmp_path / "a.parquet").metadata.num_row_groups > 5

    again = ParquetSink(tmp_path / "b.parquet", SCHEMA, row_group_rows=100)
    for batch in batches(25, 37):
        again.write(batch)
    again.close()
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()


def test_a_failed_background_write_is_raised(tmp_path):
    (tmp_path / "taken").write_text("a file where the sink wants a folder")
    sink = ParquetSink(tmp_path / "taken" / "a.parquet", SCHEMA, row_group_rows=10)
    # Each batch is a full row group, written (and failing) on the writer thread. The failure is
    # raised by a later write (at the latest the one that finds the queue full), never lost.
    raised: list[FileExistsError] = []
    for batch in batches(MAX_QUEUED + 1, 10):
        try:
            sink.write(batch)
        except FileExistsError as exc:
            raised.append(exc)
            break
    assert len(raised) == 1
    assert "taken" in str(raised[0])
    alone = ParquetSink(tmp_path / "taken" / "b.parquet", SCHEMA, row_group_rows=10)
    alone.write(batches(1, 10)[0])
    with pytest.raises(FileExistsError, match="taken"):
        alone.close()


def test_close_all_writes_every_sinks_last_rows(tmp_path):
    sinks = [ParquetSink(tmp_path / f"{n}.parquet", SCHEMA, row_group_rows=10) for n in range(3)]
    for n, sink in enumerate(sinks):
        for batch in batches(n + 1, 7):
            sink.write(batch)
    paths = close_all(sinks)
    assert paths == [tmp_path / f"{n}.parquet" for n in range(3)]
    assert [pq.read_metadata(p).num_rows for p in paths] == [7, 14, 21]
    assert close_all([ParquetSink(tmp_path / "empty.parquet", SCHEMA)]) == [None]


def test_no_rows_no_file(tmp_path):
    assert ParquetSink(tmp_path / "none.parquet", SCHEMA).close() is None
    assert not (tmp_path / "none.parquet").exists()
    assert write_table(tmp_path / "one.parquet", pa.Table.from_batches(batches(1, 3))) is not None


def test_dictionaries_only_for_text_that_repeats():
    assert dictionary_columns(SCHEMA) == ["text"]
    watch = dictionary_columns(TABLES["watch_history"].schema)
    assert "open_id" in watch
    assert "snapshot_date" in watch
    assert "request_id" in watch  # one value per archive
    assert not {"link", "watched_at", "watched_at_raw", "video_id"} & set(watch)


def test_close_all_closes_every_sink_before_raising_the_first_failure(tmp_path):
    (tmp_path / "taken").write_text("a file where a sink wants a folder")
    bad = ParquetSink(tmp_path / "taken" / "a.parquet", SCHEMA, row_group_rows=10)
    good = ParquetSink(tmp_path / "b.parquet", SCHEMA, row_group_rows=10)
    for sink in (bad, good):
        for batch in batches(2, 10):
            with contextlib.suppress(FileExistsError):  # a write may collect the failure first
                sink.write(batch)
    with pytest.raises(FileExistsError, match="taken"):
        close_all([bad, good])
    assert pq.read_metadata(tmp_path / "b.parquet").num_rows == 20


def test_a_failure_collected_by_a_write_still_fails_the_close(tmp_path, monkeypatch):
    # With one row group in flight, the second write must collect the first one's failure.
    monkeypatch.setattr(files, "MAX_QUEUED", 1)
    (tmp_path / "taken").write_text("a file where a sink wants a folder")
    sink = ParquetSink(tmp_path / "taken" / "a.parquet", SCHEMA, row_group_rows=10)
    first, second, third = batches(3, 10)
    sink.write(first)
    with pytest.raises(FileExistsError, match="taken"):
        sink.write(second)
    with pytest.raises(FileExistsError, match="taken"):  # not written as if nothing was lost
        sink.write(third)
    with pytest.raises(FileExistsError, match="taken"):
        close_all([sink])


def test_abort_removes_the_file_and_the_sink_starts_over(tmp_path):
    sink = ParquetSink(tmp_path / "a.parquet", SCHEMA, row_group_rows=10)
    for batch in batches(5, 10):  # row groups on the writer thread, some still queued
        sink.write(batch)
    sink.abort()
    assert not (tmp_path / "a.parquet").exists()
    assert sink.rows == 0
    for batch in batches(2, 7):
        sink.write(batch)
    assert close_all([sink]) == [tmp_path / "a.parquet"]
    assert pq.read_metadata(tmp_path / "a.parquet").num_rows == 14
