"""The raw zone keeps every archive as-is, immutable, keyed by date, user and request id."""

from __future__ import annotations

from pathlib import Path

import pytest

from tiktok_portability.lake import (
    ChecksumMismatch,
    ImmutableObjectError,
    InvalidIdentifier,
    Lake,
    RawZoneError,
)
from tiktok_portability.lake.raw import file_digest


def test_put_archive_records_size_and_checksum_under_date_user_and_request(lake: Lake, tmp_path: Path):
    src = tmp_path / "a.zip"
    src.write_bytes(b"PK-archive-bytes")
    ref = lake.raw.put_archive("open-1", "2026-01-02", 7, src)

    assert (ref.size, ref.sha256) == file_digest(src)
    assert ref.key.startswith("raw/snapshot_date=2026-01-02/user=")
    assert ref.key.endswith("/7.zip")
    assert lake.raw.list("2026-01-02") == [ref]
    with lake.raw.open(ref) as path:
        assert Path(path).read_bytes() == b"PK-archive-bytes"


def test_same_bytes_again_is_a_no_op_and_different_bytes_are_refused(lake: Lake, tmp_path: Path):
    src = tmp_path / "a.zip"
    src.write_bytes(b"first")
    ref = lake.raw.put_archive("open-1", "2026-01-02", 7, src)
    assert lake.raw.put_archive("open-1", "2026-01-02", 7, src) == ref

    src.write_bytes(b"second")
    with pytest.raises(ImmutableObjectError, match=r"refusing to replace"):
        lake.raw.put_archive("open-1", "2026-01-02", 7, src)
    with lake.raw.open(ref) as path:
        assert Path(path).read_bytes() == b"first"


def test_list_filters_by_user_and_ignores_other_dates(lake: Lake, tmp_path: Path):
    src = tmp_path / "a.zip"
    src.write_bytes(b"x")
    a = lake.raw.put_archive("open-a", "2026-01-02", 1, src)
    b = lake.raw.put_archive("open-b", "2026-01-02", 2, src)
    lake.raw.put_archive("open-a", "2026-01-03", 3, src)

    assert lake.raw.list("2026-01-02") == [a, b]
    assert lake.raw.list("2026-01-02", open_ids=["open-b"]) == [b]
    assert lake.raw.dates() == ["2026-01-02", "2026-01-03"]


def test_open_ids_are_never_used_as_paths(local_lake: Lake, tmp_path: Path):
    src = tmp_path / "a.zip"
    src.write_bytes(b"x")
    ref = local_lake.raw.put_archive("../../etc/passwd", "2026-01-02", 1, src)

    assert ".." not in ref.key
    assert "passwd" not in ref.key
    assert (local_lake.storage.root / ref.key).is_file()
    with pytest.raises(InvalidIdentifier):
        local_lake.raw.put_archive("", "2026-01-02", 1, src)
    with pytest.raises(InvalidIdentifier, match="YYYY-MM-DD"):
        local_lake.raw.put_archive("u", "02/01/2026", 1, src)


def test_tampered_archive_is_detected_on_read(local_lake: Lake, tmp_path: Path):
    src = tmp_path / "a.zip"
    src.write_bytes(b"original")
    ref = local_lake.raw.put_archive("open-1", "2026-01-02", 7, src)
    (local_lake.storage.root / ref.key).write_bytes(b"tampered")

    with pytest.raises(ChecksumMismatch, match="manifest says"), local_lake.raw.open(ref):
        pass


def test_missing_source_file_is_a_clear_error(local_lake: Lake, tmp_path: Path):
    with pytest.raises(RawZoneError, match=r"nope\.zip does not exist"):
        local_lake.raw.put_archive("open-1", "2026-01-02", 7, tmp_path / "nope.zip")


def test_an_upload_interrupted_before_its_manifest_is_completed_on_retry(local_lake: Lake, tmp_path: Path):
    src = tmp_path / "a.zip"
    src.write_bytes(b"bytes")
    ref = local_lake.raw.put_archive("open-1", "2026-01-02", 7, src)
    manifest = local_lake.storage.root / ref.key.replace(".zip", ".json")
    manifest.unlink()
    assert local_lake.raw.list("2026-01-02") == []

    again = local_lake.raw.put_archive("open-1", "2026-01-02", 7, src)
    assert (again.size, again.sha256) == (ref.size, ref.sha256)
    assert [r.sha256 for r in local_lake.raw.list("2026-01-02")] == [ref.sha256]
