"""Download verification reads the archive as normalization will: every zip problem is that user's
ArchiveCorrupt (never an exception that fails the batch), under the same caps."""

from __future__ import annotations

import io
import warnings
import zipfile
from pathlib import Path

import pytest

from tiktok_portability.archive.errors import CorruptArchiveError, EncodingError, UnsafeMemberError
from tiktok_portability.archive.safezip import SafeZip
from tiktok_portability.client import errors
from tiktok_portability.client.archive_sink import PathSink
from tiktok_portability.client.errors import CallContext


def _zip(members: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about a duplicate name; we want one
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, data in members:
                zf.writestr(name, data)
    return buf.getvalue()


def bad_utf8_name() -> bytes:
    """A member whose name is flagged UTF-8 (bit 11) but holds bytes that are not UTF-8."""
    data = bytearray(_zip([("TikTok/XXXX.json", b"{}")]))
    for signature, flag_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):  # local header, directory
        at = data.index(signature) + flag_at
        data[at + 1] |= 0x08  # bit 11 of the little-endian general purpose flags
    assert data.count(b"XXXX") == 2
    return bytes(data).replace(b"XXXX", b"\xff\xfe\xff\xfe")


def duplicate_names() -> bytes:
    return _zip([("TikTok/user_data_tiktok.json", b"{}"), ("TikTok/user_data_tiktok.json", b"[]")])


def test_a_name_flagged_utf8_that_is_not_is_an_encoding_error_naming_it():
    with pytest.raises(EncodingError, match=r"\\xff\\xfe\\xff\\xfe.*flagged UTF-8"):
        SafeZip(io.BytesIO(bad_utf8_name()))


def test_duplicate_member_names_are_refused_as_ambiguous():
    with pytest.raises(UnsafeMemberError, match="appears 2 times"):
        SafeZip(io.BytesIO(duplicate_names()))


def test_verify_inflates_every_member_and_checks_its_crc():
    data = bytearray(_zip([("a.txt", b"hello world " * 1000)]))
    SafeZip(io.BytesIO(bytes(data))).verify()
    at = data.index(b"a.txt") + len(b"a.txt") + 10  # inside the first member's deflate stream
    data[at] ^= 0xFF
    with pytest.raises(CorruptArchiveError, match=r"member 'a\.txt' is corrupt"):
        SafeZip(io.BytesIO(bytes(data))).verify()


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (bad_utf8_name(), "flagged UTF-8"),
        (duplicate_names(), "ambiguous"),
    ],
)
@pytest.mark.parametrize("verify", ["full", "directory"])
def test_download_verification_turns_every_zip_problem_into_archive_corrupt(
    tmp_path: Path, body: bytes, problem: str, verify
):
    sink = PathSink(tmp_path / "a.zip", CallContext("download", open_id="u1", request_id=7), verify)
    sink.begin(1)
    sink.write(body)
    with pytest.raises(errors.ArchiveCorrupt, match=problem):
        sink.finish(len(body), len(body))
    sink.abort()
    assert list(tmp_path.iterdir()) == []
