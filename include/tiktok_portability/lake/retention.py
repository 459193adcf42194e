"""Raw retention: raw archives older than N days are deleted, each user's latest archive is kept.

Every night stores each user's full export again, so the raw zone grows by the whole user base's
history every night (~1 TB a night at 100,000 users of ~10 MB). The tables never need the old
archives: a commit reads the users' ledgers, not earlier archives. Only a rebuild of a date from
the raw zone (``Lake.reprocess``, a backfill or a ``reprocess_from_raw`` run) needs that date's
archives, so a date that lost any archive can no longer be rebuilt byte for byte: rebuilding it
from the archives that are left would rewrite its batches without the users whose archives are
gone. Such a date is marked before anything is deleted (``_audit/retention/dates/``), and
:func:`check_rebuildable` refuses it.

Each user's latest archive stays whatever its age (a user who revoked the app a year ago keeps
their last export), so every user's newest history can still be read from the raw zone. "Latest"
is the newest date holding anything of the user: an interrupted upload (a zip without manifest)
counts, as the download task's retry completes it with the same request id.

Keys::

    _audit/retention/runs/<YYYY-MM-DD>/<retention_id>.json      one audit record per run that deleted
    _audit/retention/dates/snapshot_date=<D>.json               marker: D was pruned (by which runs)

Cost per night at 100,000 users, once the backlog is gone (one newly expired date): a folder
listing of that date and of the newest date (~100 requests each on S3), a listing with sizes of
the expired date (~200), and batched deletes (~200 DeleteObjects requests).
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import Any

from tiktok_portability import clock
from tiktok_portability.lake import keys
from tiktok_portability.lake.errors import LakeError, RawDatePruned
from tiktok_portability.lake.raw import RawArchiveRef
from tiktok_portability.lake.storage import Storage

log = logging.getLogger(__name__)

RETENTION_DAYS_ENV = "TIKTOK_RAW_RETENTION_DAYS"
DEFAULT_RETENTION_DAYS = 30
AUDIT = "_audit/retention"
RUNS = f"{AUDIT}/runs"
DATES = f"{AUDIT}/dates"
RAW = "raw"


def retention_days(value: str | int | None = None) -> int:
    """Days of raw archives to keep: ``value``, else ``$TIKTOK_RAW_RETENTION_DAYS``, else 30; 0 keeps
    everything forever."""
    if value is None or value == "":
        value = os.environ.get(RETENTION_DAYS_ENV, "").strip() or DEFAULT_RETENTION_DAYS
    try:
        days = int(value)
    except (TypeError, ValueError):
        raise LakeError(f"{RETENTION_DAYS_ENV}={value!r} is not a whole number of days") from None
    if days < 0:
        raise LakeError(f"{RETENTION_DAYS_ENV}={days} is negative (0 keeps raw archives forever)")
    return days


def date_marker(snapshot_date: str) -> str:
    return f"{DATES}/{keys.partition(snapshot_date)}.json"


@dataclass
class DatePruning:
    """What one run deleted (or, dry, would delete) on one expired snapshot date."""

    archives_deleted: int = 0
    archives_kept: int = 0
    """Archives left because they are their user's latest."""
    objects_deleted: int = 0
    bytes_deleted: int = 0


@dataclass
class RetentionRecord:
    """The audit record of one retention run; it names dates and counts, never a user."""

    retention_id: str
    retention_days: int
    today: str
    cutoff: str
    """Archives of snapshot dates before this one are expired (empty when retention is off)."""
    requested_by: str
    dry_run: bool
    started_at: str
    completed_at: str = ""
    status: str = "running"
    dates: dict[str, DatePruning] = field(default_factory=dict)
    audit_key: str | None = None
    """Where the record is stored; None when nothing was deleted (nothing is written then)."""

    @property
    def archives_deleted(self) -> int:
        return sum(d.archives_deleted for d in self.dates.values())

    @property
    def bytes_deleted(self) -> int:
        return sum(d.bytes_deleted for d in self.dates.values())

    @property
    def dates_pruned(self) -> list[str]:
        """Dates that lost an archive in this run: they can no longer be rebuilt byte for byte."""
        return sorted(d for d, p in self.dates.items() if p.archives_deleted or p.objects_deleted)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(
            archives_deleted=self.archives_deleted,
            bytes_deleted=self.bytes_deleted,
            dates_pruned=self.dates_pruned,
        )
        return data


def pruned_dates(storage: Storage, snapshot_dates: Iterable[str]) -> dict[str, dict]:
    """``{date: marker}`` of the given dates that raw retention pruned (one existence check each)."""
    found = {}
    for day in snapshot_dates:
        key = date_marker(day)
        if storage.exists(key):
            found[day] = json.loads(storage.get_bytes(key))
    return found


def check_rebuildable(storage: Storage, snapshot_dates: Iterable[str]) -> None:
    """Raise :class:`RawDatePruned` when any of the dates lost raw archives to retention."""
    pruned = pruned_dates(storage, snapshot_dates)
    if not pruned:
        return
    first = min(pruned)
    marker = pruned[first]
    more = f" (and {len(pruned) - 1} more: {', '.join(sorted(pruned)[1:6])})" if len(pruned) > 1 else ""
    raise RawDatePruned(
        f"snapshot_date {first}{more} cannot be rebuilt from the raw zone: raw retention "
        f"({RETENTION_DAYS_ENV}) deleted {marker.get('archives_deleted', '?')} of its archives on "
        f"{marker.get('last_pruned_at', '?')} (audit records under {AUDIT}/runs/), so a rebuild "
        "would rewrite its batches without those users' rows. Its tables stay as committed; only "
        "dates without a retention marker can be rebuilt",
        sorted(pruned),
    )


def _user_of(key: str) -> str:
    """``raw/snapshot_date=D/user=<h>/...`` -> ``<h>``."""
    return key.split("/")[2].removeprefix("user=")


def _date_of(folder: str) -> str | None:
    part = folder.rsplit("/", 1)[-1]
    return part.removeprefix("snapshot_date=") if part.startswith("snapshot_date=") else None


def _folder_users(storage: Storage, day: str) -> set[str]:
    folders = storage.folders(f"{RAW}/{keys.partition(day)}")
    return {f.rsplit("/", 1)[-1].removeprefix("user=") for f in folders}


def _kept(storage: Storage, objects: dict[str, int]) -> set[str]:
    """The keys of a folder holding its user's latest archive that stay: that archive and its manifest.

    The latest is the newest request fetched (as the sync's rebuild picks it). A folder without any
    manifest holds only an upload in progress or an interrupted one: nothing tells which is
    complete, so all of it stays.
    """
    manifests = sorted(k for k in objects if k.endswith(".json"))
    if not manifests:
        return set(objects)
    if len(manifests) == 1:
        latest = manifests[0]
    else:
        refs = {k: RawArchiveRef.from_dict(json.loads(storage.get_bytes(k))) for k in manifests}
        latest = max(manifests, key=lambda k: (refs[k].fetched_at, refs[k].request_id))
    return {latest, latest.removesuffix(".json") + ".zip"}


def apply_retention(
    storage: Storage,
    *,
    days: int,
    today: date | str | None = None,
    dry_run: bool = False,
    requested_by: str = "unknown",
) -> RetentionRecord:
    """Delete raw archives of snapshot dates more than ``days`` before ``today`` (default: the
    clock's date), keeping each user's latest archive; ``days=0`` deletes nothing.

    Idempotent: a second run finds nothing more to delete. Each date is marked pruned before its
    first object is deleted, so an interrupted run leaves no date that looks whole but is not;
    running again finishes it.
    """
    day = keys.snapshot_date_str(today or clock.utcnow().date())
    started = clock.utcnow()
    retention_id = uuid.uuid4().hex
    cutoff = (date.fromisoformat(day) - timedelta(days=days)).isoformat() if days > 0 else ""
    record = RetentionRecord(
        retention_id=retention_id,
        retention_days=days,
        today=day,
        cutoff=cutoff,
        requested_by=requested_by,
        dry_run=dry_run,
        started_at=started.isoformat(timespec="seconds"),
    )
    audit_key = f"{RUNS}/{started.date().isoformat()}/{retention_id}.json"
    dates = sorted(d for d in map(_date_of, storage.folders(RAW)) if d) if days > 0 else []
    expired = [d for d in dates if d < cutoff]
    # Whose latest archive lies on an expired date? Users of the expired dates, then the newest
    # date each of them has (newest dates first; usually the newest date alone answers).
    users_on = {d: _folder_users(storage, d) for d in expired}
    undecided = set().union(*users_on.values()) if users_on else set()
    newest: dict[str, str] = {}
    for d in reversed(dates):
        if not undecided:
            break
        found = undecided & (users_on[d] if d in users_on else _folder_users(storage, d))
        newest.update(dict.fromkeys(found, d))
        undecided -= found
    for d in expired:
        folders: dict[str, dict[str, int]] = defaultdict(dict)
        for key, size in storage.sizes(f"{RAW}/{keys.partition(d)}").items():
            folders[_user_of(key)][key] = size
        pruning = DatePruning()
        doomed: dict[str, int] = {}
        for user, objects in sorted(folders.items()):
            # A user absent from the listing of the newest dates (a new folder appeared since)
            # has nothing newer known: keep their archive as if it were the latest.
            kept = _kept(storage, objects) if newest.get(user, d) == d else set()
            pruning.archives_kept += sum(1 for k in kept if k.endswith(".zip"))
            doomed.update((k, size) for k, size in objects.items() if k not in kept)
        pruning.archives_deleted = sum(1 for k in doomed if k.endswith(".zip"))
        pruning.objects_deleted = len(doomed)
        pruning.bytes_deleted = sum(doomed.values())
        record.dates[d] = pruning
        if dry_run or not doomed:
            continue
        _mark(storage, d, record, pruning)
        record.audit_key = audit_key
        _put_record(storage, record)
        # Manifests first: an archive without its manifest is ignored by every reader (and by
        # raw.list), so an interruption here never exposes a manifest whose archive is gone.
        storage.delete_many(sorted(k for k in doomed if k.endswith(".json")))
        storage.delete_many(sorted(k for k in doomed if not k.endswith(".json")))
        log.info(
            "raw retention snapshot_date=%s archives_deleted=%d kept_latest=%d bytes=%d",
            d,
            pruning.archives_deleted,
            pruning.archives_kept,
            pruning.bytes_deleted,
        )
    record.status = "dry_run" if dry_run else "completed"
    record.completed_at = clock.utcnow().isoformat(timespec="seconds")
    if record.audit_key:
        _put_record(storage, record)
    log.info(
        "raw retention done days=%d cutoff=%s dry_run=%s dates_pruned=%d archives_deleted=%d "
        "bytes=%d audit=%s",
        days,
        cutoff or "-",
        dry_run,
        len(record.dates_pruned),
        record.archives_deleted,
        record.bytes_deleted,
        record.audit_key or "-",
    )
    return record


def _put_record(storage: Storage, record: RetentionRecord) -> None:
    assert record.audit_key is not None
    storage.put_bytes(record.audit_key, json.dumps(record.to_dict(), sort_keys=True, indent=1).encode())


def _mark(storage: Storage, day: str, record: RetentionRecord, pruning: DatePruning) -> None:
    """Record (before deleting) that ``day`` lost archives, adding to what earlier runs deleted."""
    key = date_marker(day)
    marker = json.loads(storage.get_bytes(key)) if storage.exists(key) else {}
    now = clock.utcnow().isoformat(timespec="seconds")
    marker = {
        "snapshot_date": day,
        "first_pruned_at": marker.get("first_pruned_at", now),
        "last_pruned_at": now,
        "archives_deleted": int(marker.get("archives_deleted", 0)) + pruning.archives_deleted,
        "retention_ids": [*marker.get("retention_ids", []), record.retention_id],
    }
    storage.put_bytes(key, json.dumps(marker, sort_keys=True, indent=1).encode())


def retention_records(storage: Storage) -> list[dict[str, Any]]:
    """Every stored retention audit record, oldest run first."""
    found = [json.loads(storage.get_bytes(k)) for k in storage.list(RUNS) if k.endswith(".json")]
    return sorted(found, key=lambda r: (r.get("started_at", ""), r.get("retention_id", "")))
