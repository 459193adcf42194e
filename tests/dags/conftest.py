"""Fixtures shared by the DAG tests."""

from __future__ import annotations

import httpx
import pytest

from tests.fixtures.emulator import EmulatorHandle


@pytest.fixture(scope="module")
def emulator_m(emulator_server):
    """A reset emulator shared by a module: its DAG runs once and every test reads the outcome."""
    with httpx.Client(base_url=emulator_server.base_url, timeout=30) as admin:
        assert admin.post("/_admin/reset").status_code == 200
        yield EmulatorHandle(emulator_server, admin)
