"""Lake URIs and keys: what is accepted, what is refused, and why."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tiktok_portability.lake import InvalidLakeUri, Lake, StorageError
from tiktok_portability.lake.storage import LocalStorage, S3Storage, storage_from_uri


def test_plain_paths_and_file_uris_are_local_folders(tmp_path: Path):
    assert isinstance(storage_from_uri(str(tmp_path / "a")), LocalStorage)
    assert storage_from_uri(f"file://{tmp_path}/b").uri() == str(tmp_path / "b")


def test_s3_uris_name_bucket_and_prefix(s3_env):
    storage = storage_from_uri("s3://bucket/some/prefix/", s3_endpoint_url="http://127.0.0.1:9")
    assert isinstance(storage, S3Storage)
    assert storage.uri("likes/x.parquet") == "s3://bucket/some/prefix/likes/x.parquet"


@pytest.mark.parametrize(
    ("uri", "problem"),
    [("", "empty"), ("s3://", "names no bucket"), ("gs://b/p", "not file or s3"), ("file://host/p", "host")],
)
def test_unusable_uris_are_refused_with_the_reason(uri: str, problem: str):
    with pytest.raises(InvalidLakeUri, match=problem):
        storage_from_uri(uri)


@pytest.mark.parametrize("key", ["../escape", "/abs", "a//b", "a/./b", ""])
def test_keys_that_could_escape_the_lake_are_refused(tmp_path: Path, key: str):
    with pytest.raises(StorageError, match="clean relative path"):
        LocalStorage(tmp_path).put_bytes(key, b"x")


def test_table_uri_is_a_hive_glob(tmp_path: Path):
    assert Lake.from_uri(str(tmp_path)).table_uri("likes") == f"{tmp_path}/likes/*/*.parquet"


def test_folders_are_the_direct_subfolders_on_both_storages(lake: Lake):
    storage = lake.storage
    for key in ("raw/snapshot_date=2026-01-01/user=a/1.zip", "raw/snapshot_date=2026-01-02/user=b/2.zip"):
        storage.put_bytes(key, b"x")
    storage.put_bytes("raw/loose.json", b"{}")
    storage.put_bytes("watch_history/snapshot_date=2026-01-01/batch-x.parquet", b"x")
    with storage.staging_dir():  # a staging folder is no folder of the lake
        assert storage.folders("raw") == ["raw/snapshot_date=2026-01-01", "raw/snapshot_date=2026-01-02"]
        assert storage.folders("") == ["raw", "watch_history"]
    assert storage.folders("raw/snapshot_date=2026-01-01/") == ["raw/snapshot_date=2026-01-01/user=a"]
    assert storage.folders("nothing") == []


def test_files_copied_in_reach_the_disk_before_their_name_staged_ones_are_renamed(tmp_path, monkeypatch):
    """A downloaded zip may be the only copy of its bytes; a staged table file is rebuilt by a re-run."""
    storage = LocalStorage(tmp_path / "lake")
    synced: list[tuple[str, bool]] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        name = os.readlink(f"/proc/self/fd/{fd}")
        synced.append((Path(name).read_bytes().decode(), (tmp_path / "lake" / "raw" / "a.zip").exists()))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    outside = tmp_path / "download.zip"
    outside.write_bytes(b"zip bytes")
    storage.put_file("raw/a.zip", outside)
    assert synced == [("zip bytes", False)]  # synced while not yet published
    assert (tmp_path / "lake" / "raw" / "a.zip").read_bytes() == b"zip bytes"
    assert outside.read_bytes() == b"zip bytes"  # copied, not moved

    synced.clear()
    with storage.staging_dir() as folder:
        staged = folder / "t.parquet"
        staged.write_bytes(b"table bytes")
        storage.put_file("tables/t.parquet", staged)
    assert synced == []
    assert (tmp_path / "lake" / "tables" / "t.parquet").read_bytes() == b"table bytes"
