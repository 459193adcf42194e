"""``airflow_stack.py up`` prints the shell lines that point the CLI at the stack: they work."""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path
from types import SimpleNamespace

from tests.scripts import airflow_stack
from tiktok_portability.state import StateStore, generate_key


def test_the_printed_lines_run_the_cli_against_the_stacks_state_store(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'state.db'}"
    key = generate_key()
    StateStore.from_url(url, [key]).close()
    stack = SimpleNamespace(state_url=url, lake_uri=str(tmp_path / "lake"), fernet_key=key)

    lines = airflow_stack().cli_environment(stack)

    env = {k: v for k, v in os.environ.items() if not k.startswith("TIKTOK_")}
    for line in lines:
        if line.startswith("export "):
            name, _, value = line.removeprefix("export ").partition("=")
            env[name] = shlex.split(value, comments=True)[0]
    assert env["TIKTOK_STATE_URL"] == url
    assert env["TIKTOK_LAKE_URI"] == stack.lake_uri
    commands = [shlex.split(line) for line in lines if not line.startswith("export ")]
    assert commands
    for argv in commands:
        proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, (argv, proc.stderr[-2000:])
