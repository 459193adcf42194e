"""write_archive: deterministic bytes, any sink, bounded memory, clear errors."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from tiktok_portability.synth import ArchiveRequestError, UserSpec, tables_for, write_archive

SPEC = UserSpec(open_id="u-0001", seed=1, generation="G2", txt_variant="en_new", size="tiny")


class PipeSink:
    """A write-only stream like a socket or pipe: no tell(), no seek()."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        return len(data)

    @staticmethod
    def counting() -> CountingSink:
        return CountingSink()


class CountingSink:
    """Discards what it gets (memory tests must not keep the archive)."""

    def write(self, data: bytes) -> int:
        return len(data)


def archive_bytes(spec: UserSpec, version: int, data_format: str = "json", categories=("all_data",)) -> bytes:
    buf = io.BytesIO()
    write_archive(spec, version, data_format, list(categories), buf)
    return buf.getvalue()


@pytest.mark.parametrize("data_format", ["json", "text"])
def test_same_arguments_give_byte_identical_zips(data_format: str) -> None:
    assert archive_bytes(SPEC, 3, data_format) == archive_bytes(SPEC, 3, data_format)


def test_versions_and_categories_change_the_bytes() -> None:
    assert archive_bytes(SPEC, 3) != archive_bytes(SPEC, 4)
    assert archive_bytes(SPEC, 3) != archive_bytes(SPEC, 3, categories=("activity",))


def test_info_describes_what_was_written(tmp_path: Path) -> None:
    target = tmp_path / "export.zip"
    info = write_archive(SPEC, 2, "json", ["all_data"], target)
    data = target.read_bytes()
    assert info.bytes_written == len(data)
    assert info.sha256 == hashlib.sha256(data).hexdigest()
    assert info.members == ["user_data_tiktok.json"]
    with zipfile.ZipFile(target) as zf:
        assert zf.testzip() is None
        member = zf.getinfo("user_data_tiktok.json")
        assert member.date_time == (2026, 1, 3, 0, 0, 0)
        assert member.file_size == info.uncompressed_bytes


def test_non_seekable_sink_gets_the_same_bytes() -> None:
    pipe = PipeSink()
    info = write_archive(SPEC, 2, "text", ["all_data"], pipe)
    data = b"".join(pipe.parts)
    assert data == archive_bytes(SPEC, 2, "text")
    assert info.sha256 == hashlib.sha256(data).hexdigest()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.testzip() is None


def test_tiny_archives_are_cheap_enough_for_thousands_of_users() -> None:
    sizes = {len(archive_bytes(UserSpec(open_id=f"u-{i}", seed=i), 1)) for i in range(50)}
    assert len(sizes) > 1


def test_target_bytes_gives_about_that_much_json() -> None:
    info = write_archive(
        UserSpec(open_id="u-big", seed=5, target_bytes=2_000_000), 1, "json", ["all_data"], PipeSink()
    )
    assert 1_700_000 < info.uncompressed_bytes < 2_300_000


def peak_memory(spec: UserSpec) -> tuple[int, int]:
    """(tracemalloc peak, uncompressed bytes) of writing ``spec``'s archive to a counting sink."""
    tracemalloc.start()
    try:
        info = write_archive(spec, 2, "json", ["all_data"], PipeSink.counting())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, info.uncompressed_bytes


def test_medium_archive_is_written_in_bounded_memory() -> None:
    write_archive(SPEC, 1, "json", ["all_data"], PipeSink.counting())  # warm module-level caches first
    peak, size = peak_memory(UserSpec(open_id="u-medium", seed=2, size="medium"))
    assert size > 3_000_000
    assert peak < 0.6 * size
    bigger_peak, bigger_size = peak_memory(UserSpec(open_id="u-medium", seed=2, target_bytes=4 * size))
    assert bigger_size > 3 * size
    assert bigger_peak < 1.5 * peak, "memory must not grow with the archive"


def test_medium_json_parses_back_with_expected_counts() -> None:
    from tiktok_portability.synth import SyntheticUser

    spec = UserSpec(open_id="u-medium", seed=2, size="medium", generation="G1")
    buf = io.BytesIO()
    write_archive(spec, 1, "json", ["activity"], buf)
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as zf:
        doc = json.loads(zf.read("user_data.json"))
    snap = SyntheticUser(spec).snapshot(1)
    assert len(doc["Activity"]["Video Browsing History"]["VideoList"]) == len(snap.watch_history)
    assert len(doc["Activity"]["Like List"]["ItemFavoriteList"]) == len(snap.likes)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"data_format": "xml"}, "data_format"),
        ({"categories": ["everything"]}, "everything"),
        ({"categories": []}, "empty"),
        ({"version": 0}, "version"),
    ],
)
def test_bad_arguments_are_rejected_by_name(kwargs: dict, message: str) -> None:
    args = {
        "spec": SPEC,
        "version": 1,
        "data_format": "json",
        "categories": ["all_data"],
        "sink": io.BytesIO(),
    }
    args.update(kwargs)
    with pytest.raises(ArchiveRequestError, match=message):
        write_archive(**args)


def test_path_sink_is_created(tmp_path: Path) -> None:
    target = tmp_path / "a.zip"
    write_archive(SPEC, 1, "json", ["all_data"], os.fspath(target))
    assert target.stat().st_size > 0


def test_tables_for_categories() -> None:
    assert tables_for(["direct_message"]) == ["dm_messages"]
    assert "watch_history" in tables_for(["activity"])
    assert set(tables_for(["all_data"])) >= {"profile", "posts", "dm_messages", "blocked_users"}
