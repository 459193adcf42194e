"""An add TikTok accepted is recorded even when the state store drops out for a few seconds.

Found by the fault matrix (tests/reliability/, PostgreSQL restarted while a batch submitted): the
add went through, recording it failed, the task's retry asked again and TikTok refused
(``request_in_flight``): two users lost the night, and every night until the export expired.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from tests.sync.harness import make_runtime, onboard
from tiktok_portability.state import StateStore
from tiktok_portability.sync import SyncOptions
from tiktok_portability.sync import submit as submit_module
from tiktok_portability.sync.engine import run_sync


class DropsOut(StateStore):
    """A store whose next ``outage`` writes of a transfer fail as a restarting PostgreSQL's do."""

    outage = 0

    def create_transfer(self, *args, **kwargs):  # type: ignore[override]
        if self.outage:
            self.outage -= 1
            raise sa.exc.OperationalError(
                "INSERT INTO transfers", {}, Exception("server closed the connection unexpectedly")
            )
        return super().create_transfer(*args, **kwargs)


def _runtime(tmp_path: Path, emulator, outage: int):
    key = Fernet.generate_key().decode()
    runtime = make_runtime(tmp_path, emulator, fernet_key=key)
    open_id = onboard(runtime, emulator)
    store = DropsOut.from_url(f"sqlite:///{tmp_path / 'state.db'}", [key])
    store.outage = outage
    return replace(runtime, store=store), open_id


def test_an_accepted_add_is_recorded_once_the_store_is_back(tmp_path: Path, emulator) -> None:
    runtime, open_id = _runtime(tmp_path, emulator, outage=2)

    summary = run_sync(runtime, "night-1", date(2026, 11, 20), SyncOptions())

    assert summary["users_synced"] == 1
    assert runtime.store.latest_transfer(open_id).status == "normalized"
    assert [e["status"] for e in emulator.log(endpoint="add")] == [200], "one add, never a second"


def test_a_store_that_stays_away_fails_the_task_after_the_wait(tmp_path: Path, emulator, monkeypatch) -> None:
    monkeypatch.setattr(submit_module, "RECORD_ADD_WAIT_S", 1.0)
    runtime, _ = _runtime(tmp_path, emulator, outage=100)

    with pytest.raises(sa.exc.OperationalError):
        run_sync(runtime, "night-1", date(2026, 11, 20), SyncOptions())
