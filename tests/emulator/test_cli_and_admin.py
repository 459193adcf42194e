"""The ``emulator`` subcommand's settings, seeding, scope planning and the admin surface."""

from __future__ import annotations

import argparse

import pytest

from tiktok_portability.emulator import create_app
from tiktok_portability.emulator.cli import config_from_args, register, seed_users
from tiktok_portability.emulator.errors import ApiError
from tiktok_portability.emulator.state import required_scopes


def build_parser() -> argparse.ArgumentParser:
    """Only the emulator subcommand (the root CLI would import every part's CLI)."""
    parser = argparse.ArgumentParser(prog="tiktok-portability")
    register(parser.add_subparsers(dest="command"))
    return parser


def test_cli_flags_become_the_emulator_config():
    args = build_parser().parse_args(
        [
            "emulator",
            "--port",
            "9999",
            "--client-key",
            "k",
            "--prep-delay",
            "0",
            "--quota",
            "50",
            "--quota-window-s",
            "2",
            "--quota-mode",
            "shared",
            "--webhook-url",
            "http://127.0.0.1:1/hook",
        ]
    )
    cfg = config_from_args(args)

    assert (args.port, cfg.client_key, cfg.client_secret) == (9999, "k", "demo-client-secret")
    assert (cfg.prep_delay_s, cfg.quota_per_minute, cfg.quota_window_s) == (0, 50, 2)
    assert cfg.quota_mode == "shared"
    assert cfg.webhook_url == "http://127.0.0.1:1/hook"
    assert "demo-client-secret" not in repr(cfg)


def test_cli_defaults_match_the_documented_ones():
    cfg = config_from_args(build_parser().parse_args(["emulator"]))
    assert (cfg.client_key, cfg.quota_per_minute, cfg.quota_mode) == ("demo-client-key", 1000, "per_endpoint")


def test_seed_users_mixes_scopes_layouts_and_returns_tokens():
    app = create_app()
    seeded = seed_users(app, 5)

    assert len({u["open_id"] for u in seeded}) == 5
    assert len({u["generation"] for u in seeded}) >= 3
    assert len({tuple(u["scopes"]) for u in seeded}) >= 3
    assert all(u["tokens"]["access_token"] and u["tokens"]["refresh_token"] for u in seeded)
    app.state.emulator.archives.close()


@pytest.mark.parametrize(
    ("categories", "granted", "used"),
    [
        (
            ["activity", "video"],
            ["portability.all.single", "portability.activity.single"],
            ["portability.all.single"],
        ),
        (
            ["activity"],
            ["portability.all.single", "portability.activity.single"],
            ["portability.activity.single"],
        ),
        (
            ["activity"],
            ["portability.activity.single", "portability.activity.ongoing"],
            ["portability.activity.ongoing"],
        ),
        (
            ["activity", "direct_message"],
            ["portability.activity.ongoing", "portability.directmessages.single"],
            ["portability.activity.ongoing", "portability.directmessages.single"],
        ),
        (["all_data"], ["portability.all.ongoing"], ["portability.all.ongoing"]),
    ],
)
def test_a_request_is_served_by_the_narrowest_scope_covering_it(categories, granted, used):
    assert required_scopes(categories, granted) == used


def test_a_category_nothing_covers_names_itself():
    with pytest.raises(ApiError, match="direct_message") as info:
        required_scopes(["activity", "direct_message"], ["portability.activity.ongoing"])
    assert info.value.code == "scope_not_authorized"


def test_admin_config_rejects_unknown_or_invalid_settings(emulator):
    assert emulator.admin.post("/_admin/config", json={"quota_per_minte": 5}).status_code == 400
    assert emulator.admin.post("/_admin/config", json={"quota_mode": "global"}).status_code == 400
    shown = emulator.admin.get("/_admin/config").json()
    assert "client_secret" not in shown
    assert shown["quota_per_minute"] == 1000


def test_reset_forgets_users_settings_clock_and_faults(emulator):
    user = emulator.create_user()
    emulator.configure(quota_per_minute=1)
    emulator.advance(3600)
    emulator.fault("server_error", count=None)

    emulator.admin.post("/_admin/reset")

    assert emulator.admin.get(f"/_admin/users/{user['open_id']}").status_code == 404
    assert emulator.admin.get("/_admin/config").json()["quota_per_minute"] == 1000
    assert emulator.admin.get("/_admin/clock").json()["offset_s"] == 0
    assert emulator.admin.get("/_admin/faults").json()["active"] == []


def test_admin_user_view_lists_requests_with_versions(emulator):
    from tests.emulator.helpers import add_ok, api, user_with_token

    open_id, token = user_with_token(emulator, open_id="custom-id-1", generation="G1", txt_variant="en_old")
    with api(emulator) as c:
        rid = add_ok(c, token)
    view = emulator.user(open_id)

    assert view["open_id"] == "custom-id-1"
    assert view["generation"] == "G1"
    assert [(r["request_id"], r["version"], r["status"]) for r in view["requests"]] == [
        (rid, 1, "downloading")
    ]
    assert emulator.admin.post("/_admin/users", json={"open_id": "custom-id-1"}).status_code == 409
    assert emulator.admin.post("/_admin/users", json={"size": "huge"}).status_code == 400
