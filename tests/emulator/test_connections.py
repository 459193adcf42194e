"""The lose_response fault under any uvicorn, and an emulator CLI that stays cheap to import."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
import uvicorn

from tests.emulator.helpers import ADD_PATH, bearer
from tests.fixtures.emulator import free_port
from tiktok_portability.emulator import EmulatorConfig, create_app
from tiktok_portability.emulator.connections import tracking_protocol


@contextmanager
def served(http: object) -> Iterator[str]:
    """``create_app`` served by an in-process uvicorn with the given HTTP protocol."""
    app = create_app(EmulatorConfig(client_key="k", client_secret="s"))
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, http=http, log_level="critical", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("in-process emulator did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.mark.parametrize("http", ["h11", tracking_protocol("h11")], ids=["plain-uvicorn", "tracking-h11"])
def test_lose_response_acts_then_drops_the_connection_under_any_uvicorn(http):
    with served(http) as base_url, httpx.Client(base_url=base_url, timeout=5) as c:
        user = c.post("/_admin/users", json={}).json()
        token = c.post(f"/_admin/users/{user['open_id']}/tokens").json()["access_token"]
        c.post("/_admin/faults", json={"kind": "lose_response"})
        body = {"data_format": "json", "category_selection_list": ["all_data"]}
        with pytest.raises(httpx.TransportError):
            c.post(ADD_PATH, headers=bearer(token), json=body)
        requests = c.get(f"/_admin/users/{user['open_id']}").json()["requests"]
        healthy = c.get("/_admin/health")

    assert len(requests) == 1
    assert healthy.status_code == 200


def test_building_the_emulator_subcommand_imports_no_web_stack():
    code = (
        "import argparse, sys\n"
        "from tiktok_portability.emulator.cli import register\n"
        "register(argparse.ArgumentParser().add_subparsers())\n"
        "web = ('fastapi', 'uvicorn', 'starlette', 'pydantic', 'httpx')\n"
        "print(sorted(m for m in web if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
