"""Repository scripts for tests, loaded by file path (``scripts/`` is not a package)."""

from __future__ import annotations

import importlib.util
import sys
from functools import cache
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[1]


@cache
def airflow_stack() -> ModuleType:
    """The module: ``AirflowStack`` (a real scheduler deployment) and ``Postgres`` (PostgreSQL 15)."""
    spec = importlib.util.spec_from_file_location("airflow_stack", REPO / "scripts" / "airflow_stack.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("airflow_stack", module)
    spec.loader.exec_module(module)
    return module
