"""Raw retention deletes old raw archives but each user's latest, audits it, and a pruned date is
never rebuilt from what is left (local folder and S3)."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from tests.lake.conftest import JsonNormalizer, rows_of
from tiktok_portability.lake import Lake, LakeError, RawDatePruned
from tiktok_portability.lake.retention import (
    DEFAULT_RETENTION_DAYS,
    RETENTION_DAYS_ENV,
    date_marker,
    retention_days,
    retention_records,
)

FIRST = date(2026, 1, 1)


def day(n: int) -> str:
    return (FIRST + timedelta(days=n)).isoformat()


def night(lake: Lake, write_archive, n: int, users: list[str], batch: str = "b") -> None:
    """One night: each user's export (their watch history grows by one event a night), one batch."""
    refs = []
    for i, user in enumerate(users):
        doc = {"watch": [[f"2026-01-{k + 1:02d} 10:00:00", f"v-{user}-{k}"] for k in range(n + 1)]}
        doc["profile"] = {"user_name": user, "follower_count": n}
        refs.append(lake.raw.put_archive(user, day(n), 1000 * n + i, write_archive(doc)))
    assert lake.normalize_batch(refs, day(n), batch_id=f"{batch}{n}").ok


def raw_keys(lake: Lake) -> list[str]:
    return lake.storage.list("raw")


def test_old_archives_go_but_each_users_latest_stays_and_the_run_is_audited(lake: Lake, write_archive):
    # alice and bob sync every night; carol stopped after night 1 (revoked): her export stays.
    for n in range(6):
        night(lake, write_archive, n, ["alice", "bob"] if n > 1 else ["alice", "bob", "carol"])
    tables_before = {t: rows_of(lake, t) for t in ("watch_history", "profile")}

    record = lake.apply_retention(2, today=day(5), requested_by="ops")

    assert record.cutoff == day(3)
    assert record.dates_pruned == [day(0), day(1), day(2)]
    assert [r.open_id for d in range(3) for r in lake.raw.list(day(d))] == ["carol"]
    assert lake.raw.list(day(1))[0].request_id == 1002  # her latest: night 1
    for d in (3, 4, 5):  # within the retention: whole
        assert [r.open_id for r in lake.raw.list(day(d))] == ["alice", "bob"]
    assert record.archives_deleted == 7  # alice and bob on nights 0-2, carol's night 0
    assert record.dates[day(1)].archives_kept == 1
    assert record.bytes_deleted > 0
    # Every remaining archive still reads back (manifest and bytes agree).
    for d in range(6):
        for ref in lake.raw.list(day(d)):
            with lake.raw.open(ref):
                pass
    # The tables are not the raw zone: not a row changes.
    assert {t: rows_of(lake, t) for t in tables_before} == tables_before
    (stored,) = retention_records(lake.storage)
    assert stored["retention_id"] == record.retention_id
    assert stored["status"] == "completed"
    assert stored["requested_by"] == "ops"
    assert stored["archives_deleted"] == 7
    assert stored["dates_pruned"] == [day(0), day(1), day(2)]
    assert "alice" not in json.dumps(stored)  # counts and dates, never a user
    assert record.audit_key
    assert record.audit_key.startswith("_audit/retention/runs/")
    for d in (0, 1, 2):
        marker = json.loads(lake.storage.get_bytes(date_marker(day(d))))
        assert marker["retention_ids"] == [record.retention_id]
    assert not lake.storage.exists(date_marker(day(3)))


def test_a_second_run_deletes_nothing_and_writes_nothing(lake: Lake, write_archive):
    for n in range(4):
        night(lake, write_archive, n, ["alice", "bob"])
    lake.apply_retention(1, today=day(3))
    keys_after_first = lake.storage.list("")

    again = lake.apply_retention(1, today=day(3))

    assert again.archives_deleted == 0
    assert again.audit_key is None
    assert lake.storage.list("") == keys_after_first
    assert len(retention_records(lake.storage)) == 1


def test_the_next_night_prunes_only_the_newly_expired_date(lake: Lake, write_archive):
    for n in range(4):
        night(lake, write_archive, n, ["alice", "bob"])
    first = lake.apply_retention(1, today=day(3))
    night(lake, write_archive, 4, ["alice", "bob"])

    second = lake.apply_retention(1, today=day(4))

    assert first.dates_pruned == [day(0), day(1)]
    assert second.dates_pruned == [day(2)]
    assert lake.raw.dates() == [day(3), day(4)]


def test_zero_days_keeps_everything_and_the_default_is_thirty(lake: Lake, write_archive, monkeypatch):
    for n in range(3):
        night(lake, write_archive, n, ["alice"])
    before = raw_keys(lake)

    record = lake.apply_retention(0, today=day(400))

    assert record.dates == {}
    assert record.audit_key is None
    assert raw_keys(lake) == before
    monkeypatch.delenv(RETENTION_DAYS_ENV, raising=False)
    assert retention_days() == DEFAULT_RETENTION_DAYS == 30
    assert lake.apply_retention(today=day(30)).dates_pruned == []  # 30 days old: kept
    assert lake.apply_retention(today=day(32)).dates_pruned == [day(0), day(1)]
    monkeypatch.setenv(RETENTION_DAYS_ENV, "0")
    assert retention_days() == 0
    monkeypatch.setenv(RETENTION_DAYS_ENV, "-3")
    with pytest.raises(LakeError, match="negative"):
        retention_days()


def test_a_dry_run_reports_the_same_and_changes_nothing(lake: Lake, write_archive):
    for n in range(4):
        night(lake, write_archive, n, ["alice", "bob"])
    before = lake.storage.list("")

    dry = lake.apply_retention(1, today=day(3), dry_run=True)

    assert lake.storage.list("") == before
    assert dry.audit_key is None
    assert dry.status == "dry_run"
    real = lake.apply_retention(1, today=day(3))
    assert (dry.dates_pruned, dry.archives_deleted, dry.bytes_deleted) == (
        real.dates_pruned,
        real.archives_deleted,
        real.bytes_deleted,
    )


def test_of_several_archives_in_the_latest_folder_only_the_newest_fetched_stays(lake: Lake, write_archive):
    doc = {"profile": {"user_name": "carol", "follower_count": 1}}
    lake.raw.put_archive("carol", day(0), 7, write_archive(doc), fetched_at="2026-01-01T03:00:00")
    newest = lake.raw.put_archive("carol", day(0), 5, write_archive(doc), fetched_at="2026-01-01T09:00:00")

    lake.apply_retention(1, today=day(10))

    assert lake.raw.list(day(0)) == [newest]
    assert [k.rsplit("/", 1)[1] for k in raw_keys(lake)] == ["5.json", "5.zip"]


def test_a_pruned_date_is_refused_by_reprocess_and_nothing_is_rebuilt(lake: Lake, write_archive):
    for n in range(4):
        night(lake, write_archive, n, ["alice", "bob"] if n else ["alice", "bob", "carol"])
    lake.apply_retention(1, today=day(3))
    files_before = {k: lake.storage.get_bytes(k) for k in lake.storage.list("watch_history")}
    watch_before = rows_of(lake, "watch_history")

    # Day 0 kept only carol's archive: rebuilding it would drop alice's and bob's rows.
    with pytest.raises(RawDatePruned, match=r"snapshot_date 2026-01-01 cannot be rebuilt") as caught:
        lake.reprocess(day(0))
    assert "raw retention" in str(caught.value)
    with pytest.raises(RawDatePruned) as caught:
        lake.reprocess(day(0), and_later=True)
    assert caught.value.dates == [day(0), day(1)]
    assert rows_of(lake, "watch_history") == watch_before
    assert {k: lake.storage.get_bytes(k) for k in lake.storage.list("watch_history")} == files_before
    # A date within the retention still rebuilds, byte for byte.
    assert all(r.ok for r in lake.reprocess(day(2), and_later=True))
    assert {k: lake.storage.get_bytes(k) for k in lake.storage.list("watch_history")} == files_before


def test_storage_deletes_many_keys_and_lists_sizes(lake: Lake):
    lake.storage.put_bytes("raw/snapshot_date=2026-01-01/user=a/1.json", b"12345")
    lake.storage.put_bytes("raw/snapshot_date=2026-01-01/user=b/2.json", b"12")
    lake.storage.put_bytes("raw/snapshot_date=2026-01-02/user=a/3.json", b"1")

    assert lake.storage.sizes("raw/snapshot_date=2026-01-01") == {
        "raw/snapshot_date=2026-01-01/user=a/1.json": 5,
        "raw/snapshot_date=2026-01-01/user=b/2.json": 2,
    }
    lake.storage.delete_many(
        ["raw/snapshot_date=2026-01-01/user=a/1.json", "raw/snapshot_date=2026-01-01/user=a/missing"]
    )

    assert lake.storage.list("raw") == [
        "raw/snapshot_date=2026-01-01/user=b/2.json",
        "raw/snapshot_date=2026-01-02/user=a/3.json",
    ]
    # An emptied folder is gone (as an S3 prefix is): a listing of the date's users omits it.
    assert lake.storage.folders("raw/snapshot_date=2026-01-01") == ["raw/snapshot_date=2026-01-01/user=b"]


def test_cli_dry_run_then_retention_then_reprocess_refuses(tmp_path, write_archive, capsys):
    from tiktok_portability.cli import main

    uri = str(tmp_path / "cli-lake")
    lake = Lake.from_uri(uri, normalizer=JsonNormalizer())
    for n in range(3):
        night(lake, write_archive, n, ["alice"] if n else ["alice", "bob"])

    def cli(*argv: str) -> tuple[int, str, str]:
        code = main([*argv, "--lake", uri])
        out = capsys.readouterr()
        return code, out.out, out.err

    code, out, _ = cli("lake", "retention", "--days", "1", "--today", day(2), "--dry-run")
    assert code == 0
    assert json.loads(out)["dates_pruned"] == [day(0)]
    assert lake.raw.list(day(0))  # nothing deleted
    code, out, _ = cli("lake", "retention", "--days", "1", "--today", day(2), "--requested-by", "ops")
    assert code == 0
    record = json.loads(out)
    assert (record["archives_deleted"], record["requested_by"]) == (1, "ops")
    assert [r.open_id for r in lake.raw.list(day(0))] == ["bob"]

    code, _, err = cli("lake", "reprocess", "--snapshot-date", day(0))
    assert code == 1
    assert "error: snapshot_date 2026-01-01 cannot be rebuilt from the raw zone: raw retention" in err
