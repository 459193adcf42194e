"""A user who revokes the app while their add is in flight ends ``grant_inactive``, not transient.

Found by the fault matrix (tests/reliability/): the emulator's ``revoke_token`` fault answers the
add with 401 and sends ``authorization.removed``; the plugin's webhook receiver marked the grant
revoked before the submit step's forced refresh looked at it, and the user's transfer said
``token_refresh_failed`` (a transient failure: "retried next night, the grant stays active").
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

from cryptography.fernet import Fernet

from tests.sync.harness import make_runtime, onboard
from tiktok_portability.state import StateStore
from tiktok_portability.sync import SyncOptions
from tiktok_portability.sync.engine import run_sync


class WebhookLandsBeforeTheRefresh(StateStore):
    """What the receiver does on authorization.removed, just before the refresh takes its lease."""

    def refresh_lock(self, open_id: str, **kwargs):  # type: ignore[override]
        self.mark_grant(open_id, "revoked", "authorization.removed: user")
        return super().refresh_lock(open_id, **kwargs)


def test_a_grant_revoked_during_the_add_is_recorded_as_inactive(tmp_path: Path, emulator) -> None:
    key = Fernet.generate_key().decode()
    runtime = make_runtime(tmp_path, emulator, fernet_key=key)
    open_id = onboard(runtime, emulator)
    runtime = replace(
        runtime, store=WebhookLandsBeforeTheRefresh.from_url(f"sqlite:///{tmp_path / 'state.db'}", [key])
    )
    emulator.fault("revoke_token", endpoint="add", open_id=open_id)

    summary = run_sync(runtime, "night-1", date(2026, 11, 20), SyncOptions(max_failure_rate=1.0))

    assert summary["failed_by_reason"] == {"grant_inactive": 1}
    transfer = runtime.store.latest_transfer(open_id)
    assert (transfer.status, transfer.failure_reason) == ("failed", "grant_inactive: revoked")
    assert runtime.store.get_grant(open_id).status == "revoked"
