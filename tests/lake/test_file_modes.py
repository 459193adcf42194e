"""A local lake: users' raw exports, state and audit records owner-only; tables a configurable mode."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.lake.conftest import JsonNormalizer
from tiktok_portability.lake import Lake, StorageError
from tiktok_portability.lake.storage import TABLE_MODE_ENV, LocalStorage

WATCH = [("2026-01-01 10:00:00", "v1")]


@pytest.fixture(autouse=True)
def common_umask() -> Iterator[None]:
    """The usual 022 umask, under which files would be world-readable by default."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def modes(root: Path, top: str) -> dict[str, int]:
    base = root / top
    found = {str(p.relative_to(root)): stat.S_IMODE(p.stat().st_mode) for p in base.rglob("*")}
    return {top: stat.S_IMODE(base.stat().st_mode), **found}


def run_night(root: Path, write_archive, **storage_options) -> Lake:
    lake = Lake(LocalStorage(root, **storage_options), normalizer=JsonNormalizer())
    ref = lake.raw.put_archive(
        "u1", "2026-01-01", 1, write_archive({"watch": WATCH, "profile": {"user_name": "a"}})
    )
    lake.normalize_batch([ref], "2026-01-01")
    lake.erase_user("u2", requested_by="test")  # writes an audit record
    return lake


def test_raw_zone_state_and_audit_are_owner_only_and_tables_group_readable(tmp_path, write_archive):
    root = tmp_path / "lake"
    run_night(root, write_archive)

    for private in ("raw", "_state", "_audit"):
        found = modes(root, private)
        assert found[private] == 0o700
        assert {m for name, m in found.items() if (root / name).is_file()} == {0o600}, found
    tables = modes(root, "watch_history")
    assert {m for name, m in tables.items() if (root / name).is_file()} == {0o640}
    assert {m for name, m in tables.items() if (root / name).is_dir()} == {0o750}
    assert stat.S_IMODE(root.stat().st_mode) == 0o750
    assert not any(stat.S_IMODE(p.stat().st_mode) & 0o007 for p in root.rglob("*")), (
        "nothing is world-readable"
    )


def test_table_files_follow_the_configured_mode(tmp_path, write_archive, monkeypatch):
    run_night(tmp_path / "owner", write_archive, table_file_mode="600")
    monkeypatch.setenv(TABLE_MODE_ENV, "644")
    run_night(tmp_path / "everyone", write_archive)

    owner = modes(tmp_path / "owner", "profile")
    everyone = modes(tmp_path / "everyone", "profile")
    assert {m for name, m in owner.items() if name.endswith(".parquet")} == {0o600}
    assert owner["profile"] == 0o700
    assert {m for name, m in everyone.items() if name.endswith(".parquet")} == {0o644}
    assert modes(tmp_path / "everyone", "raw")["raw"] == 0o700  # the raw zone never follows it


def test_a_lake_written_before_gets_its_private_folders_tightened(tmp_path):
    (tmp_path / "raw" / "snapshot_date=2026-01-01").mkdir(parents=True)
    os.chmod(tmp_path / "raw", 0o755)  # noqa: S103 (the mode a lake written before had)

    LocalStorage(tmp_path)

    assert stat.S_IMODE((tmp_path / "raw").stat().st_mode) == 0o700


@pytest.mark.parametrize("mode", ["abc", "755", "444", "1640"])
def test_a_table_mode_that_is_not_owner_read_write_without_execute_is_refused(tmp_path, mode):
    with pytest.raises(StorageError, match="mode"):
        LocalStorage(tmp_path, table_file_mode=mode)
