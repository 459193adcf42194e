"""Bad inputs fail with an ArchiveError subclass that names the archive; nothing is yielded."""

from __future__ import annotations

import datetime as dt
import zipfile

import pytest

from tests.normalize.zips import zip_json, zip_members
from tiktok_portability.archive import (
    ArchiveError,
    ArchiveLimits,
    ArchiveTooLargeError,
    CorruptArchiveError,
    EncodingError,
    MalformedJSONError,
    NoExportDataError,
    NotAZipError,
    SafeZip,
    TruncatedArchiveError,
    UnsafeMemberError,
    locate_export,
)
from tiktok_portability.normalize import NormalizeContext, normalize_archive

CTX = NormalizeContext("u-1", 1, dt.date(2026, 1, 1))


def drain(source, **kwargs):
    return list(normalize_archive(source, CTX, **kwargs))


def test_not_a_zip(tmp_path):
    path = tmp_path / "export.zip"
    path.write_text("<html>503</html>")
    with pytest.raises(NotAZipError, match=r"archive 'export.zip': is not a zip file"):
        drain(path)


def test_truncated_zip(tmp_path):
    full = zip_json(tmp_path, "G2").read_bytes()
    path = tmp_path / "cut.zip"
    path.write_bytes(full[: len(full) // 2])
    with pytest.raises(TruncatedArchiveError, match=r"'cut\.zip'"):
        drain(path)


@pytest.mark.parametrize(
    "name", ["../evil.json", "TikTok/../../evil.txt", "/etc/passwd", "C:/x.txt", "a\\..\\b.txt"]
)
def test_zip_slip_names_are_rejected(tmp_path, name):
    path = zip_members(tmp_path, {"user_data.json": b"{}", name: b"x"})
    with pytest.raises(UnsafeMemberError, match=r"absolute|climbs"):
        SafeZip(path)


def test_declared_compression_ratio_limit(tmp_path):
    path = zip_members(tmp_path, {"user_data.json": b'{"Profile": {}}' + b" " * 3_000_000})
    with pytest.raises(ArchiveTooLargeError, match="compression ratio"):
        drain(path)
    assert len(drain(path, limits=ArchiveLimits(max_ratio=10_000))) == 1  # only sections_seen


def test_declared_size_limits(tmp_path):
    path = zip_json(tmp_path, "G2")
    with pytest.raises(ArchiveTooLargeError, match="declares"):
        SafeZip(path, ArchiveLimits(max_member_bytes=100))
    with pytest.raises(ArchiveTooLargeError, match="in all"):
        SafeZip(path, ArchiveLimits(max_total_bytes=100))


def test_actual_bytes_are_counted_while_streaming(tmp_path):
    """The stream itself stops at the limit, whatever the headers said when the zip was opened."""
    path = zip_members(tmp_path, {"user_data.json": b"[" + b"0," * 400_000 + b"0]"})
    with SafeZip(path) as zf:
        zf.limits = ArchiveLimits(max_member_bytes=100_000)
        stream = zf.open("user_data.json", buffer_size=4096)
        with pytest.raises(ArchiveTooLargeError, match="decompresses past 100000 bytes"):
            stream.read()


def test_corrupt_member_data(tmp_path):
    path = zip_json(tmp_path, "G2")
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.infolist()[0]
    start = info.header_offset + 30 + len(info.filename.encode()) + 100
    data[start : start + 50] = b"\x00" * 50
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptArchiveError, match="is corrupt"):
        drain(path)


def test_malformed_json_names_member_and_offset(tmp_path):
    path = zip_members(tmp_path, {"x/user_data.json": b'{"Profile": {"Profile Info": [1, 2,, 3]}}'})
    with pytest.raises(MalformedJSONError, match=r"member 'x/user_data.json' at byte \d+"):
        drain(path)


def test_truncated_json(tmp_path):
    path = zip_members(
        tmp_path, {"user_data.json": b'{"Your Activity": {"Watch History": {"VideoList": [{"Da'}
    )
    with pytest.raises(MalformedJSONError, match="end of input"):
        drain(path)


def test_invalid_utf8_json_and_txt(tmp_path):
    bad_json = zip_members(tmp_path, {"user_data.json": b'{"Profile": "\xff\xfe"}'}, "j.zip")
    with pytest.raises(EncodingError, match="not valid UTF-8"):
        drain(bad_json)
    bad_txt = zip_members(
        tmp_path, {"TikTok/Activity/Searches.txt": b"Date: 2020-01-01 00:00:00\nSearch Term: \xff\n"}
    )
    with pytest.raises(EncodingError, match=r"Searches\.txt"):
        drain(bad_txt)


def test_zip_without_export(tmp_path):
    path = zip_members(tmp_path, {"readme.md": b"hi", "other.json": b'{"hello": 1}'})
    with pytest.raises(NoExportDataError, match="no TikTok JSON export"):
        drain(path)


def test_errors_share_one_base_class():
    for cls in (NotAZipError, TruncatedArchiveError, UnsafeMemberError, ArchiveTooLargeError, EncodingError):
        assert issubclass(cls, ArchiveError)


def test_json_preference_order(tmp_path):
    members = {
        "a/TikTok_Data.json": b'{"Profile": {}}',
        "b/user_data.json": b'{"Profile": {}}',
        "c/notes.json": b'{"Activity": {}}',
    }
    with SafeZip(zip_members(tmp_path, members)) as zf:
        assert locate_export(zf).json_member == "b/user_data.json"
    members = {"a/notes.json": b'{"hello": {}}', "b/export.json": b'{"Your Activity": {}}'}
    with SafeZip(zip_members(tmp_path, members, "two.zip")) as zf:
        assert locate_export(zf).json_member == "b/export.json"


def test_file_objects_are_accepted(tmp_path):
    path = zip_json(tmp_path, "G2")
    with path.open("rb") as fh:
        names = {name for name, _ in normalize_archive(fh, CTX)}
    assert "watch_history" in names


@pytest.fixture
def read_ahead(monkeypatch):
    """Every member read on the read-ahead thread (normally only members of 16 MB and more)."""
    from tiktok_portability.archive import safezip

    monkeypatch.setattr(safezip, "PREFETCH_MIN_BYTES", 0)


def _rows(path):
    return [(name, batch.to_pylist()) for name, batch in drain(path)]


def test_read_ahead_yields_the_same_rows(tmp_path, monkeypatch):
    path = zip_json(tmp_path, "G2")
    plain = _rows(path)
    from tiktok_portability.archive import safezip

    monkeypatch.setattr(safezip, "PREFETCH_MIN_BYTES", 0)
    with SafeZip(path) as zf:
        assert type(zf.open(zf.members[0]).raw).__name__ == "_ReadAhead"
    assert _rows(path) == plain


def test_read_ahead_raises_stream_errors_where_they_happen(tmp_path, read_ahead):
    path = zip_members(tmp_path, {"user_data.json": b"[" + b"0," * 400_000 + b"0]"})
    with SafeZip(path) as zf:
        zf.limits = ArchiveLimits(max_member_bytes=100_000)
        stream = zf.open("user_data.json", buffer_size=4096)
        first = stream.read(50_000)
        assert first.startswith(b"[0,0,")
        with pytest.raises(ArchiveTooLargeError, match="decompresses past 100000 bytes"):
            stream.read()
        stream.close()


def test_read_ahead_reports_corrupt_data(tmp_path, read_ahead):
    test_corrupt_member_data(tmp_path)


def test_closing_early_stops_the_read_ahead_thread(tmp_path, read_ahead):
    import threading

    path = zip_members(tmp_path, {"user_data.json": b"[" + b"0," * 2_000_000 + b"0]"})
    with SafeZip(path, ArchiveLimits(max_ratio=10_000)) as zf:
        stream = zf.open("user_data.json", buffer_size=4096)
        assert stream.read(10) == b"[0,0,0,0,0"
        assert any(t.name == "zip-read-ahead" for t in threading.enumerate())
        stream.close()
    assert not any(t.name == "zip-read-ahead" for t in threading.enumerate())


def test_deflated_members_read_back_exactly(tmp_path):
    data = b"".join(b'{"Date": "2025-01-01 00:00:%02d", "Link": "x"},' % (i % 60) for i in range(50_000))
    path = zip_members(tmp_path, {"user_data.json": data})
    with SafeZip(path) as zf:
        stream = zf.open("user_data.json", buffer_size=4096)
        got = b"".join(iter(lambda: stream.read(3000), b""))
    assert got == data


@pytest.mark.parametrize("compression", [zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED])
def test_crc_mismatch_is_reported_stored_or_deflated(tmp_path, compression):
    data = b'{"a": "' + b"x" * 300_000 + b'"}'
    path = tmp_path / "a.zip"
    with zipfile.ZipFile(path, "w", compression) as zf:
        zf.writestr("user_data.json", data)
    assert b"".join(drain_chunks(path)) == data
    raw = bytearray(path.read_bytes())
    central = raw.rfind(b"PK\x01\x02")
    raw[central + 16 : central + 20] = (zipfile.crc32(data) ^ 1).to_bytes(4, "little")
    path.write_bytes(bytes(raw))
    with pytest.raises(CorruptArchiveError, match="CRC"):
        drain(path)


def drain_chunks(path):
    with SafeZip(path) as zf:
        stream = zf.open("user_data.json", buffered=False)
        yield from iter(lambda: stream.read(70_000), b"")


@pytest.mark.parametrize("prefetch", [False, True])
def test_raw_streams_give_the_same_bytes_whatever_the_read_sizes(tmp_path, monkeypatch, prefetch):
    from tiktok_portability.archive import safezip

    if prefetch:
        monkeypatch.setattr(safezip, "PREFETCH_MIN_BYTES", 0)
    data = b"".join(b"%07d," % i for i in range(200_000))
    path = zip_members(tmp_path, {"user_data.json": data})
    with SafeZip(path) as zf, zf.open("user_data.json", buffer_size=50_000, buffered=False) as stream:
        assert type(stream).__name__ == ("_ReadAhead" if prefetch else "_BoundedReader")
        parts, sizes = [], [1, 70_000, 13, 50_000, 1 << 20, 3]
        while chunk := stream.read(sizes[len(parts) % len(sizes)]):
            assert len(chunk) <= sizes[len(parts) % len(sizes)]
            parts.append(chunk)
    assert b"".join(parts) == data


@pytest.mark.parametrize("prefetch", [False, True])
def test_raw_streams_count_the_bytes_too(tmp_path, monkeypatch, prefetch):
    from tiktok_portability.archive import safezip

    if prefetch:
        monkeypatch.setattr(safezip, "PREFETCH_MIN_BYTES", 0)
    path = zip_members(tmp_path, {"user_data.json": b"[" + b"0," * 400_000 + b"0]"})
    with SafeZip(path) as zf:
        zf.limits = ArchiveLimits(max_member_bytes=100_000)
        stream = zf.open("user_data.json", buffer_size=4096, buffered=False)
        with pytest.raises(ArchiveTooLargeError, match="decompresses past 100000 bytes"):
            _drain_raw(stream)
        stream.close()


def _drain_raw(stream) -> None:
    while stream.read(4096):
        pass
