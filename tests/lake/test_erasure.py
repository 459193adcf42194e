"""GDPR erasure removes a user's rows and raw archives everywhere and leaves an audit record."""

from __future__ import annotations

import json

import pytest

from tests.fixtures.recording_storage import RecordingStorage
from tests.lake.conftest import JsonNormalizer, rows_of
from tiktok_portability.lake import Lake, keys
from tiktok_portability.lake.ledger import user_prefix
from tiktok_portability.redact import fingerprint

DOC = {
    "watch": [("2026-01-01 10:00:00", "v1")],
    "followers": [["alice", "2025-12-01 00:00:00"]],
    "profile": {"user_name": "someone"},
}


@pytest.mark.parametrize("full_scan", [False, True])
def test_erasing_a_user_removes_rows_raw_archives_and_keeps_everyone_else(
    lake: Lake, write_archive, full_scan: bool
):
    for day, rid in (("2026-01-01", 1), ("2026-01-02", 2)):
        refs = [
            lake.raw.put_archive("gone", day, rid, write_archive(DOC)),
            lake.raw.put_archive("stays", day, rid + 10, write_archive(DOC)),
        ]
        lake.normalize_batch(refs, day)
    lake.normalize_batch([lake.raw.put_archive("gone", "2026-01-03", 3, write_archive(DOC))], "2026-01-03")

    record = lake.erase_user("gone", requested_by="dpo@example.org", full_scan=full_scan)

    assert record.scope == ("full_scan" if full_scan else "ledger")
    assert record.rows_deleted == {"followers": 1, "profile": 3, "watch_history": 1}
    assert lake.storage.list(user_prefix("gone")) == []
    assert lake.storage.list(user_prefix("stays")) != []
    assert record.raw_archives_deleted == 3
    assert record.files_deleted >= 1  # the 2026-01-03 batch held only this user
    for table in ("watch_history", "followers", "profile"):
        assert rows_of(lake, table, open_id="gone") == []
        assert rows_of(lake, table, open_id="stays") != []
    assert [r.open_id for d in ("2026-01-01", "2026-01-02", "2026-01-03") for r in lake.raw.list(d)] == [
        "stays",
        "stays",
    ]
    audit = lake.storage.get_bytes(record.audit_key).decode()
    assert "gone" not in audit.replace("rows_deleted", "")
    assert json.loads(audit)["user_fingerprint"] == fingerprint("gone")
    assert lake.erasure_records() == [record]
    manifests = [json.loads(lake.storage.get_bytes(k)) for k in lake.storage.list("_commits")]
    assert all("gone" not in json.dumps(m) for m in manifests)


def test_erasing_an_unknown_user_is_audited_and_changes_nothing(local_lake: Lake, write_archive):
    local_lake.normalize_batch(
        [local_lake.raw.put_archive("u", "2026-01-01", 1, write_archive(DOC))], "2026-01-01"
    )

    record = local_lake.erase_user("nobody")

    assert (record.rows_deleted, record.raw_archives_deleted, record.files_rewritten) == ({}, 0, 0)
    assert local_lake.storage.exists(record.audit_key)


def test_erasure_reads_only_the_batches_the_users_ledger_names(local_lake: Lake, write_archive):
    for n, day in enumerate(("2026-01-01", "2026-01-02")):
        for b in range(5):  # other batches every night: erasure must not read them
            ref = local_lake.raw.put_archive(f"other-{b}", day, 100 * b + n, write_archive(DOC))
            local_lake.normalize_batch([ref], day, batch_id=f"other-{b}")
        mine = [
            local_lake.raw.put_archive(u, day, 900 + i + 10 * n, write_archive(DOC))
            for i, u in enumerate(("gone", "x"))
        ]
        local_lake.normalize_batch(mine, day, batch_id="mine")
    recording = RecordingStorage(local_lake.storage)
    lake = Lake(recording, normalizer=JsonNormalizer())

    record = lake.erase_user("gone", requested_by="dpo")

    table_reads = {k for k in recording.reads if k.endswith(".parquet")}
    assert table_reads
    assert all(k.endswith("batch-mine.parquet") for k in table_reads)
    assert record.files_examined == len(table_reads)
    assert rows_of(lake, "watch_history", open_id="gone") == []
    # Five others and x keep their one event (a repeat on night 2 is not a new event).
    assert len(rows_of(lake, "watch_history")) == 6
    # The raw zone: one listing of its date folders, then only this user's folder of each date.
    raw_reads = [k for k in recording.reads if k.startswith("raw")]
    user = f"user={keys.user_key('gone')}"
    assert raw_reads == ["raw", *(f"raw/snapshot_date={d}/{user}" for d in ("2026-01-01", "2026-01-02"))]
    assert record.raw_archives_deleted == 2


def test_manifests_drop_files_the_erasure_emptied_so_a_later_resync_works(local_lake: Lake, write_archive):
    day = "2026-01-01"
    refs = [
        local_lake.raw.put_archive("gone", day, 1, write_archive(DOC)),
        local_lake.raw.put_archive("x", day, 2, write_archive({"watch": DOC["watch"]})),  # no followers
    ]
    local_lake.normalize_batch(refs, day, batch_id="night")
    local_lake.erase_user("gone")
    manifest = json.loads(local_lake.storage.get_bytes("_commits/snapshot_date=2026-01-01/batch-night.json"))
    assert all(local_lake.storage.exists(k) for k in manifest["files"])
    assert "followers" not in manifest["rows"]

    # x is re-synced into another batch: the old batch is rewritten from its manifest's files.
    again = local_lake.raw.put_archive("x", day, 3, write_archive({"watch": DOC["watch"]}))
    local_lake.normalize_batch([again], day, batch_id="resync")
    assert [r["link"] for r in rows_of(local_lake, "watch_history", open_id="x")] == ["v1"]


def test_an_interrupted_erasure_can_be_run_again(local_lake: Lake, write_archive, monkeypatch):
    for day, rid in (("2026-01-01", 1), ("2026-01-02", 2)):
        local_lake.normalize_batch([local_lake.raw.put_archive("gone", day, rid, write_archive(DOC))], day)

    def storage_down(open_id: str) -> int:
        raise OSError("down")

    monkeypatch.setattr(local_lake.raw, "delete_user", storage_down)
    with pytest.raises(OSError, match="down"):
        local_lake.erase_user("gone")
    assert local_lake.storage.list(user_prefix("gone"))  # the ledger is still there to guide a re-run
    monkeypatch.undo()

    record = local_lake.erase_user("gone")

    assert record.raw_archives_deleted == 2
    assert local_lake.storage.list(user_prefix("gone")) == []
    assert local_lake.storage.list("raw") == []
