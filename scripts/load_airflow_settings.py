"""Apply ``airflow_settings.yaml`` (the Astro CLI format) to the local Airflow metadata DB.

The Astro CLI cannot be installed here, so this script does what ``astro dev start`` does with the
file: it converts the ``connections``, ``pools`` and ``variables`` sections into the files that
Airflow's own ``connections import``, ``pools import`` and ``variables import`` commands read, and
runs those commands in one process (importing Airflow once costs seconds; three CLI processes would
cost three times that). Existing entries with the same id are overwritten, so the script can be
re-run after editing the YAML.

Usage: ``python scripts/load_airflow_settings.py [airflow_settings.yaml] [--dry-run]``
(``AIRFLOW_HOME`` and the usual ``AIRFLOW__*`` variables select the metadata DB).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

DEFAULT_PATH = Path(__file__).resolve().parent.parent / "airflow_settings.yaml"

# Astro CLI connection keys -> Airflow's connection-file keys.
_CONNECTION_KEYS = {
    "conn_type": "conn_type",
    "conn_host": "host",
    "conn_schema": "schema",
    "conn_login": "login",
    "conn_password": "password",
    "conn_port": "port",
    "conn_description": "description",
}


class SettingsError(ValueError):
    """An airflow_settings.yaml entry that is missing a required key or has a wrong type."""


@dataclass
class AirflowSettings:
    """The three sections of the file, already in the shapes Airflow's import commands read."""

    connections: dict[str, dict[str, Any]] = field(default_factory=dict)
    pools: dict[str, dict[str, Any]] = field(default_factory=dict)
    variables: dict[str, str] = field(default_factory=dict)


def _entries(section: Any, name: str, source: str) -> list[dict[str, Any]]:
    if section is None:
        return []
    if not isinstance(section, list) or not all(isinstance(e, dict) for e in section):
        raise SettingsError(f"{source}: airflow.{name} must be a list of mappings")
    return section


def _required(entry: dict[str, Any], key: str, where: str) -> Any:
    value = entry.get(key)
    if value is None or value == "":
        raise SettingsError(f"{where}: missing {key}")
    return value


def parse_settings(text: str, source: str = "airflow_settings.yaml") -> AirflowSettings:
    """Convert the YAML text into AirflowSettings; empty values (``conn_port:``) are left out."""
    document = yaml.safe_load(text) or {}
    root = document.get("airflow") if isinstance(document, dict) else None
    if root is None:
        return AirflowSettings()
    if not isinstance(root, dict):
        raise SettingsError(f"{source}: the top-level 'airflow' key must hold a mapping")

    settings = AirflowSettings()
    for i, entry in enumerate(_entries(root.get("connections"), "connections", source)):
        conn_id = _required(entry, "conn_id", f"{source}: connections[{i}]")
        conn: dict[str, Any] = {}
        for astro_key, airflow_key in _CONNECTION_KEYS.items():
            value = entry.get(astro_key)
            if value is not None and value != "":
                conn[airflow_key] = int(value) if airflow_key == "port" else value
        if "conn_type" not in conn:
            raise SettingsError(f"{source}: connection {conn_id!r}: missing conn_type")
        extra = entry.get("conn_extra")
        if extra:
            conn["extra"] = extra if isinstance(extra, str) else json.dumps(extra)
        settings.connections[str(conn_id)] = conn

    for i, entry in enumerate(_entries(root.get("pools"), "pools", source)):
        where = f"{source}: pools[{i}]"
        name = _required(entry, "pool_name", where)
        slots = _required(entry, "pool_slot", where)
        if not isinstance(slots, int) or slots < 0:
            raise SettingsError(f"{where}: pool_slot must be a non-negative integer, got {slots!r}")
        settings.pools[str(name)] = {
            "slots": slots,
            "description": entry.get("pool_description") or "",
            "include_deferred": bool(entry.get("include_deferred", False)),
        }

    for i, entry in enumerate(_entries(root.get("variables"), "variables", source)):
        name = _required(entry, "variable_name", f"{source}: variables[{i}]")
        value = entry.get("variable_value")
        # Airflow stores variables as text; non-strings are stored as their JSON form.
        settings.variables[str(name)] = value if isinstance(value, str) else json.dumps(value)
    return settings


def apply_settings(settings: AirflowSettings) -> None:
    """Write the settings to the metadata DB through Airflow's own import commands."""
    from airflow.cli.cli_parser import get_parser

    parser = get_parser()
    with tempfile.TemporaryDirectory(prefix="airflow-settings-") as tmp:
        commands: list[list[str]] = []
        for name, payload, argv in (
            ("connections", settings.connections, ["connections", "import", "--overwrite"]),
            ("pools", settings.pools, ["pools", "import"]),
            (
                "variables",
                settings.variables,
                ["variables", "import", "--action-on-existing-key", "overwrite"],
            ),
        ):
            if not payload:
                continue
            path = Path(tmp) / f"{name}.json"
            path.write_text(json.dumps(payload))
            commands.append([*argv[:2], str(path), *argv[2:]])
        for argv in commands:
            args = parser.parse_args(argv)
            args.func(args)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", type=Path, default=DEFAULT_PATH, help="the settings file")
    parser.add_argument(
        "--dry-run", action="store_true", help="print what would be imported (passwords masked) and stop"
    )
    args = parser.parse_args(argv)
    try:
        settings = parse_settings(args.path.read_text(), source=str(args.path))
    except (OSError, SettingsError, yaml.YAMLError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.dry_run:
        shown = {
            "connections": {
                cid: {k: ("***" if k in ("password", "extra") else v) for k, v in c.items()}
                for cid, c in settings.connections.items()
            },
            "pools": settings.pools,
            "variables": sorted(settings.variables),
        }
        print(json.dumps(shown, indent=2))
        return 0
    apply_settings(settings)
    print(
        f"applied {len(settings.connections)} connection(s), {len(settings.pools)} pool(s), "
        f"{len(settings.variables)} variable(s) from {args.path}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
