"""``tiktok-portability sync erase`` against the emulator: the same erasure as the DAG's."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from tests.sync.harness import count, make_runtime, onboard
from tiktok_portability.cli import main
from tiktok_portability.redact import fingerprint
from tiktok_portability.state import generate_key
from tiktok_portability.sync import SyncOptions
from tiktok_portability.sync.engine import run_sync


def test_sync_erase_erases_each_user_and_prints_fingerprints(
    tmp_path: Path, emulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    key = generate_key()
    runtime = make_runtime(tmp_path, emulator, fernet_key=key)
    gone, kept = (onboard(runtime, emulator, scopes=["portability.all.ongoing"]) for _ in range(2))
    run_sync(runtime, "night-1", date(2026, 11, 20), SyncOptions(batch_size=2, poll_interval_s=0.05))
    monkeypatch.setenv("TIKTOK_FERNET_KEYS", key)
    monkeypatch.setenv("TIKTOK_CLIENT_SECRET", emulator.client_secret)
    argv = [
        "sync", "erase", "--open-id", gone, "--requested-by", "ticket-9",
        "--lake", str(tmp_path / "lake"), "--state-url", f"sqlite:///{tmp_path / 'state.db'}",
        "--base-url", emulator.base_url, "--client-key", emulator.client_key,
    ]  # fmt: skip

    code = main(argv)

    out = capsys.readouterr().out
    (result,) = json.loads(out)
    assert code == 0
    assert gone not in out
    assert (result["user"], result["revoked_at_tiktok"], result["requested_by"]) == (
        fingerprint(gone),
        True,
        "ticket-9",
    )
    assert runtime.store.get_grant(gone).status == "erased"
    assert count(tmp_path / "lake", "watch_history", f"open_id = '{gone}'") == 0
    assert count(tmp_path / "lake", "watch_history", f"open_id = '{kept}'") > 0
    monkeypatch.delenv("TIKTOK_CLIENT_SECRET")
    with pytest.raises(SystemExit, match="TIKTOK_CLIENT_SECRET"):
        main(argv)
