"""Accounts outside the EEA/UK: each way TikTok may refuse them ends as ``ineligible_region`` once.

What TikTok does is undocumented; the emulator's ``ineligible_region_mode`` serves each reading:
``add`` (Add Data Request refused naming the region), ``consent`` (the consent page refuses; a
grant held from before still meets the refused add) and ``empty_archive`` (an export with no data).
"""

from __future__ import annotations

from datetime import date

import pytest

from tests.sync.harness import make_runtime, onboard
from tiktok_portability.clock import OFFSET_ENV
from tiktok_portability.sync import SyncOptions
from tiktok_portability.sync.engine import run_sync
from tiktok_portability.sync.summary import render_summary

DAY = 86_400
OPTIONS = SyncOptions(batch_size=10, poll_interval_s=0.05, max_failure_rate=0.0)


@pytest.mark.parametrize("mode", ["add", "consent", "empty_archive"])
def test_an_account_outside_the_eea_is_parked_once_and_not_asked_again(tmp_path, emulator, monkeypatch, mode):
    emulator.configure(ineligible_region_mode=mode)
    runtime = make_runtime(tmp_path, emulator)
    eea = onboard(runtime, emulator, scopes=["portability.all.ongoing"], region="NL")
    outside = onboard(runtime, emulator, scopes=["portability.all.ongoing"], region="US")

    first = run_sync(runtime, "night-1", date(2026, 11, 20), OPTIONS)
    after_first = emulator.now()
    emulator.advance(DAY)
    monkeypatch.setenv(OFFSET_ENV, str(DAY))
    second = run_sync(runtime, "night-2", date(2026, 11, 21), OPTIONS)

    assert first["failed_by_reason"] == {"ineligible_region": 1}
    assert (first["failed_expected"], first["failure_rate"]) == (1, 0.0)
    assert "failed 1 (0.0%, 1 expected)" in render_summary(first)
    assert first["users_synced"] == 1
    grant = runtime.store.get_grant(outside)
    assert (grant.status, grant.status_reason.split(":")[0]) == ("ineligible", "ineligible_region")
    assert runtime.lake.raw.list(date(2026, 11, 20), [outside]) == [], "an empty export is not kept"
    assert (second["users_planned"], second["users_synced"], second["failed_by_reason"]) == (1, 1, {})
    later_calls = [e for e in emulator.log(since=after_first) if e["open_id"] == outside]
    assert later_calls == [], "no retry storm: the parked user is not asked again"
    assert runtime.store.get_grant(eea).status == "active"
