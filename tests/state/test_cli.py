"""The CLI: bulk onboarding, listing, revoking, failed transfers."""

from __future__ import annotations

import json

import pytest

from tests.state.stores import KEY_A, tokens
from tiktok_portability.cli import main
from tiktok_portability.clock import utcnow
from tiktok_portability.state import StateStore


@pytest.fixture
def cli_env(tmp_path, monkeypatch) -> str:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("TIKTOK_STATE_URL", url)
    monkeypatch.setenv("TIKTOK_FERNET_KEYS", KEY_A)
    return url


def test_import_csv_and_json_then_list_and_revoke(cli_env, tmp_path, capsys):
    csv_file = tmp_path / "grants.csv"
    csv_file.write_text(
        "open_id,scope,access_token,expires_in,refresh_token,refresh_expires_in\n"
        'u1,"portability.all.ongoing",act.SECRET1,7200,rft.SECRET1,15552000\n'
    )
    json_file = tmp_path / "grants.json"
    json_file.write_text(
        json.dumps(
            {
                "grants": [
                    {
                        "open_id": "u2",
                        "scopes": ["portability.activity.ongoing"],
                        "access_token": "act.SECRET2",
                        "expires_at": "2030-01-01T00:00:00Z",
                        "refresh_token": "rft.SECRET2",
                        "refresh_expires_at": "2030-06-01T00:00:00+00:00",
                    }
                ]
            }
        )
    )
    assert main(["state", "migrate"]) == 0
    assert main(["grants", "import", str(csv_file)]) == 0
    assert main(["grants", "import", str(json_file)]) == 0
    assert main(["grants", "revoke", "u1", "--reason", "user left"]) == 0
    capsys.readouterr()
    assert main(["grants", "list", "--json"]) == 0
    out = capsys.readouterr().out
    assert "SECRET" not in out
    listed = {g["open_id"]: g for g in json.loads(out)}
    assert listed["u1"]["status"] == "revoked"
    assert listed["u1"]["reason"] == "user left"
    assert listed["u2"]["status"] == "active"
    store = StateStore.from_url(cli_env, fernet_keys=[KEY_A])
    assert store.get_grant("u2").refresh_token.reveal() == "rft.SECRET2"


def test_a_bad_import_file_names_the_row_and_writes_nothing(cli_env, tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "open_id,scope,access_token,expires_in,refresh_token,refresh_expires_in\n"
        "u1,portability.all.ongoing,act.SECRET,7200,rft.SECRET,100\n"
        "u2,portability.all.ongoing,act.SECRET,7200,,100\n"
    )
    assert main(["grants", "import", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "line 3: refresh_token is missing" in err
    assert "SECRET" not in err
    assert StateStore.from_url(cli_env, fernet_keys=[KEY_A]).list_grants() == []


@pytest.mark.parametrize(
    ("row", "message"),
    [
        # Columns shifted by one: the refresh token lands where a time or a scope belongs.
        ("u1,portability.all.ongoing,act.SECRET,rft.SECRET,rft.SECRET,100", "line 2: expires_in"),
        ("u1,portability.all.ongoing,act.SECRET,7200,rft.SECRET,rft.SECRET", "line 2: refresh_expires_in"),
        ("u1,rft.SECRET,act.SECRET,7200,rft.SECRET,100", "line 2: scope item 1"),
        ('u1,"[rft.SECRET",act.SECRET,7200,rft.SECRET,100', "line 2: scope is not a JSON list"),
    ],
)
def test_a_rejected_field_is_named_but_its_value_never_echoed(cli_env, tmp_path, capsys, row, message):
    bad = tmp_path / "shifted.csv"
    bad.write_text("open_id,scope,access_token,expires_in,refresh_token,refresh_expires_in\n" + row + "\n")

    assert main(["grants", "import", str(bad)]) == 1

    err = capsys.readouterr().err
    assert message in err
    assert "SECRET" not in err


def test_transfers_list_filters_by_status(cli_env, capsys):
    store = StateStore.from_url(cli_env, fernet_keys=[KEY_A])
    store.create_transfer("u1", "run-1", ["all_data"], 10)
    failed = store.create_transfer("u2", "run-1", ["all_data"], 11)
    store.transition(failed.id, "failed", reason="archive corrupt")
    assert main(["transfers", "list", "--status", "failed"]) == 0
    out = capsys.readouterr().out
    assert "archive corrupt" in out
    assert "u2" in out
    assert "u1" not in out


def test_generate_key_prints_a_usable_key(cli_env, capsys):
    assert main(["state", "generate-key"]) == 0
    key = capsys.readouterr().out.strip()
    StateStore.from_url(cli_env, fernet_keys=[key, KEY_A]).rotate_keys()


def test_grants_import_carries_an_optional_export_format(tmp_path, monkeypatch):
    from tiktok_portability.state.importer import GrantImportError, read_grants_file

    good = tmp_path / "grants.csv"
    good.write_text(
        "open_id,scope,access_token,refresh_token,expires_in,refresh_expires_in,data_format\n"
        "u-1,portability.all.ongoing,a1,r1,7200,15552000,text\n"
        "u-2,portability.all.ongoing,a2,r2,7200,15552000,\n"
    )
    rows = read_grants_file(good)
    assert [r.data_format for r in rows] == ["text", None]
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "open_id,scope,access_token,refresh_token,expires_in,refresh_expires_in,data_format\n"
        "u-1,portability.all.ongoing,a1,r1,7200,15552000,xml\n"
    )
    with pytest.raises(GrantImportError, match="line 2: data_format is not json or text") as info:
        read_grants_file(bad)
    assert "xml" not in str(info.value)


def test_list_commands_read_statuses_without_a_fernet_key(cli_env, monkeypatch, capsys):
    store = StateStore.from_url(cli_env, fernet_keys=[KEY_A])
    store.upsert_grant("u1", ["portability.all.ongoing"], tokens())
    store.upsert_grant("u2", ["portability.all.ongoing"], tokens("2"))
    store.mark_grant("u2", "needs_reauth", "refresh token expired")
    done = store.create_transfer("u1", "run-1", ["all_data"], 10)
    store.transition(done.id, "ready")
    store.transition(done.id, "downloaded", raw_location="raw/u1.zip", raw_size=1, raw_sha256="0" * 64)
    store.transition(done.id, "normalized")
    failed = store.create_transfer("u2", "run-1", ["all_data"], 11)
    store.transition(failed.id, "failed", reason="archive_corrupt: truncated zip")
    monkeypatch.delenv("TIKTOK_FERNET_KEYS")
    capsys.readouterr()

    assert main(["grants", "list", "--json"]) == 0
    listed = {g["open_id"]: g for g in json.loads(capsys.readouterr().out)}
    assert listed["u2"]["status"] == "needs_reauth"
    assert listed["u1"]["last_synced_at"]
    assert main(["grants", "list", "--reason", "needs_reauth", "--json"]) == 0
    assert [g["open_id"] for g in json.loads(capsys.readouterr().out)] == ["u2"]
    assert main(["transfers", "list", "--reason", "archive_corrupt", "--json"]) == 0
    assert [t["open_id"] for t in json.loads(capsys.readouterr().out)] == ["u2"]
    today = utcnow().date().isoformat()
    assert main(["transfers", "list", "--date", today, "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 2
    assert main(["transfers", "list", "--date", "2001-01-01", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    # Writing a token still needs the key, and says which variable to set.
    assert main(["state", "rotate-keys"]) == 1
    assert "TIKTOK_FERNET_KEYS" in capsys.readouterr().err


def test_webhooks_counts_shows_events_and_what_changed_nothing_by_reason(cli_env, monkeypatch, capsys):
    store = StateStore.from_url(cli_env, fernet_keys=[KEY_A])
    store.create_transfer("u1", "run-1", ["all_data"], 10)
    ready = {"event": "portability.download.ready", "create_time": 1, "content": '{"request_id": 10}'}
    store.record_webhook_event(ready)
    store.record_webhook_event(ready)
    store.count_webhook("malformed")
    monkeypatch.delenv("TIKTOK_FERNET_KEYS")

    assert main(["webhooks", "counts", "--json"]) == 0

    rows = {(r["kind"], r["name"]): r for r in json.loads(capsys.readouterr().out)}
    assert rows["event", "portability.download.ready"] == {
        "kind": "event",
        "name": "portability.download.ready",
        "count": 1,
        "applied": 1,
    }
    assert rows["not used", "duplicate"]["count"] == 1
    assert rows["not used", "malformed"]["count"] == 1
    assert rows["not used", "late_removal"]["count"] == 0
    assert main(["webhooks", "counts"]) == 0
    assert "unknown_request" in capsys.readouterr().out


def test_grants_list_flags_reconsent_due_and_reactivate_unparks_an_ineligible_grant(cli_env, capsys):
    from dataclasses import replace
    from datetime import timedelta

    from tests.state.stores import tokens

    store = StateStore.from_url(cli_env, fernet_keys=[KEY_A])
    soon = tokens()
    store.upsert_grant(
        "u-soon",
        ["portability.all.ongoing"],
        replace(soon, refresh_expires_at=soon.expires_at + timedelta(days=5)),
    )
    store.upsert_grant("u-later", ["portability.all.ongoing"], tokens())
    store.upsert_grant("u-parked", ["portability.all.ongoing"], tokens())
    store.mark_grant("u-parked", "ineligible", "ineligible_region: outside the EEA/UK")

    assert main(["grants", "list", "--reconsent-due", "--json"]) == 0
    due = json.loads(capsys.readouterr().out)
    assert [(g["open_id"], g["reconsent_due"]) for g in due] == [("u-soon", "yes")]
    assert main(["grants", "list", "--reconsent-due", "--reconsent-days", "3", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []

    assert main(["grants", "reactivate", "u-later"]) == 1
    assert main(["grants", "reactivate", "u-parked"]) == 0
    assert store.get_grant("u-parked").status == "active"


def test_transfers_list_shows_what_the_normalizer_could_not_type(cli_env, capsys):
    store = StateStore.from_url(cli_env, fernet_keys=[KEY_A])
    done = store.create_transfer("u1", "run-1", ["all_data"], 10)
    store.transition(done.id, "ready")
    store.transition(done.id, "downloaded", raw_location="raw/u1.zip", raw_size=1, raw_sha256="0" * 64)
    counts = {
        "other_records": {"Tiktok Live / Go Live History / GoLiveList": 4, "Your Activity / Reposts": 2},
        "record_errors": {"Your Activity / Watch History / VideoList": 1},
    }
    store.transition(done.id, "normalized", normalize_counts=counts)
    store.create_transfer("u2", "run-1", ["all_data"], 11)

    assert main(["transfers", "list", "--json"]) == 0
    listed = {t["open_id"]: t for t in json.loads(capsys.readouterr().out)}
    assert (listed["u1"]["other_records"], listed["u1"]["parse_errors"]) == (6, 1)
    assert listed["u1"]["normalize_counts"] == counts
    assert (listed["u2"]["other_records"], listed["u2"]["normalize_counts"]) == ("", None)
    assert main(["transfers", "list"]) == 0
    header, first = capsys.readouterr().out.splitlines()[:2]
    assert header.split()[-3:] == ["other_records", "parse_errors", "reason"]
    assert first.split()[-2:] == ["6", "1"]
