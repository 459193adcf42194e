"""ParquetSink: row groups written on a background thread, same bytes, errors not swallowed."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tiktok_portability.lake.files import ParquetSink, dictionary_columns, write_table
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
    first, second = batches(2, 10)
    sink.write(first)  # a full row group: written, and failing, on the writer thread
    # The failure is raised by the next write that waits for it, not lost on the thread.
    with pytest.raises(FileExistsError, match="taken"):
        sink.write(second)


def test_no_rows_no_file(tmp_path):
    assert ParquetSink(tmp_path / "none.parquet", SCHEMA).close() is None
    assert not (tmp_path / "none.parquet").exists()
    assert write_table(tmp_path / "one.parquet", pa.Table.from_batches(batches(1, 3))) is not None


def test_dictionaries_only_for_text_that_repeats():
    assert dictionary_columns(SCHEMA) == ["text"]
    watch = dictionary_columns(TABLES["watch_history"].schema)
    assert "open_id" in watch
    assert "snapshot_date" in watch
    assert not {"link", "watched_at", "watched_at_raw", "video_id"} & set(watch)
