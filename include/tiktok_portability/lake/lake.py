"""The lake: raw zone + incremental, atomic, idempotent table commits + reprocess + erasure.

Layout under the lake root (local folder or ``s3://bucket/prefix``)::

    raw/snapshot_date=D/user=<hash>/<request_id>.zip|.json   immutable archives + manifests
    <table>/snapshot_date=D/batch-<batch_id>.parquet         one file per (table, date, batch)
    _state/user=<hash>/<D>.state.arrow                       each user's state after D (ledger.py)
    _commits/snapshot_date=D/batch-<batch_id>.json           written last: what the batch holds
    _audit/erasure/<date>/<erasure_id>.json                  erasure audit records
    _audit/retention/                                        raw retention audit records, pruned dates
    _tmp/                                                    staging (never under a table glob)

:class:`Lake` is the front; the work is in ``commit`` (one batch), ``reprocess`` (dates again
from the raw zone) and ``erase`` (one user, audited).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import pyarrow as pa

from tiktok_portability.lake import commit, erase, files, keys, reprocess, retention
from tiktok_portability.lake.manifests import date_manifests
from tiktok_portability.lake.normalizer import ArchiveNormalizer, DefaultNormalizer
from tiktok_portability.lake.raw import RawArchiveRef, RawZone
from tiktok_portability.lake.results import BatchResult, ErasureRecord
from tiktok_portability.lake.storage import Storage, storage_from_uri


class Lake:
    def __init__(self, storage: Storage, *, normalizer: ArchiveNormalizer | None = None) -> None:
        self.storage = storage
        self.raw = RawZone(storage)
        self._normalizer = normalizer

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

    # -- writing ---------------------------------------------------------------------------

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
        return commit.commit_batch(self.storage, self.raw, self.normalizer, refs, snapshot_date, batch_id)

    def reprocess(self, snapshot_date: date | str, *, and_later: bool = False) -> list[BatchResult]:
        """Rebuild a date's tables from its raw archives, keeping the existing batch ids.

        When the rebuild changes a date's state (a new normalizer maps more, say), each result
        names the later dates in ``later_dates_stale``; ``and_later=True`` rebuilds every
        committed date from this one on, in order, which is what a mapping upgrade needs.
        """
        return reprocess.reprocess(
            self.storage, self.raw, self.normalize_batch, snapshot_date, and_later=and_later
        )

    def apply_retention(
        self,
        days: int | None = None,
        *,
        today: date | str | None = None,
        dry_run: bool = False,
        requested_by: str = "unknown",
    ) -> retention.RetentionRecord:
        """Delete raw archives older than ``days`` (default ``$TIKTOK_RAW_RETENTION_DAYS`` or 30;
        0: keep forever), keeping each user's latest; audited under ``_audit/retention/``. Dates
        that lose an archive can no longer be rebuilt (:meth:`reprocess` refuses them)."""
        return retention.apply_retention(
            self.storage,
            days=retention.retention_days(days),
            today=today,
            dry_run=dry_run,
            requested_by=requested_by,
        )

    def pruned_dates(self, snapshot_dates: Sequence[date | str]) -> list[str]:
        """The given dates that raw retention pruned: they can no longer be rebuilt from the raw zone."""
        days = [keys.snapshot_date_str(d) for d in snapshot_dates]
        return sorted(retention.pruned_dates(self.storage, days))

    def erase_user(
        self, open_id: str, *, requested_by: str = "unknown", full_scan: bool = False
    ) -> ErasureRecord:
        """Delete a user's rows from the tables, their raw archives and ledger; write an audit record.

        Only the batches the user's ledger names are read, or every table file and manifest with
        ``full_scan=True`` (an audit of a lake whose history is in doubt).
        """
        return erase.erase_user(
            self.storage, self.raw, open_id, requested_by=requested_by, full_scan=full_scan
        )

    # -- reading ---------------------------------------------------------------------------

    def holders(self, snapshot_date: date | str) -> dict[str, str]:
        """``{user key: batch id}`` of the users already committed on a date (one listing when
        none is; else one read per batch of that date)."""
        day = keys.snapshot_date_str(snapshot_date)
        return {
            user: batch_id
            for batch_id, (_, manifest) in sorted(date_manifests(self.storage, day).items())
            for user in manifest.get("users", [])
        }

    def tables(self) -> list[str]:
        """Tables that hold at least one file."""
        return [name for name in files.table_folders(self.storage) if files.parquet_files(self.storage, name)]

    def read_table(self, table: str, snapshot_date: date | str | None = None) -> pa.Table | None:
        """Every row of a table (or of one date), for tests and small inspections."""
        day = keys.snapshot_date_str(snapshot_date) if snapshot_date is not None else None
        parts = [
            files.read_file(self.storage, k)
            for k in files.parquet_files(self.storage, table)
            if day is None or files.partition_date(k) == day
        ]
        return pa.concat_tables(parts, promote_options="default") if parts else None

    def erasure_records(self) -> list[ErasureRecord]:
        return erase.erasure_records(self.storage)


__all__ = ["Lake"]
