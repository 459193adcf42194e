"""The fault matrix's S3 proxy does what its rules say, in front of a real moto_server."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from tests.reliability.s3_proxy import Rule, S3FaultProxy
from tiktok_portability.lake.errors import StorageError
from tiktok_portability.lake.storage import S3Storage


@pytest.fixture
def proxied(moto_server, s3_bucket):
    with S3FaultProxy(moto_server.endpoint_url) as proxy:
        yield proxy, S3Storage(s3_bucket, "lake", endpoint_url=proxy.endpoint_url)


def test_requests_pass_through_unchanged(proxied, tmp_path: Path):
    proxy, storage = proxied
    big = tmp_path / "big.bin"
    big.write_bytes(bytes(range(256)) * 12_000)  # 3 MB: botocore's chunked upload path
    storage.put_file("t/big.bin", big)
    storage.put_bytes("t/small.json", b"{}")
    assert storage.get_bytes("t/big.bin") == big.read_bytes()
    assert storage.size("t/small.json") == 2
    assert storage.size("t/missing") is None
    assert sorted(storage.list("t/")) == ["t/big.bin", "t/small.json"]
    assert {action for *_, action in proxy.log} == {"pass"}


def test_fail_answers_500_that_botocore_retries(proxied):
    proxy, storage = proxied
    storage.put_bytes("t/a", b"x")
    rule = proxy.add(Rule("fail", path="/t/a$", method="GET", count=2))
    assert storage.get_bytes("t/a") == b"x"  # botocore's own retries absorb two 500s
    assert rule.acted == 2
    proxy.add(Rule("fail", path="/t/a$", method="GET", until=time.monotonic() + 30))
    with pytest.raises(StorageError, match="InternalError"):
        storage.get_bytes("t/a")


def test_hold_keeps_the_request_until_released_then_drops_it(proxied):
    proxy, storage = proxied
    storage.put_bytes("t/a", b"x")
    storage.put_bytes("t/b", b"y")
    rule = proxy.add(Rule("hold", path="/t/", method="GET", skip=1, count=1))
    assert storage.get_bytes("t/a") == b"x"  # skipped
    outcome: list[object] = []
    reader = threading.Thread(target=lambda: outcome.append(storage.get_bytes("t/b")))
    reader.start()
    assert rule.reached.wait(10)
    time.sleep(0.3)
    assert not outcome, "a held request gets no answer"
    rule.release()
    reader.join(30)
    # The held attempt was dropped; botocore retried and the rule (count=1) let the retry through.
    assert outcome == [b"y"]
    assert [a for *_, a in proxy.log].count("held, dropped") == 1


def test_delay_answers_late(proxied):
    proxy, storage = proxied
    storage.put_bytes("t/a", b"x")
    proxy.add(Rule("delay", path="/t/a$", delay_s=0.5, count=1))
    started = time.monotonic()
    assert storage.get_bytes("t/a") == b"x"
    assert time.monotonic() - started >= 0.5
