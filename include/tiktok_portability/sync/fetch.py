"""Download step: ready exports -> the immutable raw zone, with size and checksum.

The archive streams to a scratch file (never memory) and is then put into the raw zone, which is
idempotent for identical bytes: a task retried between the upload and the state update simply
finds the archive stored. No local file outlives the step, so any worker may run the next one.
"""

from __future__ import annotations

import logging
import os
import tempfile
import zipfile
from datetime import date, timedelta
from pathlib import Path

from tiktok_portability.client import TikTokClient
from tiktok_portability.client.errors import AuthError, InvalidRequest, TikTokError
from tiktok_portability.eligibility import GRANT_STATUS
from tiktok_portability.redact import fingerprint
from tiktok_portability.runtime import SyncRuntime
from tiktok_portability.state.models import Transfer
from tiktok_portability.sync import outcomes as oc
from tiktok_portability.sync.options import SyncOptions
from tiktok_portability.sync.readiness import latest_per_user
from tiktok_portability.sync.workers import map_users
from tiktok_portability.tokens import TokenError, ensure_fresh

log = logging.getLogger(__name__)

_FORCE_REFRESH = timedelta(days=400)


def _downloadable(t: Transfer) -> bool:
    if t.request_id is None:
        return False
    if t.status == "ready":
        return True
    return t.status == "failed" and oc.category_of(t.failure_reason) in oc.RETRYABLE_DOWNLOAD


def download_batch(
    runtime: SyncRuntime, run_id: str, batch: int, snapshot_date: date, options: SyncOptions
) -> oc.StepReport:
    """Download every ready export of the batch into the raw zone; per-user failures are recorded."""
    report = oc.StepReport("download", run_id, batch)
    if options.reprocess_from_raw or options.dry_run:
        report.details["mode"] = "reprocess_from_raw" if options.reprocess_from_raw else "dry_run"
        return report
    transfers = latest_per_user(runtime.store.transfers_for_run(run_id, batch))
    todo = [t for t in transfers if _downloadable(t)]
    waiting = sum(1 for t in transfers if t.status == "requested")
    if waiting:
        report.outcomes["not_ready"] = waiting
    scratch = Path(runtime.scratch_dir or tempfile.gettempdir())
    scratch.mkdir(parents=True, exist_ok=True)
    bytes_total = 0
    with runtime.client() as client:

        def one(t: Transfer) -> tuple[str, str | None, int]:
            return _download_one(runtime, client, t, snapshot_date, scratch)

        for outcome, failure, size in map_users(one, todo, options.concurrency):
            report.add(outcome, failure)
            bytes_total += size
    report.details["bytes"] = bytes_total
    log.info(
        "download done run_id=%s batch=%d %s bytes=%d", run_id, batch, dict(report.outcomes), bytes_total
    )
    return report


def _download_one(
    runtime: SyncRuntime, client: TikTokClient, t: Transfer, snapshot_date: date, scratch: Path
) -> tuple[str, str | None, int]:
    store = runtime.store
    store.record_attempt(t.id)

    def fail(category: str, detail: object) -> tuple[str, str, int]:
        why = oc.reason(category, detail)
        store.transition(t.id, "failed", reason=why)
        return "failed", why, 0

    fd, tmp_name = tempfile.mkstemp(prefix="tiktok-", suffix=".zip.part", dir=scratch)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        try:
            token = ensure_fresh(store, client, t.open_id)
            try:
                result = client.download(token, t.request_id, tmp, open_id=t.open_id)
            except AuthError:
                token = ensure_fresh(store, client, t.open_id, _FORCE_REFRESH)
                result = client.download(token, t.request_id, tmp, open_id=t.open_id)
        except TokenError as exc:
            return fail(oc.NEEDS_REAUTH, exc)
        except InvalidRequest as exc:
            return _invalid_download(runtime, client, t, exc)
        except TikTokError as exc:
            return fail(oc.classify(exc), exc)
        if _holds_no_file(tmp):
            # What TikTok may send an account outside the EEA/UK: park the grant, keep no archive.
            why = "TikTok sent an archive with no data (account outside the EEA/UK)"
            store.mark_grant(t.open_id, GRANT_STATUS, oc.reason(oc.INELIGIBLE_REGION, why))
            log.info("grant parked open_id=%s reason=%s", fingerprint(t.open_id), oc.INELIGIBLE_REGION)
            return fail(oc.INELIGIBLE_REGION, why)
        ref = runtime.lake.raw.put_archive(t.open_id, snapshot_date, t.request_id, tmp)
        store.transition(t.id, "downloaded", raw_location=ref.key, raw_size=ref.size, raw_sha256=ref.sha256)
        log.debug(
            "downloaded open_id=%s request_id=%s size=%d", fingerprint(t.open_id), t.request_id, result.size
        )
        return "downloaded", None, ref.size
    finally:
        tmp.unlink(missing_ok=True)


def _holds_no_file(path: Path) -> bool:
    """A verified zip without a single file member (folders only, or nothing at all)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return not any(not info.is_dir() for info in archive.infolist())
    except (zipfile.BadZipFile, OSError):
        return False  # verification already passed; let the normal path report anything odd


def _invalid_download(
    runtime: SyncRuntime, client: TikTokClient, t: Transfer, exc: InvalidRequest
) -> tuple[str, str | None, int]:
    """Download refused: find out whether the four-day window passed (re-requested next night)."""
    store = runtime.store
    try:
        token = ensure_fresh(store, client, t.open_id)
        status = client.check_status(token, t.request_id, open_id=t.open_id)
    except (TikTokError, TokenError):
        status = None
    if status is not None and status.status in ("expired", "cancelled"):
        store.transition(t.id, status.status)
        return status.status, oc.reason(oc.DOWNLOAD_EXPIRED, status.status), 0
    why = oc.reason(oc.INVALID_REQUEST, exc)
    store.transition(t.id, "failed", reason=why)
    return "failed", why, 0
