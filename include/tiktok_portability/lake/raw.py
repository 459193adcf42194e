"""The raw zone: every downloaded archive kept as-is, immutable, with its size and checksum.

Layout: ``raw/snapshot_date=D/user=<hash>/<request_id>.zip`` plus a ``<request_id>.json`` sidecar
manifest written after the archive (a zip without a manifest is an interrupted upload and is
ignored by :meth:`RawZone.list`). Normalization reads only this zone, so any past date can be
rebuilt without calling TikTok.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

from tiktok_portability import clock
from tiktok_portability.lake import keys
from tiktok_portability.lake.errors import ChecksumMismatch, ImmutableObjectError, RawZoneError
from tiktok_portability.lake.storage import Storage
from tiktok_portability.redact import fingerprint

log = logging.getLogger(__name__)

_CHUNK = 1 << 20


@dataclass(frozen=True)
class RawArchiveRef:
    """One archive in the raw zone. Small and JSON-serializable (safe to pass through XCom)."""

    open_id: str
    snapshot_date: str
    request_id: int
    key: str
    size: int
    sha256: str
    fetched_at: str

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> RawArchiveRef:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__})


def file_digest(path: Path) -> tuple[int, str]:
    """(size, sha256 hex) of a local file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
            size += len(chunk)
    return size, h.hexdigest()


class RawZone:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    def put_archive(
        self,
        open_id: str,
        snapshot_date: date | str,
        request_id: int | str,
        source_path: str | Path,
        *,
        fetched_at: str | None = None,
    ) -> RawArchiveRef:
        """Store an archive. Storing the same bytes again is a no-op; different bytes raise."""
        day = keys.snapshot_date_str(snapshot_date)
        rid = keys.request_id_int(request_id)
        source = Path(source_path)
        if not source.is_file():
            raise RawZoneError(f"archive {source} does not exist or is not a file")
        size, sha = file_digest(source)
        key = keys.raw_archive(day, open_id, rid)
        existing = self._existing(day, open_id, rid, key)
        if existing is not None:
            if (existing.size, existing.sha256) != (size, sha):
                raise ImmutableObjectError(
                    f"raw archive {self.storage.uri(key)} already holds {existing.size} bytes "
                    f"sha256={existing.sha256[:12]}; refusing to replace it with {source} "
                    f"({size} bytes sha256={sha[:12]})"
                )
            log.info("raw archive already stored user=%s request_id=%s", fingerprint(open_id), rid)
            if not self.storage.exists(keys.raw_manifest(day, open_id, rid)):
                self._write_manifest(existing)
            return existing
        self.storage.put_file(key, source)
        ref = RawArchiveRef(
            open_id=open_id,
            snapshot_date=day,
            request_id=rid,
            key=key,
            size=size,
            sha256=sha,
            fetched_at=fetched_at or clock.utcnow().isoformat(timespec="seconds"),
        )
        self._write_manifest(ref)
        log.info(
            "raw archive stored user=%s request_id=%s size=%d sha256=%s",
            fingerprint(open_id),
            rid,
            size,
            sha[:12],
        )
        return ref

    def _write_manifest(self, ref: RawArchiveRef) -> None:
        manifest_key = keys.raw_manifest(ref.snapshot_date, ref.open_id, ref.request_id)
        self.storage.put_bytes(manifest_key, json.dumps(ref.to_dict(), sort_keys=True).encode())

    def _existing(self, day: str, open_id: str, rid: int, key: str) -> RawArchiveRef | None:
        manifest_key = keys.raw_manifest(day, open_id, rid)
        if self.storage.exists(manifest_key):
            return self._read_manifest(manifest_key)
        if not self.storage.exists(key):
            return None
        # An upload that died before its manifest: trust the bytes, not the missing manifest.
        with self.storage.local_copy(key) as path:
            size, sha = file_digest(path)
        return RawArchiveRef(open_id, day, rid, key, size, sha, clock.utcnow().isoformat(timespec="seconds"))

    def _read_manifest(self, manifest_key: str) -> RawArchiveRef:
        try:
            return RawArchiveRef.from_dict(json.loads(self.storage.get_bytes(manifest_key)))
        except (ValueError, KeyError, TypeError) as exc:
            raise RawZoneError(f"raw manifest {self.storage.uri(manifest_key)} is unreadable: {exc}") from exc

    def list(self, snapshot_date: date | str, open_ids: list[str] | None = None) -> list[RawArchiveRef]:
        """Every complete archive of a date (optionally only these users), sorted by user and request."""
        day = keys.snapshot_date_str(snapshot_date)
        base = f"raw/{keys.partition(day)}"
        prefixes = [f"{base}/user={keys.user_key(o)}" for o in open_ids] if open_ids is not None else [base]
        refs = [
            self._read_manifest(key)
            for prefix in prefixes
            for key in self.storage.list(prefix)
            if key.endswith(".json")
        ]
        return sorted(refs, key=lambda r: (r.open_id, r.request_id))

    def dates(self) -> list[str]:
        """Every snapshot date that has at least one raw object."""
        found = set()
        for key in self.storage.list("raw"):
            part = key.split("/")[1]
            if part.startswith("snapshot_date="):
                found.add(part.split("=", 1)[1])
        return sorted(found)

    @contextlib.contextmanager
    def open(self, ref: RawArchiveRef) -> Iterator[Path]:
        """A local path to the archive's bytes, verified against the manifest's size and sha256."""
        with self.storage.local_copy(ref.key) as path:
            size, sha = file_digest(path)
            if (size, sha) != (ref.size, ref.sha256):
                raise ChecksumMismatch(
                    f"raw archive {self.storage.uri(ref.key)} has {size} bytes sha256={sha[:12]}, "
                    f"manifest says {ref.size} bytes sha256={ref.sha256[:12]}"
                )
            yield path

    def delete_user(self, open_id: str) -> int:
        """Delete every raw archive and manifest of a user; returns the number of archives deleted."""
        # One listing of the date folders, then the user's own folder of each date: the cost
        # follows the number of dates, not the number of archives in the zone.
        user = f"user={keys.user_key(open_id)}"
        doomed = [k for day in self.storage.folders("raw") for k in self.storage.list(f"{day}/{user}")]
        for key in sorted(doomed, key=lambda k: k.endswith(".json")):  # archives first, manifests last
            self.storage.delete(key)
        return sum(1 for k in doomed if k.endswith(".zip"))
