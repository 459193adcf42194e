"""The lake: raw zone + incremental, atomic, idempotent table commits + reprocess + erasure.

Layout under the lake root (local folder or ``s3://bucket/prefix``)::

    raw/snapshot_date=D/user=<hash>/<request_id>.zip|.json   immutable archives + manifests
    <table>/snapshot_date=D/batch-<batch_id>.parquet         one file per (table, date, batch)
    _state/user=<hash>/<D>.state.arrow                       each user's state after D (ledger.py)
    _commits/snapshot_date=D/batch-<batch_id>.json           written last: what the batch holds
    _audit/erasure/<date>/<erasure_id>.json                  erasure audit records
    _tmp/                                                    staging (never under a table glob)
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from tiktok_portability import clock
from tiktok_portability.lake import files, keys
from tiktok_portability.lake.batch import BatchStage
from tiktok_portability.lake.errors import CommitError, LakeError, StorageError
from tiktok_portability.lake.ledger import (
    STATE,
    PreviousState,
    batch_of,
    entry_key,
    entry_name,
    load_previous,
    read_ledger,
    same_state,
    user_prefix,
    write_state,
)
from tiktok_portability.lake.normalizer import ArchiveNormalizer, DefaultNormalizer
from tiktok_portability.lake.raw import RawArchiveRef, RawZone
from tiktok_portability.lake.results import ArchiveFailure, BatchResult, ErasureRecord
from tiktok_portability.lake.storage import Storage, storage_from_uri
from tiktok_portability.redact import fingerprint

log = logging.getLogger(__name__)

# Where lakes written before the per-user ledger kept their per-batch watermark files.
LEGACY_WATERMARKS = "_watermarks"


@dataclass
class _Publish:
    """Everything a batch will make visible, staged locally, published in a fixed order."""

    files: list[tuple[str, Any]]
    stale: list[str]
    rewrites: list[tuple[str, Any]]
    deletes: list[str]
    manifests: list[tuple[str, dict]]
    # Each user's ledger entry for the date (key, staged file), then entries to delete.
    ledger: list[tuple[str, Path]] = field(default_factory=list)
    ledger_stale: list[str] = field(default_factory=list)


class Lake:
    def __init__(self, storage: Storage, *, normalizer: ArchiveNormalizer | None = None) -> None:
        self.storage = storage
        self.raw = RawZone(storage)
        self._normalizer = normalizer
        self._layout_checked = False

    @classmethod
    def from_uri(
        cls,
        uri: str,
        *,
        s3_endpoint_url: str | None = None,
        boto3_session: Any = None,
        normalizer: ArchiveNormalizer | None = None,
    ) -> Lake:
        """``/path``, ``file:///path`` or ``s3://bucket/prefix`` (credentials: AWS chain or session)."""
        storage = storage_from_uri(uri, s3_endpoint_url=s3_endpoint_url, boto3_session=boto3_session)
        return cls(storage, normalizer=normalizer)

    def __repr__(self) -> str:
        return f"Lake({self.storage.uri()!r})"

    @property
    def normalizer(self) -> ArchiveNormalizer:
        if self._normalizer is None:
            self._normalizer = DefaultNormalizer()
        return self._normalizer

    def table_uri(self, table: str) -> str:
        """A glob for readers: ``read_parquet(lake.table_uri('likes'), hive_partitioning=true)``."""
        return f"{self.storage.uri(table)}/*/*.parquet"

    # -- batches ---------------------------------------------------------------------------

    def normalize_batch(
        self,
        refs: Sequence[RawArchiveRef],
        snapshot_date: date | str,
        batch_id: str | None = None,
    ) -> BatchResult:
        """Normalize raw archives of one date into the tables, as one idempotent commit.

        A bad archive is reported in ``result.errors`` and contributes no row; storage failures
        abort the whole batch (:class:`CommitError`) so the caller's retry can redo it. Re-running
        the same batch id rewrites the same files with the same rows; a user re-synced in another
        batch is removed from the batch that held them before.
        """
        day = keys.snapshot_date_str(snapshot_date)
        refs = [r if isinstance(r, RawArchiveRef) else RawArchiveRef.from_dict(r) for r in refs]
        if batch_id is None:
            batch_id = keys.default_batch_id([r.open_id for r in refs])
        batch_id = keys.check_batch_id(batch_id)
        result = BatchResult(batch_id=batch_id, snapshot_date=day)
        self._check_layout()
        chosen = self._choose(refs, day, result)
        normalizer = self.normalizer
        specs = normalizer.specs
        previous = load_previous(self.storage, specs, sorted({r.open_id for r in chosen}), day)
        ok: list[RawArchiveRef] = []
        try:
            with self.storage.staging_dir() as folder:
                stage = BatchStage(folder, specs)
                ledger: list[tuple[str, Path]] = []
                stale: set[str] = set()
                (folder / "ledger").mkdir()
                for ref in chosen:
                    archive = stage.new_archive(ref, previous)
                    summary: dict[str, Any] = {}
                    try:
                        with self.raw.open(ref) as path:
                            batches = normalizer.normalize(path, ref, summary)
                            for table, batch in batches:
                                archive.add(table, batch)
                        archive.finish(summary.get("tables_present") or ())
                    except StorageError:
                        archive.discard()
                        raise
                    except Exception as exc:  # one archive's bad input never fails the batch
                        archive.discard()
                        reason = f"{type(exc).__name__}: {exc}"
                        result.errors.append(ArchiveFailure(ref.open_id, ref.request_id, ref.key, reason))
                        log.warning(
                            "archive not loaded user=%s request_id=%s key=%s reason=%s",
                            fingerprint(ref.open_id),
                            ref.request_id,
                            ref.key,
                            reason,
                        )
                        continue
                    finally:
                        result.reports[str(ref.request_id)] = summary
                    stage.accept(archive)
                    ok.append(ref)
                    sets_at = dict(previous.set_dates.get(ref.open_id, {}))
                    sets_at.update(dict.fromkeys(archive.next_sets, day))
                    state = write_state(
                        folder / "ledger" / f"{len(ledger)}.arrow",
                        specs,
                        batch_id=batch_id,
                        watermarks=archive.watermarks,
                        changed_sets=archive.next_sets,
                        sets_at=sets_at,
                    )
                    ledger.append((entry_key(ref.open_id, day), state))
                    stale.update(self._later_dates_stale(previous, ref.open_id, day, state))
                outputs = stage.close()
                plan = self._plan(day, batch_id, outputs, ok, result, folder, previous)
                plan.ledger = ledger
                self._publish(plan)
        except StorageError as exc:
            raise CommitError(f"batch {batch_id} of {day} not committed: {exc}") from exc
        result.loaded = [r.request_id for r in ok]
        result.later_dates_stale = sorted(stale)
        if stale:
            log.warning(
                "batch %s rebuilt %s with results that differ from before; later dates derived "
                "from it are stale: %s. Reprocess them in order: `tiktok-portability lake reprocess "
                "--snapshot-date %s --and-later`",
                batch_id,
                day,
                ", ".join(result.later_dates_stale),
                day,
            )
        log.info(
            "batch committed batch_id=%s snapshot_date=%s loaded=%d failed=%d rows=%d",
            batch_id,
            day,
            len(ok),
            len(result.errors),
            sum(result.rows.values()),
        )
        return result

    def _later_dates_stale(self, previous: PreviousState, open_id: str, day: str, state: Path) -> list[str]:
        """Dates after ``day`` that were derived from a different state of this user on ``day``.

        Only a rebuilt past date has later dates, so a nightly commit reads nothing more here.
        """
        ledger = previous.ledgers.get(open_id, {})
        later = sorted(d for d in ledger if d > day)
        if not later:
            return []
        old = ledger.get(day)
        if old is not None and same_state(self.storage, old, state):
            return []
        return later

    def _choose(self, refs: Sequence[RawArchiveRef], day: str, result: BatchResult) -> list[RawArchiveRef]:
        latest: dict[str, RawArchiveRef] = {}
        for ref in refs:
            if ref.snapshot_date != day:
                reason = f"archive is dated {ref.snapshot_date}, batch is {day}"
                result.errors.append(ArchiveFailure(ref.open_id, ref.request_id, ref.key, reason))
                continue
            held = latest.get(ref.open_id)
            if held is None or ref.request_id > held.request_id:
                if held is not None:
                    result.skipped.append(held.request_id)
                latest[ref.open_id] = ref
            else:
                result.skipped.append(ref.request_id)
        chosen = sorted(latest.values(), key=lambda r: (r.open_id, r.request_id))
        if chosen:
            # The biggest archive goes first: the first archive writes straight into the batch's
            # empty Parquet files, so its encoding overlaps its decoding (lake.batch); the others'
            # rows wait until they normalized cleanly. The rest keep their open_id order.
            biggest = max(chosen, key=lambda r: r.size)  # the first of equals: deterministic
            chosen.remove(biggest)
            chosen.insert(0, biggest)
        return chosen

    def _manifests(self, day: str) -> dict[str, tuple[str, dict]]:
        """Every commit manifest of a date (reprocessing reads them all; commits never do)."""
        found = {}
        for key in self.storage.list(f"_commits/{keys.partition(day)}"):
            if key.endswith(".json"):
                manifest = json.loads(self.storage.get_bytes(key))
                found[manifest["batch_id"]] = (key, manifest)
        return found

    def holders(self, snapshot_date: date | str) -> dict[str, str]:
        """``{user key: batch id}`` of the users already committed on a date (one listing when
        none is; else one read per batch of that date)."""
        day = keys.snapshot_date_str(snapshot_date)
        return {
            user: batch_id
            for batch_id, (_, manifest) in sorted(self._manifests(day).items())
            for user in manifest.get("users", [])
        }

    def _manifest(self, day: str, batch_id: str) -> tuple[str, dict] | None:
        key = keys.commit_manifest(day, batch_id)
        if not self.storage.exists(key):
            return None
        return key, json.loads(self.storage.get_bytes(key))

    def _plan(self, day, batch_id, outputs, ok, result, folder, previous: PreviousState) -> _Publish:
        plan = _Publish(files=[], stale=[], rewrites=[], deletes=[], manifests=[])
        for table, (path, rows) in sorted(outputs.items()):
            if path is None:
                continue
            plan.files.append((keys.table_file(table, day, batch_id), path))
            result.rows[table] = rows
        result.files = [k for k, _ in plan.files]
        users = {keys.user_key(r.open_id) for r in ok}
        own = self._manifest(day, batch_id)
        if own is not None:
            plan.stale = sorted(set(own[1]["files"]) - set(result.files))
            # Users this batch held before and no longer does (their archive failed this time):
            # their ledger entries for the date go with their rows.
            gone = sorted(set(own[1]["users"]) - users)
            plan.ledger_stale = [f"{STATE}/user={user}/{entry_name(day)}" for user in gone]
        # Other batches holding these users on this date (a re-sync): named by the users' ledgers.
        holders = {previous.holder(self.storage, r.open_id, day) for r in ok} - {None, batch_id}
        open_ids = pa.array(sorted({r.open_id for r in ok}), pa.string())
        for other_id in sorted(holders):
            found = self._manifest(day, other_id)
            if found is None:
                continue
            mkey, manifest = found
            kept_files, kept_rows = [], {}
            for fkey in manifest["files"]:
                table = files.read_file(self.storage, fkey)
                rest = table.filter(pc.invert(pc.is_in(table.column("open_id"), open_ids)))
                name = fkey.split("/", 1)[0]
                if rest.num_rows == 0:
                    plan.deletes.append(fkey)
                    continue
                kept_files.append(fkey)
                kept_rows[name] = rest.num_rows
                if rest.num_rows != table.num_rows:
                    local = files.write_table(folder / "rewrite" / fkey, rest)
                    plan.rewrites.append((fkey, local))
            manifest = {
                **manifest,
                "users": sorted(set(manifest["users"]) - users),
                "files": kept_files,
                "rows": kept_rows,
            }
            plan.manifests.append((mkey, manifest))
        result.rewritten = [k for k, _ in plan.rewrites] + plan.deletes
        own_manifest = {
            "batch_id": batch_id,
            "snapshot_date": day,
            "users": sorted(users),
            "archives": [
                {"user": keys.user_key(r.open_id), "request_id": r.request_id, "sha256": r.sha256} for r in ok
            ],
            "files": result.files,
            "rows": result.rows,
            "failed": len(result.errors),
            "committed_at": clock.utcnow().isoformat(timespec="seconds"),
        }
        plan.manifests.append((keys.commit_manifest(day, batch_id), own_manifest))
        return plan

    def _publish(self, plan: _Publish) -> None:
        # New rows first, then removals elsewhere: a reader racing a re-sync may briefly see a
        # user twice, never not at all. The batch's own manifest goes last.
        for key, path in plan.files:
            self.storage.put_file(key, path)
        for key in plan.stale:
            self.storage.delete(key)
        for key, path in plan.rewrites:
            self.storage.put_file(key, path)
        for key in plan.deletes:
            self.storage.delete(key)
        for key, path in plan.ledger:
            self.storage.put_file(key, path)
        for key in plan.ledger_stale:
            self.storage.delete(key)
        for key, manifest in plan.manifests:
            self.storage.put_bytes(key, json.dumps(manifest, sort_keys=True, indent=1).encode())

    def _check_layout(self) -> None:
        """Refuse to commit into a lake written before the per-user ledger (once per instance).

        Its users have no ledger, so their events would all look new: a silent duplicate load.
        """
        if self._layout_checked:
            return
        if self.storage.list(f"{LEGACY_WATERMARKS}/"):
            raise LakeError(
                f"{self.storage.uri()} was written by a version before the per-user ledger (it has "
                f"{LEGACY_WATERMARKS}/): run `tiktok-portability lake migrate-ledger --lake "
                f"{self.storage.uri()}` once; it rebuilds every date in order from the raw zone"
            )
        self._layout_checked = True

    def migrate_ledger(self) -> list[BatchResult]:
        """Rebuild a pre-ledger lake: every committed date in order, then drop ``_watermarks/``.

        Reprocessing from the first date writes each user's ledger as it goes, and the rows come
        out the same (normalization is a pure function of the raw zone). Safe to re-run.
        """
        self._layout_checked = True
        days = self._committed_dates()
        results = self._reprocess_in_order(days)
        for key in self.storage.list(f"{LEGACY_WATERMARKS}/"):
            self.storage.delete(key)
        log.info("ledger migration done dates=%d batches=%d", len(days), len(results))
        return results

    def _committed_dates(self) -> list[str]:
        return sorted({d for d in map(files.partition_date, self.storage.list("_commits/")) if d})

    def _reprocess_in_order(self, days: list[str]) -> list[BatchResult]:
        """Each date in turn; a later date rebuilt here is no longer stale."""
        results = [result for day in days for result in self.reprocess(day)]
        for result in results:
            result.later_dates_stale = [d for d in result.later_dates_stale if d not in days]
        return results

    def reprocess(self, snapshot_date: date | str, *, and_later: bool = False) -> list[BatchResult]:
        """Rebuild a date's tables from its raw archives, keeping the existing batch ids.

        Later dates were derived from this date's state (watermarks, follower sets). When the
        rebuild changes that state (a new normalizer maps more, say), each result names them in
        ``later_dates_stale``; ``and_later=True`` rebuilds every committed date from this one on,
        in order, which is what a mapping upgrade needs.
        """
        day = keys.snapshot_date_str(snapshot_date)
        if and_later:
            return self._reprocess_in_order([day, *(d for d in self._committed_dates() if d > day)])
        refs = self.raw.list(day)
        by_user: dict[str, list[RawArchiveRef]] = {}
        for ref in refs:
            by_user.setdefault(keys.user_key(ref.open_id), []).append(ref)
        results = []
        for batch_id, (_, manifest) in sorted(self._manifests(day).items()):
            mine = [r for u in manifest["users"] for r in by_user.pop(u, [])]
            if mine:
                results.append(self.normalize_batch(mine, day, batch_id))
        leftovers = [r for group in by_user.values() for r in group]
        if leftovers:
            results.append(self.normalize_batch(leftovers, day))
        return results

    # -- reading ---------------------------------------------------------------------------

    def tables(self) -> list[str]:
        """Tables that hold at least one file."""
        return [name for name in self._table_folders() if files.parquet_files(self.storage, name)]

    def _table_folders(self) -> list[str]:
        """Top-level folders that can hold tables: not the raw zone, not ``_commits`` and kin."""
        return [f for f in self.storage.folders("") if not f.startswith("_") and f != "raw"]

    def read_table(self, table: str, snapshot_date: date | str | None = None) -> pa.Table | None:
        """Every row of a table (or of one date), for tests and small inspections."""
        day = keys.snapshot_date_str(snapshot_date) if snapshot_date is not None else None
        parts = [
            files.read_file(self.storage, k)
            for k in files.parquet_files(self.storage, table)
            if day is None or files.partition_date(k) == day
        ]
        return pa.concat_tables(parts, promote_options="default") if parts else None

    # -- erasure ---------------------------------------------------------------------------

    def erase_user(
        self, open_id: str, *, requested_by: str = "unknown", full_scan: bool = False
    ) -> ErasureRecord:
        """Delete a user's rows from the tables, their raw archives and ledger; write an audit record.

        The user's ledger names the batch that holds them on each date, so only those batches'
        files and manifests are read: the cost follows the user's dates, not the lake's size.
        ``full_scan=True`` reads every table file and manifest instead (an audit of a lake whose
        history is in doubt). The ledger goes last, so an interrupted erasure can be re-run.
        """
        user = keys.user_key(open_id)
        started = clock.utcnow()
        rows: dict[str, int] = {}
        rewritten = deleted = 0
        ledger = read_ledger(self.storage, open_id)
        if full_scan:
            table_keys = [
                k for name in self._table_folders() for k in self.storage.list(name) if k.endswith(".parquet")
            ]
            manifests = {
                k: json.loads(self.storage.get_bytes(k))
                for k in self.storage.list("_commits")
                if k.endswith(".json")
            }
        else:
            holders = {day: batch_of(self.storage, key) for day, key in ledger.items()}
            found = (self._manifest(day, b) for day, b in sorted(holders.items()) if b)
            manifests = dict(m for m in found if m is not None)
            table_keys = [f for manifest in manifests.values() for f in manifest["files"]]
        gone_files: set[str] = set()
        for key in table_keys:
            if not self.storage.exists(key):
                continue
            table = files.read_file(self.storage, key)
            if "open_id" not in table.column_names:
                continue
            mask = pc.fill_null(pc.equal(table.column("open_id"), open_id), False)
            hits = pc.sum(mask).as_py() or 0
            if not hits:
                continue
            name = key.split("/", 1)[0]
            rows[name] = rows.get(name, 0) + hits
            rest = table.filter(pc.invert(mask))
            if rest.num_rows == 0:
                self.storage.delete(key)
                gone_files.add(key)
                deleted += 1
                continue
            with self.storage.staging_dir() as folder:
                self.storage.put_file(key, files.write_table(folder / "erase.parquet", rest))
            rewritten += 1
        for key, manifest in manifests.items():
            if user not in manifest.get("users", []) and not gone_files & set(manifest.get("files", [])):
                continue
            manifest["users"] = [u for u in manifest["users"] if u != user]
            manifest["archives"] = [a for a in manifest.get("archives", []) if a.get("user") != user]
            # Files emptied by the erasure are gone: the manifest must not point at them.
            manifest["files"] = [f for f in manifest.get("files", []) if f not in gone_files]
            present = {f.split("/", 1)[0] for f in manifest["files"]}
            manifest["rows"] = {t: n for t, n in manifest.get("rows", {}).items() if t in present}
            self.storage.put_bytes(key, json.dumps(manifest, sort_keys=True, indent=1).encode())
        raw_deleted = self.raw.delete_user(open_id)
        for key in self.storage.list(user_prefix(open_id)):
            self.storage.delete(key)
            deleted += 1
        erasure_id = uuid.uuid4().hex
        audit_key = f"_audit/erasure/{started.date().isoformat()}/{erasure_id}.json"
        record = ErasureRecord(
            erasure_id=erasure_id,
            user_fingerprint=fingerprint(open_id),
            requested_by=requested_by,
            started_at=started.isoformat(timespec="seconds"),
            completed_at=clock.utcnow().isoformat(timespec="seconds"),
            rows_deleted=dict(sorted(rows.items())),
            files_rewritten=rewritten,
            files_deleted=deleted,
            raw_archives_deleted=raw_deleted,
            audit_key=audit_key,
            scope="full_scan" if full_scan else "ledger",
            files_examined=len(table_keys),
        )
        self.storage.put_bytes(audit_key, json.dumps(record.to_dict(), sort_keys=True, indent=1).encode())
        log.info(
            "user erased user=%s rows=%d raw_archives=%d audit=%s",
            record.user_fingerprint,
            sum(rows.values()),
            raw_deleted,
            audit_key,
        )
        return record

    def erasure_records(self) -> list[ErasureRecord]:
        return [
            ErasureRecord(**json.loads(self.storage.get_bytes(k)))
            for k in self.storage.list("_audit/erasure")
            if k.endswith(".json")
        ]


def summarize(results: Iterable[BatchResult]) -> dict[str, Any]:
    """A JSON-friendly roll-up of batch results (for the CLI and run manifests)."""
    results = list(results)
    rows: dict[str, int] = {}
    errors: list[dict] = []
    record_errors: list[dict] = []
    loaded = 0
    unmapped: set[str] = set()
    for res in results:
        loaded += len(res.loaded)
        errors.extend(
            {"user": fingerprint(e.open_id), "request_id": e.request_id, "key": e.key, "reason": e.reason}
            for e in res.errors
        )
        for table, n in res.rows.items():
            rows[table] = rows.get(table, 0) + n
        for request_id, report in sorted(res.reports.items()):
            unmapped.update(report.get("unmapped_sections") or [])
            record_errors.extend(
                {"request_id": int(request_id), **e}
                for e in report.get("record_errors") or []
                if isinstance(e, Mapping)
            )
    return {
        "archives_loaded": loaded,
        "archives_failed": len(errors),
        "rows": dict(sorted(rows.items())),
        "errors": errors,
        "records_not_parsed": record_errors,
        "unmapped_sections": sorted(unmapped),
        "later_dates_stale": sorted({d for res in results for d in res.later_dates_stale}),
    }


__all__ = ["Lake", "LakeError", "summarize"]
