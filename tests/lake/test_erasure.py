"""GDPR erasure removes a user's rows and raw archives everywhere and leaves an audit record."""

from __future__ import annotations

import json

from tests.lake.conftest import rows_of
from tiktok_portability.lake import Lake
from tiktok_portability.lake.ledger import user_prefix
from tiktok_portability.redact import fingerprint

DOC = {
    "watch": [("2026-01-01 10:00:00", "v1")],
    "followers": [["alice", "2025-12-01 00:00:00"]],
    "profile": {"user_name": "someone"},
}


def test_erasing_a_user_removes_rows_raw_archives_and_keeps_everyone_else(lake: Lake, write_archive):
    for day, rid in (("2026-01-01", 1), ("2026-01-02", 2)):
        refs = [
            lake.raw.put_archive("gone", day, rid, write_archive(DOC)),
            lake.raw.put_archive("stays", day, rid + 10, write_archive(DOC)),
        ]
        lake.normalize_batch(refs, day)
    lake.normalize_batch([lake.raw.put_archive("gone", "2026-01-03", 3, write_archive(DOC))], "2026-01-03")

    record = lake.erase_user("gone", requested_by="dpo@example.org")

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
