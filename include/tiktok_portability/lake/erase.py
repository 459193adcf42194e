"""GDPR erasure: a user's rows, raw archives and ledger deleted, with an audit record.

The user's ledger names the batch that holds them on each date, so only those batches' files and
manifests are read: the cost follows the user's dates, not the lake's size. A full scan reads
every table file and manifest instead (an audit of a lake whose history is in doubt). The ledger
goes last, so an interrupted erasure can be re-run.
"""

from __future__ import annotations

import json
import logging
import uuid

import pyarrow.compute as pc

from tiktok_portability import clock
from tiktok_portability.lake import files, keys
from tiktok_portability.lake.ledger import batch_of, read_ledger, user_prefix
from tiktok_portability.lake.manifests import all_manifests, put_manifest, read_manifest
from tiktok_portability.lake.raw import RawZone
from tiktok_portability.lake.results import ErasureRecord
from tiktok_portability.lake.storage import Storage
from tiktok_portability.redact import fingerprint

log = logging.getLogger(__name__)

AUDIT = "_audit/erasure"


def erase_user(
    storage: Storage, raw: RawZone, open_id: str, *, requested_by: str, full_scan: bool
) -> ErasureRecord:
    user = keys.user_key(open_id)
    started = clock.utcnow()
    rows: dict[str, int] = {}
    rewritten = deleted = 0
    ledger = read_ledger(storage, open_id)
    if full_scan:
        table_keys = [
            k for name in files.table_folders(storage) for k in storage.list(name) if k.endswith(".parquet")
        ]
        manifests = all_manifests(storage)
    else:
        holders = {day: batch_of(storage, key) for day, key in ledger.items()}
        found = (read_manifest(storage, day, b) for day, b in sorted(holders.items()) if b)
        manifests = dict(m for m in found if m is not None)
        table_keys = [f for manifest in manifests.values() for f in manifest["files"]]
    gone_files: set[str] = set()
    for key in table_keys:
        if not storage.exists(key):
            continue
        table = files.read_file(storage, key)
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
            storage.delete(key)
            gone_files.add(key)
            deleted += 1
            continue
        with storage.staging_dir() as folder:
            storage.put_file(key, files.write_table(folder / "erase.parquet", rest))
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
        put_manifest(storage, key, manifest)
    raw_deleted = raw.delete_user(open_id)
    for key in storage.list(user_prefix(open_id)):
        storage.delete(key)
        deleted += 1
    erasure_id = uuid.uuid4().hex
    audit_key = f"{AUDIT}/{started.date().isoformat()}/{erasure_id}.json"
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
    storage.put_bytes(audit_key, json.dumps(record.to_dict(), sort_keys=True, indent=1).encode())
    log.info(
        "user erased user=%s rows=%d raw_archives=%d audit=%s",
        record.user_fingerprint,
        sum(rows.values()),
        raw_deleted,
        audit_key,
    )
    return record


def erasure_records(storage: Storage) -> list[ErasureRecord]:
    return [
        ErasureRecord(**json.loads(storage.get_bytes(k))) for k in storage.list(AUDIT) if k.endswith(".json")
    ]
