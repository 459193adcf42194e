"""A whole night with webhooks in TikTok's documented shape: readiness comes by webhook alone.

docs: webhooks-events (``portability.download.ready`` without ``user_openid``). The receiver and
the sync share one state store, as the plugin and the DAG do: about one Add and one Download per
user, and no Check Status call.
"""

from __future__ import annotations

from datetime import date

import pytest

from tests.conformance.conftest import client_config, consent
from tiktok_portability.lake import Lake
from tiktok_portability.sync import SyncRuntime
from tiktok_portability.sync.engine import run_sync
from tiktok_portability.sync.options import SyncOptions

USERS = 4


@pytest.mark.parametrize("with_user_openid", [False, True], ids=["documented", "webhook_user_openid"])
def test_a_night_needs_one_add_and_one_download_per_user_and_no_check(
    emulator, receiver, tmp_path, with_user_openid
):
    emulator.configure(prep_delay_s=1, webhook_user_openid=with_user_openid)
    runtime = SyncRuntime(
        store=receiver.store,
        client_config=client_config(emulator),
        lake=Lake.from_uri(str(tmp_path / "lake")),
        scratch_dir=str(tmp_path / "scratch"),
    )
    open_ids = [consent(emulator, receiver.store).open_id for _ in range(USERS)]
    options = SyncOptions(
        batch_size=2,
        poll_interval_s=0.05,
        webhooks_enabled=True,
        webhook_grace_s=300,
        open_ids=tuple(open_ids),
    )

    summary = run_sync(runtime, f"night-{with_user_openid}", date(2026, 12, 1), options)

    assert summary["users_synced"] == USERS, summary
    calls = [entry["endpoint"] for entry in emulator.log()]
    assert calls.count("add") == USERS
    assert calls.count("download") == USERS
    assert calls.count("check") == 0
    assert all(d["last_status"] == 200 for d in emulator.webhooks())
