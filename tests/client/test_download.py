"""Downloads stream to disk or a file object, are verified as zips, and retry from scratch."""

from __future__ import annotations

import hashlib
import io
import json
import random
from collections.abc import Iterator

import httpx
import pytest

from tiktok_portability.client import TikTokClient
from tiktok_portability.client import errors as e

from .fakes import (
    ACCESS_TOKEN,
    BIG_REQUEST_ID,
    RecordingLimiter,
    Script,
    Sleeps,
    archive_response,
    config,
    corrupt_member_crc,
    dropping_response,
    fail,
    ok,
    zip_bytes,
)

ARCHIVE = zip_bytes()


def make(script: Script, **overrides) -> tuple[TikTokClient, Sleeps, RecordingLimiter]:
    sleeps, limiter = Sleeps(), RecordingLimiter()
    client = TikTokClient(
        config(**overrides), limiter, transport=script.transport(), sleep=sleeps, rng=random.Random(3)
    )
    return client, sleeps, limiter


def test_download_to_a_path_is_atomic_and_reports_size_and_sha256(tmp_path):
    target = tmp_path / "raw" / "archive.zip"
    script = Script(archive_response(ARCHIVE))
    client, _, limiter = make(script, download_chunk_bytes=1024)
    with client:
        result = client.download(ACCESS_TOKEN, BIG_REQUEST_ID, target)
    assert target.read_bytes() == ARCHIVE
    assert result.size == len(ARCHIVE)
    assert result.sha256 == hashlib.sha256(ARCHIVE).hexdigest()
    assert result.path == target
    assert result.request_id == BIG_REQUEST_ID
    assert result.content_type == "application/zip"
    assert result.attempts == 1
    assert sorted(p.name for p in target.parent.iterdir()) == ["archive.zip"]
    assert limiter.acquired == ["download"]
    request = script.requests[0]
    assert request.url.path == "/v2/user/data/download/"
    assert request.content.replace(b" ", b"") == b'{"request_id":%d}' % BIG_REQUEST_ID


def test_download_into_a_binary_file_object_writes_in_chunks():
    writes: list[int] = []

    class CountingSink(io.BytesIO):
        def write(self, data) -> int:
            writes.append(len(data))
            return super().write(data)

    big = zip_bytes({f"f{i}.bin": random.Random(i).randbytes(4096) for i in range(8)})
    sink = CountingSink()
    client, _, _ = make(Script(archive_response(big)), download_chunk_bytes=1024)
    with client:
        result = client.download(ACCESS_TOKEN, 5, sink)
    assert sink.getvalue() == big
    assert result.path is None
    assert result.size == len(big)
    assert len(writes) > 1
    assert max(writes) <= 1024


def test_an_error_envelope_is_raised_and_leaves_no_file(tmp_path):
    target = tmp_path / "a.zip"
    client, sleeps, _ = make(Script(fail(400, "invalid_params", "no such request")))
    with client, pytest.raises(e.InvalidRequest, match="no such request"):
        client.download(ACCESS_TOKEN, 5, target)
    assert list(tmp_path.iterdir()) == []
    assert sleeps.delays == []


def test_a_success_envelope_instead_of_a_zip_is_unexpected(tmp_path):
    client, _, _ = make(Script(ok()))
    with client, pytest.raises(e.UnexpectedResponse, match="instead of a zip"):
        client.download(ACCESS_TOKEN, 5, tmp_path / "a.zip")


def envelope_as(status: int, content_type: str, code: str = "invalid_params") -> httpx.Response:
    body = json.dumps(
        {"data": {}, "error": {"code": code, "message": "request_id 5 is expired", "log_id": "log-1"}}
    ).encode()
    return httpx.Response(status, content=body, headers={"Content-Type": content_type})


@pytest.mark.parametrize(
    ("status", "content_type"),
    [
        (400, "application/json"),
        (200, "application/json"),
        (200, "application/zip"),
        (200, ""),
        (400, "text/plain"),
    ],
)
def test_a_body_starting_with_a_brace_is_an_error_envelope_whatever_status_and_type(
    tmp_path, status, content_type
):
    # An expired request must reach its own path, not four retries as a corrupt archive.
    script = Script(envelope_as(status, content_type))
    client, sleeps, _ = make(script)
    with client, pytest.raises(e.InvalidRequest, match="expired"):
        client.download(ACCESS_TOKEN, 5, tmp_path / "a.zip")
    assert len(script.requests) == 1
    assert sleeps.delays == []
    assert list(tmp_path.iterdir()) == []


def test_an_envelope_with_http_200_and_a_retryable_code_is_retried(tmp_path):
    script = Script(
        envelope_as(200, "application/octet-stream", "rate_limit_exceeded"), archive_response(ARCHIVE)
    )
    client, _, _ = make(script)
    with client:
        result = client.download(ACCESS_TOKEN, 5, tmp_path / "a.zip")
    assert result.attempts == 2


def test_an_archive_of_any_content_type_without_content_length_is_accepted(tmp_path):
    def chunked() -> Iterator[bytes]:
        for i in range(0, len(ARCHIVE), 100):
            yield ARCHIVE[i : i + 100]

    response = httpx.Response(200, content=chunked(), headers={"Content-Type": "application/octet-stream"})
    client, _, _ = make(Script(response))
    with client:
        result = client.download(ACCESS_TOKEN, 5, tmp_path / "a.zip")
    assert (tmp_path / "a.zip").read_bytes() == ARCHIVE
    assert result.content_type == "application/octet-stream"


def test_a_dropped_connection_restarts_the_download_from_scratch(tmp_path):
    target = tmp_path / "a.zip"
    script = Script(dropping_response(ARCHIVE, after=len(ARCHIVE) // 2), archive_response(ARCHIVE))
    client, sleeps, limiter = make(script)
    with client:
        result = client.download(ACCESS_TOKEN, 5, target)
    assert target.read_bytes() == ARCHIVE
    assert result.attempts == 2
    assert result.size == len(ARCHIVE)
    assert result.sha256 == hashlib.sha256(ARCHIVE).hexdigest()
    assert limiter.acquired == ["download", "download"]
    assert len(sleeps.delays) == 1


def test_a_seekable_sink_is_rewound_before_a_retry():
    sink = io.BytesIO(b"HEADER")
    sink.seek(6)
    script = Script(dropping_response(ARCHIVE, after=100), archive_response(ARCHIVE))
    client, _, _ = make(script)
    with client:
        client.download(ACCESS_TOKEN, 5, sink)
    assert sink.getvalue() == b"HEADER" + ARCHIVE


def test_a_short_body_against_content_length_is_truncated(tmp_path):
    short = archive_response(ARCHIVE[:-40], **{"content-length": str(len(ARCHIVE))})
    client, _, _ = make(Script(short), max_retries=0)
    with client, pytest.raises(e.ArchiveTruncated, match="received"):
        client.download(ACCESS_TOKEN, 5, tmp_path / "a.zip")
    assert list(tmp_path.iterdir()) == []


def test_a_zip_cut_short_is_detected_without_content_length(tmp_path):
    client, _, _ = make(Script(archive_response(ARCHIVE[: len(ARCHIVE) - 30])), max_retries=0)
    with client, pytest.raises(e.ArchiveTruncated, match="end-of-central-directory"):
        client.download(ACCESS_TOKEN, 5, tmp_path / "a.zip")


def test_a_body_that_is_not_a_zip_is_corrupt_and_retried(tmp_path):
    script = Script(archive_response(b"<html>oops</html>"), archive_response(ARCHIVE))
    client, _, _ = make(script)
    with client:
        result = client.download(ACCESS_TOKEN, 5, tmp_path / "a.zip")
    assert result.attempts == 2


def test_a_member_with_a_bad_crc_fails_full_verification(tmp_path):
    bad = corrupt_member_crc(ARCHIVE)
    client, _, _ = make(Script(*[archive_response(bad)] * 2), max_retries=1)
    with client, pytest.raises(e.ArchiveCorrupt) as info:
        client.download(ACCESS_TOKEN, 5, tmp_path / "a.zip")
    assert info.value.retryable
    assert list(tmp_path.iterdir()) == []


def test_directory_verification_only_checks_the_structure(tmp_path):
    bad = corrupt_member_crc(ARCHIVE)
    client, _, _ = make(Script(archive_response(bad)), verify_archive="directory")
    with client:
        result = client.download(ACCESS_TOKEN, 5, tmp_path / "a.zip")
    assert result.size == len(bad)


def test_a_write_only_sink_cannot_be_restarted_so_the_failure_is_raised():
    class WriteOnly(io.RawIOBase):
        def __init__(self) -> None:
            self.data = bytearray()

        def writable(self) -> bool:
            return True

        def write(self, b) -> int:
            self.data += b
            return len(b)

    sink = WriteOnly()
    script = Script(dropping_response(ARCHIVE, after=64), archive_response(ARCHIVE))
    client, _, _ = make(script)
    with client, pytest.raises(e.TransportError):
        client.download(ACCESS_TOKEN, 5, sink)
    assert len(script.requests) == 1


def test_a_write_only_sink_still_gets_the_streaming_checks():
    class WriteOnly(io.RawIOBase):
        def writable(self) -> bool:
            return True

        def write(self, b) -> int:
            return len(b)

    client, _, _ = make(Script(archive_response(ARCHIVE[:-30])), max_retries=0)
    with client, pytest.raises(e.ArchiveTruncated):
        client.download(ACCESS_TOKEN, 5, WriteOnly())
    ok_client, _, _ = make(Script(archive_response(ARCHIVE)))
    with ok_client:
        assert ok_client.download(ACCESS_TOKEN, 5, WriteOnly()).size == len(ARCHIVE)


def test_download_rate_limit_and_server_errors_are_retried(tmp_path):
    script = Script(
        fail(429, "rate_limit_exceeded", headers={"Retry-After": "2"}),
        httpx.Response(500, text="boom"),
        archive_response(ARCHIVE),
    )
    client, sleeps, limiter = make(script)
    with client:
        result = client.download(ACCESS_TOKEN, 5, tmp_path / "a.zip")
    assert result.attempts == 3
    assert limiter.rate_limited == [("download", 2.0)]
    assert sleeps.delays[0] >= 2.0


def test_the_sink_must_be_a_path_or_a_file():
    client, _, _ = make(Script())
    with client, pytest.raises(TypeError, match="path or a binary file"):
        client.download(ACCESS_TOKEN, 5, 12345)
