"""Tokens are encrypted at rest with Fernet keys that never touch the database, and never logged."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.state.stores import KEY_A, KEY_B, tokens
from tiktok_portability.state import KeyConfigError, StateStore, TokenDecryptionError
from tiktok_portability.state.status import list_grant_statuses, list_transfer_statuses
from tiktok_portability.state.tables import grants

PLAINTEXTS = ("PLAINTEXT-ACCESS", "PLAINTEXT-REFRESH")


def _exercise(store: StateStore) -> None:
    store.upsert_grant("user-1", ["portability.all.ongoing"], tokens("a"))
    store.upsert_grant("user-2", "portability.activity.ongoing", tokens("b"))
    store.get_grant("user-1")
    store.due_grants()
    with store.refresh_lock("user-1"):
        store.begin_refresh("user-1")
        store.complete_refresh("user-1", tokens("c"))
    store.rotate_keys()
    store.mark_grant("user-2", "needs_reauth", "refresh rejected: invalid_grant")


def test_no_plaintext_token_in_the_sqlite_file_or_in_any_log_line(tmp_path: Path, caplog):
    caplog.set_level(logging.DEBUG)
    store = StateStore.from_url(f"sqlite:///{tmp_path / 'state.db'}", fernet_keys=[KEY_A])
    _exercise(store)
    assert store.get_grant("user-1").access_token.reveal() == "act.PLAINTEXT-ACCESS-c"
    store.close()
    files = list(tmp_path.glob("state.db*"))
    assert files
    for path in files:
        data = path.read_bytes()
        for plaintext in PLAINTEXTS:
            assert plaintext.encode() not in data, path.name
    assert caplog.records
    for record in caplog.records:
        for plaintext in PLAINTEXTS:
            assert plaintext not in record.getMessage()


@pytest.mark.postgres
def test_no_plaintext_token_in_postgresql_rows(postgres_server, caplog):
    caplog.set_level(logging.DEBUG)
    store = StateStore.from_url(postgres_server.create_database(), fernet_keys=[KEY_A])
    _exercise(store)
    with store.engine.connect() as conn:
        dump = " ".join(str(row) for row in conn.execute(sa.select(grants)).all())
    for plaintext in PLAINTEXTS:
        assert plaintext not in dump
        assert all(plaintext not in r.getMessage() for r in caplog.records)
    store.close()


def test_reprs_of_grants_mask_tokens(store):
    grant = store.upsert_grant("user-1", ["portability.all.ongoing"], tokens())
    assert "PLAINTEXT" not in repr(grant)
    assert "PLAINTEXT" not in repr(store)


def test_a_store_without_a_key_reads_statuses_and_refuses_only_tokens(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 's.db'}"
    keyed = StateStore.from_url(url, fernet_keys=[KEY_A])
    keyed.upsert_grant("user-1", ["portability.all.ongoing"], tokens())
    failed = keyed.create_transfer("user-1", "run-1", ["all_data"], 7)
    keyed.transition(failed.id, "failed", reason="archive_corrupt: bad zip")
    monkeypatch.delenv("TIKTOK_FERNET_KEYS", raising=False)

    keyless = StateStore.from_url(url)

    assert "keys=0" in repr(keyless)
    assert [g.status for g in list_grant_statuses(keyless)] == ["active"]
    assert [t.failure_reason for t in list_transfer_statuses(keyless)] == ["archive_corrupt: bad zip"]
    assert keyless.grant_counts() == {"active": 1}
    for touches_a_token in (
        lambda: keyless.get_grant("user-1"),
        lambda: keyless.upsert_grant("user-2", ["portability.all.ongoing"], tokens("2")),
        keyless.rotate_keys,
    ):
        with pytest.raises(KeyConfigError, match="TIKTOK_FERNET_KEYS"):
            touches_a_token()
    assert [g.open_id for g in list_grant_statuses(keyless)] == ["user-1"]  # nothing half-written


def test_an_invalid_key_is_named_by_position_never_echoed(tmp_path):
    with pytest.raises(KeyConfigError, match="key #2 of 2") as info:
        StateStore.from_url(f"sqlite:///{tmp_path / 's.db'}", fernet_keys=[KEY_A, "not-a-key-SECRETISH"])
    assert "SECRETISH" not in str(info.value)


def test_keys_come_from_the_environment_newest_first(tmp_path, monkeypatch):
    monkeypatch.setenv("TIKTOK_FERNET_KEYS", f"{KEY_B}, {KEY_A}")
    monkeypatch.setenv("TIKTOK_STATE_URL", f"sqlite:///{tmp_path / 's.db'}")
    store = StateStore.from_env()
    store.upsert_grant("user-1", ["portability.all.ongoing"], tokens())
    only_b = StateStore.from_url(f"sqlite:///{tmp_path / 's.db'}", fernet_keys=[KEY_B])
    assert only_b.get_grant("user-1").refresh_token.reveal() == "rft.PLAINTEXT-REFRESH-1"


def test_key_rotation_re_encrypts_so_the_old_key_can_be_retired(store_url):
    old = StateStore.from_url(store_url, fernet_keys=[KEY_A])
    old.upsert_grant("user-1", ["portability.all.ongoing"], tokens())
    old.upsert_grant("user-2", ["portability.all.ongoing"], tokens("2"))
    old.revoke_grant("user-2")  # no tokens left to rotate, must not fail

    both = StateStore.from_url(store_url, fernet_keys=[KEY_B, KEY_A])
    assert both.rotate_keys() == 1

    only_new = StateStore.from_url(store_url, fernet_keys=[KEY_B])
    assert only_new.get_grant("user-1").access_token.reveal() == "act.PLAINTEXT-ACCESS-1"
    only_old = StateStore.from_url(store_url, fernet_keys=[KEY_A])
    with pytest.raises(TokenDecryptionError, match="cannot be decrypted"):
        only_old.get_grant("user-1")
    for s in (old, both, only_new, only_old):
        s.close()


def test_a_new_sqlite_store_and_its_wal_files_are_owner_only(tmp_path: Path):
    import os
    import stat

    old_umask = os.umask(0o022)  # the common default, which would make the file world-readable
    try:
        store = StateStore.from_url(f"sqlite:///{tmp_path / 'state' / 'state.db'}", fernet_keys=[KEY_A])
        store.upsert_grant("u1", ["portability.all.ongoing"], tokens())
    finally:
        os.umask(old_umask)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "state").iterdir()}
    store.close()

    assert {"state.db", "state.db-wal"} <= set(modes)
    assert set(modes.values()) == {0o600}, modes
