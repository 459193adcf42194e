"""The run summary: any number of batches, users left out, nothing rebuilt, and what to do next."""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

import pytest

from tests.sync.harness import make_runtime, onboard
from tiktok_portability.sync import SyncOptions
from tiktok_portability.sync.engine import run_sync
from tiktok_portability.sync.plan import plan_run
from tiktok_portability.sync.summary import (
    NothingRebuilt,
    SyncRunFailed,
    render_summary,
    step_reports_of,
    summarize_run,
)

NIGHT = date(2026, 11, 20)
FAST = {"poll_interval_s": 0.05}


def _normalize_report(batch: int, rows: dict[str, int]) -> dict:
    return {"step": "normalize", "run_id": "r", "batch": batch, "outcomes": {}, "rows": rows}


def test_one_report_handed_over_alone_counts_like_a_list_of_one():
    # Airflow's scheduler hands the ONE report (a dict) when the batch group mapped one instance.
    alone = _normalize_report(0, {"likes": 3})
    assert step_reports_of(alone) == [alone]
    assert step_reports_of([alone]) == [alone]


def test_several_none_and_missing_reports():
    a, b = _normalize_report(0, {"likes": 1}), _normalize_report(1, {"likes": 2})
    assert step_reports_of(iter([a, None, b])) == [a, b]
    assert step_reports_of(None) == []
    assert step_reports_of([]) == []


def test_a_report_that_is_not_a_mapping_is_named():
    with pytest.raises(TypeError, match="step report must be a mapping, got str"):
        step_reports_of(["step"])


@pytest.fixture
def runtime(tmp_path: Path, emulator):
    rt = make_runtime(tmp_path, emulator)
    yield rt
    rt.store.close()


def test_one_batch_run_sums_its_rows_from_a_lone_report(runtime, emulator):
    users = [onboard(runtime, emulator, scopes=["portability.all.ongoing"]) for _ in range(2)]
    numbers = plan_run(runtime, "one", NIGHT, SyncOptions(batch_size=10, **FAST))
    assert numbers == [0]
    from tiktok_portability.sync.engine import run_batch

    reports = run_batch(runtime, "one", 0, NIGHT, SyncOptions(batch_size=10, **FAST))
    normalize = next(r for r in reports if r["step"] == "normalize")

    summary = summarize_run(runtime, "one", SyncOptions(**FAST), normalize)

    assert summary["users_planned"] == summary["users_synced"] == len(users)
    assert summary["rows_per_table"] == dict(sorted(normalize["rows"].items()))
    assert summary["tables_changed"] == sorted(t for t, n in normalize["rows"].items() if n)


def test_requested_users_left_out_are_listed_with_their_reason(runtime, emulator, caplog):
    ok = onboard(runtime, emulator, scopes=["portability.all.ongoing"])
    reauth = onboard(runtime, emulator, scopes=["portability.all.ongoing"])
    single = onboard(runtime, emulator, scopes=["portability.all.single"])
    runtime.store.mark_grant(reauth, "needs_reauth", "token refused")
    wanted = [ok, "nobody-we-know", reauth, single, ok]

    with caplog.at_level(logging.INFO, logger="tiktok_portability.sync"):
        summary = run_sync(runtime, "resync", NIGHT, SyncOptions(open_ids=tuple(wanted), **FAST))

    assert summary["users_planned"] == summary["users_synced"] == 1
    reasons = {e["index"]: e["reason"] for e in summary["left_out"]}
    assert reasons == {
        1: "unknown_user: no grant for this open_id",
        2: "needs_reauth: the grant is needs_reauth (token refused)",
        3: "no_ongoing_scope: the grant holds no portability.*.ongoing scope",
    }
    assert all(len(e["fingerprint"]) == 10 for e in summary["left_out"])
    assert not any(o in caplog.text for o in wanted[1:4]), "open_ids must not reach the log"
    assert "left out" in caplog.text
    assert "(open_ids[2]): needs_reauth" in caplog.text


def test_a_run_of_zero_users_ends_with_a_summary(runtime, emulator):
    summary = run_sync(runtime, "nobody", NIGHT, SyncOptions(open_ids=("ghost",), **FAST))
    assert summary["batches"] == 0
    assert summary["users_planned"] == 0
    assert [e["reason"] for e in summary["left_out"]] == ["unknown_user: no grant for this open_id"]
    assert summary["tables_changed"] == []


def test_rebuilding_a_date_without_raw_archives_fails_saying_nothing_was_rebuilt(runtime, emulator):
    onboard(runtime, emulator, scopes=["portability.all.ongoing"])
    with pytest.raises(NothingRebuilt, match="nothing could be rebuilt for snapshot_date 2020-01-01") as err:
        run_sync(runtime, "backfill", date(2020, 1, 1), SyncOptions(reprocess_from_raw=True))
    assert err.value.summary["rows_per_table"] == {}
    assert err.value.summary["tables_changed"] == []
    assert list(runtime.lake.storage.list("profile")) == []


def test_a_failed_run_names_retry_failed_and_retry_failed_resyncs_exactly_those_users(runtime, emulator):
    users = [onboard(runtime, emulator, scopes=["portability.all.ongoing"]) for _ in range(3)]
    broken = users[1]
    emulator.fault("corrupt_zip", open_id=broken, count=None)
    with pytest.raises(SyncRunFailed) as err:
        run_sync(runtime, "night", NIGHT, SyncOptions(max_failure_rate=0.0, **FAST))
    message = str(err.value)
    assert "1 of 3 users failed" in message
    assert "archive_corrupt" in message
    assert '{"retry_failed": true, "snapshot_date": "2026-11-20"}' in message
    assert runtime.store.failed_open_ids(NIGHT) == [broken]

    emulator.clear_faults()
    summary = run_sync(runtime, "retry", NIGHT, SyncOptions(retry_failed=True, **FAST))

    assert runtime.store.batch_members("retry", 0) == [broken]
    assert summary["users_planned"] == summary["users_synced"] == 1
    assert summary["users_failed"] == 0
    assert runtime.store.failed_open_ids(NIGHT) == []
    again = run_sync(runtime, "retry-again", NIGHT, SyncOptions(retry_failed=True, **FAST))
    assert again["users_planned"] == 0
    assert again["batches"] == 0


def test_retry_failed_with_open_ids_takes_only_those_that_failed(runtime, emulator):
    users = [onboard(runtime, emulator, scopes=["portability.all.ongoing"]) for _ in range(3)]
    for user in users[:2]:
        emulator.fault("corrupt_zip", open_id=user, count=None)
    with pytest.raises(SyncRunFailed):
        run_sync(runtime, "night", NIGHT, SyncOptions(max_failure_rate=0.0, **FAST))
    emulator.clear_faults()

    plan_run(runtime, "retry", NIGHT, SyncOptions(retry_failed=True, open_ids=(users[1], users[2])))

    assert runtime.store.batch_members("retry", 0) == [users[1]]


def test_the_summary_reads_as_a_table():
    text = render_summary(
        {
            "run_id": "manual__1",
            "mode": "sync",
            "snapshot_date": "2026-11-20",
            "users_planned": 3,
            "users_synced": 2,
            "users_failed": 1,
            "failure_rate": 1 / 3,
            "batches": 1,
            "failed_by_reason": {"archive_corrupt": 1},
            "left_out": [{"fingerprint": "abcdef0123", "index": 2, "reason": "needs_reauth: x"}],
            "api_calls": {"add": 3, "download": 3},
            "bytes_downloaded": 12345,
            "rows_per_table": {"likes": 1200, "posts": 0},
        }
    )
    assert text.splitlines() == [
        "run manual__1: sync of 2026-11-20",
        "  users       planned 3, synced 2, failed 1 (33.3%), waiting 0, in 1 batch(es)",
        "  failed           1  archive_corrupt",
        "  left out    abcdef0123 (open_ids[2]): needs_reauth: x",
        "  api calls   add 3, download 3",
        "  downloaded  12,345 bytes",
        "  rows added",
        "    likes       1,200",
    ]


def test_a_backfill_that_kept_users_together_says_why_batch_size_was_not_kept(runtime, emulator, caplog):
    for _ in range(4):
        onboard(runtime, emulator, scopes=["portability.all.ongoing"])
    run_sync(runtime, "night", NIGHT, SyncOptions(batch_size=4, **FAST))

    with caplog.at_level(logging.WARNING, logger="tiktok_portability.sync.plan"):
        numbers = plan_run(runtime, "rebuild", NIGHT, SyncOptions(batch_size=2, reprocess_from_raw=True))

    assert len(numbers) == 1
    assert "batch_size 2 not kept for 1 batch(es) of 4 users" in caplog.text


def test_records_kept_in_other_records_and_parse_errors_are_reported_by_section(runtime, emulator):
    onboard(runtime, emulator, scopes=["portability.all.ongoing"])
    plan_run(runtime, "other", NIGHT, SyncOptions(batch_size=10, **FAST))
    from tiktok_portability.sync.engine import run_batch

    reports = run_batch(runtime, "other", 0, NIGHT, SyncOptions(batch_size=10, **FAST))
    normalize = next(r for r in reports if r["step"] == "normalize")

    summary = summarize_run(runtime, "other", SyncOptions(**FAST), [normalize, normalize])

    # The synthetic exports hold sections no typed table reads (device status, live comments...).
    assert normalize["other_records"]
    assert sum(normalize["other_records"].values()) == normalize["rows"]["other_records"]
    assert summary["other_records_by_section"] == {s: 2 * n for s, n in normalize["other_records"].items()}
    assert summary["record_errors_by_section"] == {}
    # transfers list shows the same per user and night.
    (transfer,) = runtime.store.transfers_for_run("other")
    assert transfer.normalize_counts == {"other_records": normalize["other_records"], "record_errors": {}}


def test_the_summary_lists_other_records_and_parse_errors_by_section():
    text = render_summary(
        {
            "run_id": "r",
            "mode": "sync",
            "snapshot_date": "2026-11-20",
            "record_errors": 3,
            "other_records_by_section": {"Tiktok Live / Go Live History / GoLiveList": 12},
            "record_errors_by_section": {"Your Activity / Watch History / VideoList": 3},
        }
    )
    assert text.splitlines()[-3:] == [
        "  record errors 3",
        "  other records        12  Tiktok Live / Go Live History / GoLiveList",
        "  parse errors          3  Your Activity / Watch History / VideoList",
    ]


def test_a_batch_whose_steps_never_finished_fails_the_run_naming_it(runtime, emulator):
    # Under Airflow a batch whose download failed for good never reaches normalize: its report is
    # missing (None) and its users stay ready. That must not be a green run.
    for _ in range(4):
        onboard(runtime, emulator, scopes=["portability.all.ongoing"])
    options = SyncOptions(batch_size=2, **FAST)
    assert plan_run(runtime, "half", NIGHT, options) == [0, 1]
    from tiktok_portability.sync.engine import run_batch

    reports = run_batch(runtime, "half", 0, NIGHT, options)
    with pytest.raises(SyncRunFailed, match=r"1 of 2 batches did not finish \(sync_batch \[1\]\)") as err:
        summarize_run(runtime, "half", options, [*reports, None])
    assert err.value.summary["batches_unfinished"] == [1]
    assert "Downstream" in str(err.value)
    assert "unfinished  batches 1" in render_summary(err.value.summary)
