"""The sync DAG's raw_retention step, and a rebuild run of a date retention pruned."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from tests.sync.harness import make_runtime, onboard
from tiktok_portability.lake.errors import RawDatePruned
from tiktok_portability.lake.retention import RETENTION_DAYS_ENV
from tiktok_portability.sync import SyncOptions
from tiktok_portability.sync.engine import run_sync
from tiktok_portability.sync.load import normalize_batch
from tiktok_portability.sync.plan import plan_run
from tiktok_portability.sync.retention import raw_retention
from tiktok_portability.sync.summary import NothingRebuilt

NIGHT = date(2026, 11, 20)
OLD = NIGHT - timedelta(days=40)
FAST = {"poll_interval_s": 0.05}


@pytest.fixture
def runtime(tmp_path: Path, emulator):
    rt = make_runtime(tmp_path, emulator)
    yield rt
    rt.store.close()


def test_the_step_prunes_old_dates_and_a_rebuild_of_them_is_refused(runtime, emulator, monkeypatch):
    monkeypatch.setenv(RETENTION_DAYS_ENV, "30")
    stays, leaves = (onboard(runtime, emulator, scopes=["portability.all.ongoing"]) for _ in range(2))
    run_sync(runtime, "old", OLD, SyncOptions(**FAST))
    runtime.store.revoke_grant(leaves, "user left")  # no later export: their old one is their latest
    run_sync(runtime, "night", NIGHT, SyncOptions(**FAST))
    lake = runtime.lake
    tables_before = {k: lake.storage.get_bytes(k) for k in lake.storage.list("profile")}

    assert raw_retention(runtime, NIGHT, SyncOptions(dry_run=True)) == {"skipped": "dry_run"}
    assert raw_retention(runtime, NIGHT, SyncOptions(reprocess_from_raw=True)) == {
        "skipped": "reprocess_from_raw"
    }
    assert [r.open_id for r in lake.raw.list(OLD)] == sorted([stays, leaves])
    summary = raw_retention(runtime, NIGHT, SyncOptions())

    assert summary["dates_pruned"] == [OLD.isoformat()]
    assert (summary["archives_deleted"], summary["archives_kept_latest"]) == (1, 1)
    assert summary["audit_key"].startswith("_audit/retention/runs/")
    assert [r.open_id for r in lake.raw.list(OLD)] == [leaves]
    assert [r.open_id for r in lake.raw.list(NIGHT)] == [stays]

    # A rebuild of the pruned date (a backfill, reprocess_from_raw) plans nobody and fails saying why.
    with pytest.raises(NothingRebuilt, match=r"nothing was rebuilt: snapshot_date 2026-10-11 cannot be"):
        run_sync(runtime, "rebuild", OLD, SyncOptions(reprocess_from_raw=True))
    assert {k: lake.storage.get_bytes(k) for k in lake.storage.list("profile")} == tables_before
    assert raw_retention(runtime, NIGHT, SyncOptions())["archives_deleted"] == 0  # idempotent


def test_a_batch_of_a_rebuild_planned_before_retention_pruned_its_date_refuses(runtime, emulator):
    _, leaves = (onboard(runtime, emulator, scopes=["portability.all.ongoing"]) for _ in range(2))
    run_sync(runtime, "old", OLD, SyncOptions(**FAST))
    runtime.store.revoke_grant(leaves, "user left")
    run_sync(runtime, "night", NIGHT, SyncOptions(**FAST))
    rebuild = SyncOptions(reprocess_from_raw=True)
    assert plan_run(runtime, "rebuild", OLD, rebuild) == [0]
    rows_before = runtime.lake.read_table("profile", OLD).num_rows

    runtime.lake.apply_retention(30, today=NIGHT)  # e.g. `lake retention` run by hand meanwhile

    # Only the user who left still has an archive of that date: a commit of it alone would drop
    # the other user's rows from the batch.
    assert [r.open_id for r in runtime.lake.raw.list(OLD)] == [leaves]
    with pytest.raises(RawDatePruned, match="cannot be rebuilt from the raw zone"):
        normalize_batch(runtime, "rebuild", 0, OLD, rebuild)
    assert runtime.lake.read_table("profile", OLD).num_rows == rows_before == 2
