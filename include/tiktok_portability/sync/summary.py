"""The run summary: users planned, synced, failed by reason, API calls, bytes, rows per table."""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

from tiktok_portability.clock import offset_s
from tiktok_portability.contract import SYNC_DAG_ID
from tiktok_portability.runtime import SyncRuntime
from tiktok_portability.sync import outcomes as oc
from tiktok_portability.sync.options import SyncOptions
from tiktok_portability.sync.readiness import latest_per_user
from tiktok_portability.sync.reasons import OAUTH_START_PATH

log = logging.getLogger(__name__)


class SyncRunFailed(RuntimeError):
    """The run's failure rate passed the threshold; the summary is attached."""

    def __init__(self, message: str, summary: dict[str, Any]) -> None:
        super().__init__(message)
        self.summary = summary


class NothingRebuilt(SyncRunFailed):
    """A reprocess or backfill found no raw archive to rebuild the date from; the lake is unchanged."""


StepReports = Mapping[str, Any] | Iterable[Mapping[str, Any] | None] | None


def step_reports_of(value: StepReports) -> list[Mapping[str, Any]]:
    """The batches' step reports as a list, whatever shape the orchestrator handed over.

    Airflow's real scheduler hands a mapped task group's downstream task the ONE report itself
    (not a list of one) when the group mapped exactly one instance, a sequence when it mapped
    several and nothing or an empty sequence when it mapped none.
    """
    if value is None:
        return []
    if isinstance(value, Mapping):
        return [value]
    reports = []
    for item in value:
        if item is None:
            continue  # a batch whose normalize step did not run (it failed or was skipped)
        if not isinstance(item, Mapping):
            raise TypeError(f"a step report must be a mapping, got {type(item).__name__}: {item!r:.100}")
        reports.append(item)
    return reports


def _pruned(runtime: SyncRuntime, day: str | None) -> str | None:
    """Why ``day`` cannot be rebuilt when raw retention pruned it, else None."""
    from tiktok_portability.lake.errors import RawDatePruned
    from tiktok_portability.lake.retention import check_rebuildable

    if runtime.lake is None or not day:
        return None
    try:
        check_rebuildable(runtime.lake.storage, [str(day)])
    except RawDatePruned as exc:
        return str(exc)
    return None


def summarize_run(
    runtime: SyncRuntime,
    run_id: str,
    options: SyncOptions,
    step_reports: StepReports = (),
) -> dict[str, Any]:
    """Build the summary from the state store (the truth) plus the normalize steps' row counts.

    Raises :class:`NothingRebuilt` when a reprocess found no raw archive for its date, and
    :class:`SyncRunFailed` when more than ``max_failure_rate`` of the planned users failed; both
    messages name what to do next.
    """
    store = runtime.store
    plan = store.run_plan(run_id)
    transfers = latest_per_user(store.transfers_for_run(run_id))
    status = Counter(t.status for t in transfers)
    failures = Counter(oc.category_of(t.failure_reason) for t in transfers if t.status == "failed")
    for t in transfers:
        if t.status in ("expired", "cancelled"):
            failures[oc.DOWNLOAD_EXPIRED if t.status == "expired" else "cancelled"] += 1
    step_reports = step_reports_of(step_reports)
    rows: Counter[str] = Counter()
    record_errors = 0
    other_records: Counter[str] = Counter()
    errors_by_section: Counter[str] = Counter()
    stale: set[str] = set()
    erased_again: set[str] = set()
    for rep in step_reports:
        if rep and rep.get("step") == "normalize":
            rows.update(rep.get("rows", {}) or {})
            record_errors += int(rep.get("record_errors", 0) or 0)
            other_records.update(rep.get("other_records") or {})
            errors_by_section.update(rep.get("record_errors_by_section") or {})
            stale.update(rep.get("later_dates_stale") or ())
            erased_again.update(rep.get("erased_after_commit") or ())
    planned = int(plan["users"]) if plan else 0
    # A batch whose normalize step never reported (a task of the batch failed for good, so the
    # steps after it did not run) left its users short of the lake: the run is not done.
    finished = {int(rep["batch"]) for rep in step_reports if rep.get("step") == "normalize"}
    unfinished = sorted(set(store.run_batches(run_id)) - finished)
    if options.reprocess_from_raw:
        synced = sum(
            int((rep.get("outcomes") or {}).get("normalized", 0))
            for rep in step_reports
            if rep and rep.get("step") == "normalize"
        )
    else:
        synced = status.get("normalized", 0)
    failed = sum(failures.values())
    # Expected ends (consent expired, region not served) are reported but are no pipeline failure.
    expected = sum(n for category, n in failures.items() if category in oc.EXPECTED)
    # Quota usage is counted on the wall clock (TikTok's quota is); plan times follow clock.utcnow().
    calls = store.quota_usage(since=plan["created_at"] - timedelta(seconds=offset_s())) if plan else {}
    summary: dict[str, Any] = {
        "run_id": run_id,
        "snapshot_date": plan["snapshot_date"] if plan else None,
        "mode": plan["mode"] if plan else None,
        "dry_run": options.dry_run,
        "users_planned": planned,
        "batches": plan["batches"] if plan else 0,
        "users_synced": synced,
        "users_failed": failed,
        "users_waiting": status.get("requested", 0) + status.get("ready", 0) + status.get("downloaded", 0),
        "failed_by_reason": dict(sorted(failures.items())),
        "failed_expected": expected,
        "transfers_by_status": dict(sorted(status.items())),
        "api_calls": dict(sorted(calls.items())),
        "bytes_downloaded": sum(
            t.raw_size or 0 for t in transfers if t.status in ("downloaded", "normalized")
        ),
        "rows_per_table": dict(sorted(rows.items())),
        "record_errors": record_errors,
        # By section: records kept in other_records (no typed table holds them) and records
        # that failed to parse, so a new TikTok layout is noticed the first night it appears.
        "other_records_by_section": dict(sorted(other_records.items())),
        "record_errors_by_section": dict(sorted(errors_by_section.items())),
        # A past date rebuilt (reprocess or re-sync) with a different outcome: the later dates
        # derived from it need `tiktok-portability lake reprocess --snapshot-date D --and-later`.
        "later_dates_stale": sorted(stale),
        # Fingerprints of users erased while this run loaded them: their rows were removed again.
        "erased_after_commit": sorted(erased_again),
        # Requested users (open_ids, retry_failed) the plan did not take, with the reason.
        "left_out": list(plan.get("left_out") or []) if plan else [],
        # Tables this run wrote rows to: the only ones that get an Asset event.
        "tables_changed": sorted(t for t, n in rows.items() if n),
        "batches_unfinished": unfinished,
        "reconsent_due": reconsent_due(runtime),
    }
    rate = (failed - expected) / planned if planned else 0.0
    summary["failure_rate"] = round(rate, 4)
    # One JSON line (greppable by Ops, parseable by log pipelines), then the same for people.
    log.info("run summary %s", json.dumps(summary, sort_keys=True, default=str))
    log.info("%s", render_summary(summary))
    day = summary["snapshot_date"]
    if summary["mode"] == "reprocess" and not planned:
        pruned = _pruned(runtime, day)
        if pruned:
            raise NothingRebuilt(f"nothing was rebuilt: {pruned}", summary)
        raise NothingRebuilt(
            f"nothing could be rebuilt for snapshot_date {day}: the raw zone holds no archive of "
            f"{'the requested users on ' if options.open_ids else ''}that date, so the lake is "
            "unchanged. Dates before the first sync (or past raw retention) cannot be rebuilt; "
            "to fetch today's data from TikTok, trigger a normal run instead",
            summary,
        )
    if unfinished:
        names = ", ".join(f"sync_batch [{b}]" for b in unfinished)
        raise SyncRunFailed(
            f"{len(unfinished)} of {summary['batches']} batches did not finish ({names}): one of their "
            "tasks failed, so their users' exports were not all downloaded and loaded. The lake holds "
            "the finished batches' rows. Next: read the failed task's log, fix the cause, then clear "
            "that task with Downstream (each step resumes from the state store)",
            summary,
        )
    if planned and rate > options.max_failure_rate:
        raise SyncRunFailed(
            f"{failed - expected} of {planned} users failed ({rate:.1%} > max_failure_rate "
            f"{options.max_failure_rate:.1%}): {dict(sorted(failures.items()))}. The lake holds "
            f"everyone else's rows. Next: see each user's reason (tiktok-portability transfers "
            f"list --status failed, or the TikTok status view), then trigger {SYNC_DAG_ID} with "
            f'{{"retry_failed": true, "snapshot_date": "{day}"}} to re-sync exactly the users '
            "that failed (clearing this task only re-counts them)",
            summary,
        )
    return summary


def reconsent_due(runtime: SyncRuntime, listed: int = 50) -> dict[str, Any]:
    """Active grants whose refresh deadline (fixed at consent) is near: users to send the link.

    Fingerprints and deadlines only (no open_id in a log); ``grants list`` shows the open_ids.
    """
    due = runtime.store.grants_reconsent_due(runtime.reconsent_notice, limit=10_000)
    return {
        "users": len(due),
        "within_days": runtime.reconsent_notice.days,
        "sign_in_link": runtime.oauth_start_url or OAUTH_START_PATH,
        "soonest": [
            {"fingerprint": g.fingerprint, "deadline": g.refresh_expires_at.isoformat(timespec="seconds")}
            for g in due[:listed]
            if g.refresh_expires_at is not None
        ],
    }


def render_summary(summary: Mapping[str, Any]) -> str:
    """The summary as a short table for people reading the task log."""
    lines = [
        f"run {summary.get('run_id')}: {summary.get('mode')} of {summary.get('snapshot_date')}"
        + (" (dry run)" if summary.get("dry_run") else ""),
        f"  users       planned {summary.get('users_planned', 0)}, synced {summary.get('users_synced', 0)}, "
        f"failed {summary.get('users_failed', 0)} ({float(summary.get('failure_rate', 0)):.1%}"
        + (f", {summary['failed_expected']} expected" if summary.get("failed_expected") else "")
        + "), "
        f"waiting {summary.get('users_waiting', 0)}, in {summary.get('batches', 0)} batch(es)",
    ]
    for reason_name, count in (summary.get("failed_by_reason") or {}).items():
        lines.append(f"  failed      {count:>6}  {reason_name}")
    for entry in summary.get("left_out") or []:
        at = f" (open_ids[{entry['index']}])" if entry.get("index") is not None else ""
        lines.append(f"  left out    {entry['fingerprint']}{at}: {entry['reason']}")
    if summary.get("batches_unfinished"):
        lines.append("  unfinished  batches " + ", ".join(map(str, summary["batches_unfinished"])))
    calls = summary.get("api_calls") or {}
    if calls:
        lines.append("  api calls   " + ", ".join(f"{k} {v}" for k, v in calls.items()))
    lines.append(f"  downloaded  {int(summary.get('bytes_downloaded') or 0):,} bytes")
    rows = {t: n for t, n in (summary.get("rows_per_table") or {}).items() if n}
    if rows:
        width = max(len(t) for t in rows)
        lines.append("  rows added")
        lines.extend(f"    {t:<{width}}  {n:>10,}" for t, n in rows.items())
    else:
        lines.append("  rows added  none")
    if summary.get("record_errors"):
        lines.append(f"  record errors {summary['record_errors']}")
    for label, key in (
        ("other records", "other_records_by_section"),
        ("parse errors", "record_errors_by_section"),
    ):
        lines.extend(f"  {label:<13}  {n:>8,}  {section}" for section, n in (summary.get(key) or {}).items())
    if summary.get("later_dates_stale"):
        lines.append("  later dates to reprocess: " + ", ".join(summary["later_dates_stale"]))
    due = summary.get("reconsent_due") or {}
    if due.get("users"):
        lines.append(
            f"  reconsent due {due['users']} user(s) within {due['within_days']} days: send them "
            f"{due['sign_in_link']} (grants list --reconsent-due shows who)"
        )
    return "\n".join(lines)


def parse_run_summary(log_text: str) -> dict[str, Any]:
    """The last run summary logged in ``log_text`` (task logs, ``airflow dags test`` output)."""
    decoder = json.JSONDecoder()
    for line in reversed(log_text.splitlines()):
        at = line.find("run summary {")
        if at >= 0:
            value, _ = decoder.raw_decode(line[at + len("run summary ") :])
            return value
    raise ValueError("no 'run summary' line in the log")
