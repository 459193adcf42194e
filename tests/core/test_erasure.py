"""Erasing a user at TikTok, in the state store and in the lake, against the emulator over HTTP."""

from __future__ import annotations

import json
import threading
from datetime import date
from pathlib import Path

import pytest

from tests.sync.harness import count, make_runtime, onboard
from tiktok_portability.erasure import ERASED_REASON, erase_user, erase_users
from tiktok_portability.redact import fingerprint
from tiktok_portability.sync import SyncOptions
from tiktok_portability.sync.engine import run_sync

NIGHT = date(2026, 11, 20)


@pytest.fixture
def synced(tmp_path: Path, emulator):
    """Three users synced once into the lake."""
    runtime = make_runtime(tmp_path, emulator)
    users = [
        onboard(runtime, emulator, scopes=["portability.all.ongoing"], generation="G2") for _ in range(3)
    ]
    summary = run_sync(runtime, "night-1", NIGHT, SyncOptions(batch_size=2, poll_interval_s=0.05))
    assert summary["users_synced"] == 3
    return runtime, users, tmp_path / "lake"


def test_erasure_revokes_at_tiktok_erases_state_and_every_row(synced, emulator) -> None:
    runtime, (gone, kept, _), lake = synced
    kept_rows = count(lake, "watch_history", f"open_id = '{kept}'")

    result = erase_user(runtime, gone, requested_by="ticket-42")

    assert result.ok
    assert result.revoked_at_tiktok
    assert result.grant_found
    assert result.user == fingerprint(gone)
    assert gone not in json.dumps(result.to_dict())
    revokes = emulator.log(endpoint="oauth_revoke")
    assert [e["status"] for e in revokes] == [200]
    grant = runtime.store.get_grant(gone)
    assert (grant.status, grant.access_token, grant.refresh_token) == ("erased", None, None)
    for table in ("watch_history", "dm_messages", "profile", "followers"):
        assert count(lake, table, f"open_id = '{gone}'") == 0, table
    assert count(lake, "watch_history", f"open_id = '{kept}'") == kept_rows
    assert result.lake["raw_archives_deleted"] == 1
    assert sum(result.lake["rows_deleted"].values()) > 0
    assert runtime.lake.storage.exists(result.lake["audit_key"])
    # The next night leaves the user out, and asks TikTok nothing on their behalf.
    adds = len(emulator.log(endpoint="add"))
    summary = run_sync(
        runtime, "night-2", date(2026, 11, 21), SyncOptions(batch_size=2, poll_interval_s=0.05)
    )
    assert summary["users_planned"] == 2
    assert len(emulator.log(endpoint="add")) == adds + 2
    assert count(lake, "watch_history", f"open_id = '{gone}'") == 0


def test_erasing_again_is_harmless(synced, emulator) -> None:
    runtime, (gone, *_), _lake = synced
    erase_user(runtime, gone, requested_by="dpo")
    again = erase_user(runtime, gone, requested_by="dpo")
    assert again.ok
    assert again.grant_found
    assert not again.revoked_at_tiktok
    assert again.lake["rows_deleted"] == {}
    assert again.lake["raw_archives_deleted"] == 0
    assert len(emulator.log(endpoint="oauth_revoke")) == 1


def test_pending_exports_are_cancelled_at_tiktok_and_closed_here(tmp_path: Path, emulator) -> None:
    runtime = make_runtime(tmp_path, emulator)
    user = onboard(runtime, emulator, scopes=["portability.all.ongoing"])
    with runtime.client() as client:
        token = runtime.store.get_grant(user).access_token
        request_id = client.add_data_request(token, open_id=user)
    pending = runtime.store.create_transfer(user, "night-1", ["all_data"], request_id, batch=0)

    result = erase_user(runtime, user, requested_by="dpo")

    assert (result.tiktok_requests_cancelled, result.transfers_closed) == (1, 1)
    assert [e["status"] for e in emulator.log(endpoint="cancel")] == [200]
    closed = runtime.store.get_transfer(pending.id)
    assert (closed.status, closed.failure_reason) == ("cancelled", ERASED_REASON)


def test_when_tiktok_cannot_be_told_our_copy_is_erased_anyway(synced, emulator) -> None:
    runtime, (down, needs_reauth, _), lake = synced
    emulator.fault("server_error", endpoint="oauth_revoke", count=None)
    result = erase_user(runtime, down, requested_by="dpo")
    emulator.clear_faults()
    assert result.ok
    assert not result.revoked_at_tiktok
    assert result.tiktok_error
    assert "Server" in result.tiktok_error
    # A grant that already needs re-consent has no usable token: TikTok is not called at all.
    runtime.store.mark_grant(needs_reauth, "needs_reauth", "invalid_grant")
    calls = len(emulator.log())
    quiet = erase_user(runtime, needs_reauth, requested_by="dpo")
    assert quiet.ok
    assert (quiet.revoked_at_tiktok, quiet.tiktok_error) == (False, None)
    assert len(emulator.log()) == calls
    for open_id in (down, needs_reauth):
        assert runtime.store.get_grant(open_id).status == "erased"
        assert count(lake, "watch_history", f"open_id = '{open_id}'") == 0


def test_one_users_failure_does_not_stop_the_others(synced, monkeypatch) -> None:
    runtime, (a, b, c), lake = synced
    real = runtime.lake.erase_user

    def flaky(open_id, **kwargs):
        if open_id == b:
            raise OSError("disk full")
        return real(open_id, **kwargs)

    monkeypatch.setattr(runtime.lake, "erase_user", flaky)
    results = erase_users(runtime, [a, b, c, a], requested_by="dpo", revoke_at_tiktok=False)

    assert [(r.user, r.ok) for r in results] == [(fingerprint(u), u != b) for u in (a, b, c)]
    assert results[1].error == "OSError: disk full"
    assert count(lake, "watch_history", f"open_id in ('{a}', '{c}')") == 0
    assert count(lake, "watch_history", f"open_id = '{b}'") > 0
    with pytest.raises(ValueError, match="requested_by"):
        erase_users(runtime, [a], requested_by=" ")


def test_a_commit_that_raced_the_erasure_is_erased_again(synced) -> None:
    runtime, (gone, *_), lake = synced
    # The erasure closed the grant, then its lake pass ran before a rebuild of the night committed.
    runtime.store.erase_grant(gone)
    summary = run_sync(
        runtime, "rebuild", NIGHT, SyncOptions(batch_size=2, poll_interval_s=0.05, reprocess_from_raw=True)
    )
    assert summary["users_synced"] == 3
    assert summary["erased_after_commit"] == [fingerprint(gone)]
    assert count(lake, "watch_history", f"open_id = '{gone}'") == 0


def test_the_lake_step_waits_for_commits_in_flight(synced) -> None:
    runtime, (gone, *_), lake = synced
    held, release = threading.Event(), threading.Event()

    def commit() -> None:  # a batch commit holds the lake lock shared
        with runtime.store.lake_lock(exclusive=False):
            held.set()
            release.wait(10)

    committing = threading.Thread(target=commit)
    committing.start()
    assert held.wait(10)
    done: list = []
    erasing = threading.Thread(
        target=lambda: done.append(erase_user(runtime, gone, requested_by="dpo", revoke_at_tiktok=False))
    )
    erasing.start()
    erasing.join(0.5)
    assert done == []  # the lake step waits; the grant is already erased, so nothing new is loaded
    assert runtime.store.get_grant(gone).status == "erased"
    assert count(lake, "watch_history", f"open_id = '{gone}'") > 0
    release.set()
    erasing.join(10)
    committing.join(10)
    assert done[0].ok
    assert count(lake, "watch_history", f"open_id = '{gone}'") == 0


def test_a_failed_cancel_does_not_stop_the_revoke(tmp_path: Path, emulator) -> None:
    runtime = make_runtime(tmp_path, emulator)
    user = onboard(runtime, emulator, scopes=["portability.all.ongoing"])
    with runtime.client() as client:
        request_id = client.add_data_request(runtime.store.get_grant(user).access_token, open_id=user)
    runtime.store.create_transfer(user, "night-1", ["all_data"], request_id, batch=0)
    emulator.fault("server_error", endpoint="cancel", count=None)

    result = erase_user(runtime, user, requested_by="dpo")

    emulator.clear_faults()
    assert result.revoked_at_tiktok
    assert result.tiktok_requests_cancelled == 0
    assert result.tiktok_error.startswith("cancel: ")
    assert result.transfers_closed == 1
