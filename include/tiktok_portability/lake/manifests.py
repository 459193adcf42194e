"""Commit manifests: the JSON a batch writes last, naming its users, archives, files and rows.

``_commits/snapshot_date=D/batch-<batch_id>.json``. A nightly commit reads only its own and those
of batches that held its users before; reprocessing reads every manifest of a date.
"""

from __future__ import annotations

import json

from tiktok_portability.lake import files, keys
from tiktok_portability.lake.storage import Storage

COMMITS = "_commits"


def read_manifest(storage: Storage, day: str, batch_id: str) -> tuple[str, dict] | None:
    """``(key, manifest)`` of one batch of a date, or None when it was never committed."""
    key = keys.commit_manifest(day, batch_id)
    if not storage.exists(key):
        return None
    return key, json.loads(storage.get_bytes(key))


def date_manifests(storage: Storage, day: str) -> dict[str, tuple[str, dict]]:
    """``{batch id: (key, manifest)}`` of every batch committed on a date."""
    found = {}
    for key in storage.list(f"{COMMITS}/{keys.partition(day)}"):
        if key.endswith(".json"):
            manifest = json.loads(storage.get_bytes(key))
            found[manifest["batch_id"]] = (key, manifest)
    return found


def all_manifests(storage: Storage) -> dict[str, dict]:
    """``{key: manifest}`` of every commit of every date."""
    return {k: json.loads(storage.get_bytes(k)) for k in storage.list(COMMITS) if k.endswith(".json")}


def committed_dates(storage: Storage) -> list[str]:
    return sorted({d for d in map(files.partition_date, storage.list(f"{COMMITS}/")) if d})


def put_manifest(storage: Storage, key: str, manifest: dict) -> None:
    storage.put_bytes(key, json.dumps(manifest, sort_keys=True, indent=1).encode())
