"""What each sync task derives from its context: options, snapshot date (one helper for all)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from types import SimpleNamespace

import pytest

from tiktok_portability.sync import OptionsError
from tiktok_portability_airflow.sync_task import SyncTask


def _context(params=None, run_type="manual", logical_date=None, run_after=None, run_id="manual__1"):
    run = SimpleNamespace(run_type=run_type, run_after=run_after or datetime(2026, 12, 7, 23, 30, tzinfo=UTC))
    return {"params": params or {}, "dag_run": run, "logical_date": logical_date, "run_id": run_id}


def test_the_snapshot_date_is_the_param_else_the_logical_date_in_the_sync_timezone(monkeypatch):
    late = datetime(2026, 12, 7, 23, 30, tzinfo=UTC)
    assert SyncTask.of(_context(logical_date=late)).snapshot_date == date(2026, 12, 7)
    monkeypatch.setenv("TIKTOK_SYNC_TIMEZONE", "Europe/Berlin")
    assert SyncTask.of(_context(logical_date=late)).snapshot_date == date(2026, 12, 8)
    assert SyncTask.of(_context(run_after=late)).snapshot_date == date(2026, 12, 8)
    chosen = SyncTask.of(_context({"snapshot_date": "2026-11-20"}, logical_date=late))
    assert chosen.snapshot_date == date(2026, 11, 20)


def test_a_backfill_always_rebuilds_from_the_raw_zone():
    assert SyncTask.of(_context({"batch_size": 7}, run_type="backfill")).options.reprocess_from_raw
    manual = SyncTask.of(_context({"batch_size": 7}))
    assert not manual.options.reprocess_from_raw
    assert manual.options.batch_size == 7
    assert manual.run_id == "manual__1"


def test_params_left_empty_in_the_form_take_the_defaults():
    nulls = {"open_ids": None, "retry_failed": None, "batch_size": None, "data_format": None}
    options = SyncTask.of(_context(nulls)).options
    assert options.open_ids is None
    assert options.batch_size == 500
    assert options.data_format == "json"
    assert options.retry_failed is False


def test_bad_params_name_themselves():
    with pytest.raises(OptionsError, match="snapshot_date must be YYYY-MM-DD"):
        SyncTask.of(_context({"snapshot_date": "yesterday"}))
