"""scripts/load_airflow_settings.py: the Astro-format file lands in Airflow's metadata DB."""

from __future__ import annotations

import importlib.util
import json
import sys

import pytest
import sqlalchemy as sa

from tests.fixtures.airflow import REPO

SCRIPT = REPO / "scripts" / "load_airflow_settings.py"


def load_module():
    spec = importlib.util.spec_from_file_location("load_airflow_settings", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


loader = load_module()


def test_the_repository_settings_describe_the_local_emulator_app():
    settings = loader.parse_settings((REPO / "airflow_settings.yaml").read_text())

    app = settings.connections["tiktok_default"]
    assert (app["host"], app["login"], app["password"]) == (
        "http://127.0.0.1:8765",
        "demo-client-key",
        "demo-client-secret",
    )
    assert "port" not in app
    state = json.loads(settings.connections["tiktok_state"]["extra"])
    assert state["url"].startswith("sqlite:///")
    assert "fernet_keys" not in state, "a key in the repository would encrypt every demo's tokens alike"
    assert settings.pools["tiktok_api"]["slots"] >= 1
    assert set(settings.variables) >= {
        "tiktok_token_refresh_horizon_minutes",
        "tiktok_token_refresh_batch_size",
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("airflow:\n  connections:\n    - conn_type: http\n", "missing conn_id"),
        ("airflow:\n  connections:\n    - conn_id: x\n", "missing conn_type"),
        ("airflow:\n  pools:\n    - pool_name: p\n      pool_slot: -1\n", "non-negative integer"),
        ("airflow:\n  pools: {a: 1}\n", "must be a list"),
    ],
)
def test_mistakes_are_reported_with_the_entry(text, message):
    with pytest.raises(loader.SettingsError, match=message):
        loader.parse_settings(text, source="s.yaml")


def test_an_empty_file_is_nothing_to_apply():
    assert loader.parse_settings("") == loader.AirflowSettings()


@pytest.mark.airflow
def test_applying_writes_connections_pools_and_variables_and_can_be_repeated(airflow_home, tmp_path):
    home = airflow_home.clone(tmp_path / "home")

    first = home.run_python(str(SCRIPT), str(REPO / "airflow_settings.yaml"))
    second = home.run_python(str(SCRIPT), str(REPO / "airflow_settings.yaml"))

    assert first.ok, str(first)
    assert second.ok, str(second)
    assert "applied 2 connection(s), 1 pool(s), 2 variable(s)" in second.stdout
    engine = sa.create_engine(f"sqlite:///{home.path / 'airflow.db'}")
    with engine.connect() as conn:
        conns = dict(conn.execute(sa.text("SELECT conn_id, host FROM connection")).all())
        pools = dict(conn.execute(sa.text("SELECT pool, slots FROM slot_pool")).all())
        keys = {r[0] for r in conn.execute(sa.text("SELECT key FROM variable"))}
    engine.dispose()
    assert conns == {"tiktok_default": "http://127.0.0.1:8765", "tiktok_state": None}
    assert pools["tiktok_api"] == 4
    assert keys == {"tiktok_token_refresh_horizon_minutes", "tiktok_token_refresh_batch_size"}


def test_the_demo_generates_its_own_owner_only_fernet_key(tmp_path):
    import stat

    from cryptography.fernet import Fernet

    spec = importlib.util.spec_from_file_location("demo_script", REPO / "scripts" / "demo.py")
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)

    key = demo.demo_fernet_key(tmp_path)

    Fernet(key.encode())  # a usable key
    assert (tmp_path / "fernet.key").read_text().strip() == key
    assert stat.S_IMODE((tmp_path / "fernet.key").stat().st_mode) == 0o600
    other = tmp_path / "next-demo"
    other.mkdir()
    assert demo.demo_fernet_key(other) != key
