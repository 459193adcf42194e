"""A 100 MB body to /tiktok/webhook leaves the server's memory flat (it reads at most 64 KiB).

The receiver shares its process with Airflow's API server (UI, REST and the task Execution API),
so it runs here as its own uvicorn process (``tiktok_portability_airflow.serve``) whose peak RSS
(``VmHWM``) is read from /proc before and after.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fixtures.emulator import free_port
from tiktok_portability.state import generate_key

ROOT = Path(__file__).resolve().parents[2]
BODY_MB = 100
FLAT_MB = 20  # allowed growth of the peak: buffers, one chunk, allocator noise


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM in /proc status")


@pytest.fixture(scope="module")
def receiver_process(tmp_path_factory) -> Iterator[tuple[str, int]]:
    if not Path("/proc/self/status").exists():
        pytest.fail("this test reads peak RSS from /proc (Linux)")
    port = free_port()
    state = tmp_path_factory.mktemp("memory") / "state.db"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "plugins"), os.environ.get("PYTHONPATH", "")]),
        "TIKTOK_CLIENT_SECRET": "memory-test-secret",
        "TIKTOK_FERNET_KEYS": generate_key(),
    }
    argv = [
        sys.executable,
        "-m",
        "tiktok_portability_airflow.serve",
        "--port",
        str(port),
        "--base-url",
        "http://127.0.0.1:9",
        "--client-key",
        "memory-test",
        "--state-url",
        f"sqlite:///{state}",
    ]
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}/tiktok"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"receiver exited: {process.stderr.read().decode()[-2000:]}")
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("receiver did not start")
            time.sleep(0.1)
        # Warm up: the first delivery builds the services and opens the state store.
        assert httpx.post(f"{base}/webhook", content=b"{}", timeout=10).status_code == 401
        yield base, process.pid
    finally:
        process.terminate()
        process.wait(timeout=10)


def megabytes(count: int) -> Iterator[bytes]:
    chunk = b" " * (1024 * 1024)
    for _ in range(count):
        yield chunk


def post_big(url: str, *, declared: bool) -> int | None:
    """POST 100 MB (streamed, never held here either); the status, or None if the server hung up."""
    headers = {"Content-Type": "application/json"}
    if declared:
        headers["Content-Length"] = str(BODY_MB * 1024 * 1024)
    try:
        return httpx.post(url, content=megabytes(BODY_MB), headers=headers, timeout=60).status_code
    except httpx.TransportError:
        return None  # closed after the 413 while we were still sending: refused all the same


@pytest.mark.parametrize("declared", [False, True], ids=["chunked", "content_length"])
def test_a_100_mb_body_is_refused_and_the_servers_peak_memory_stays_flat(receiver_process, declared):
    base, pid = receiver_process
    before = peak_rss_mb(pid)

    status = post_big(f"{base}/webhook", declared=declared)

    after = peak_rss_mb(pid)
    assert status in (413, None)
    assert after - before < FLAT_MB, f"peak RSS {before:.1f} -> {after:.1f} MB under a {BODY_MB} MB body"
    # The server is still fine and answers the next delivery.
    assert httpx.post(f"{base}/webhook", content=b"{}", timeout=10).status_code == 401
