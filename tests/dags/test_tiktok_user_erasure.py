"""tiktok_user_erasure under `airflow dags test`: one user erased at TikTok, in state and in the lake."""

from __future__ import annotations

from datetime import date

import pytest

from tests.fixtures.airflow import tiktok_env
from tests.sync.harness import count, make_runtime, onboard
from tiktok_portability.redact import fingerprint
from tiktok_portability.state import generate_key
from tiktok_portability.sync import SyncOptions
from tiktok_portability.sync.engine import run_sync

pytestmark = pytest.mark.airflow


@pytest.fixture(scope="module")
def erased(airflow_home, emulator_m, tmp_path_factory):
    """Two users synced once; the DAG erases the first."""
    emulator, tmp_path = emulator_m, tmp_path_factory.mktemp("erasure")
    key = generate_key()
    runtime = make_runtime(tmp_path, emulator, fernet_key=key)
    gone, kept = (onboard(runtime, emulator, scopes=["portability.all.ongoing"]) for _ in range(2))
    run_sync(runtime, "night-1", date(2026, 11, 20), SyncOptions(batch_size=2, poll_interval_s=0.05))
    before = {u: count(tmp_path / "lake", "watch_history", f"open_id = '{u}'") for u in (gone, kept)}
    env = {
        **tiktok_env(emulator, f"sqlite:///{tmp_path / 'state.db'}", key, max_retries=1),
        "TIKTOK_LAKE_URI": str(tmp_path / "lake"),
    }
    result = airflow_home.dags_test(
        "tiktok_user_erasure", {"open_ids": [gone], "requested_by": "ticket-7"}, env=env
    )
    yield {
        "result": result,
        "runtime": runtime,
        "gone": gone,
        "kept": kept,
        "before": before,
        "lake": tmp_path / "lake",
    }
    runtime.store.close()


def test_the_run_succeeds(erased):
    assert erased["result"].ok, str(erased["result"])


def test_the_user_is_gone_from_state_and_lake_and_tiktok_was_told(erased, emulator_m):
    gone, lake = erased["gone"], erased["lake"]
    assert erased["before"][gone] > 0
    grant = erased["runtime"].store.get_grant(gone)
    assert (grant.status, grant.access_token) == ("erased", None)
    assert count(lake, "watch_history", f"open_id = '{gone}'") == 0
    assert count(lake, "dm_messages", f"open_id = '{gone}'") == 0
    assert [e["status"] for e in emulator_m.log(endpoint="oauth_revoke")] == [200]
    audits = list((lake / "_audit" / "erasure").glob("*/*.json"))
    assert len(audits) == 1
    assert gone not in audits[0].read_text()
    assert fingerprint(gone) in audits[0].read_text()
    assert "ticket-7" in audits[0].read_text()


def test_other_users_are_untouched(erased):
    kept = erased["kept"]
    assert erased["runtime"].store.get_grant(kept).status == "active"
    assert count(erased["lake"], "watch_history", f"open_id = '{kept}'") == erased["before"][kept]
