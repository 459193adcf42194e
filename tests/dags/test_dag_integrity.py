"""Every DAG in dags/ loads, is owned, tagged, retried and time-boxed, and is cheap to parse."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fixtures.airflow import REPO

pytestmark = pytest.mark.airflow

# A DAG file is parsed every few seconds by the DAG processor: its own work (beyond Airflow's
# imports) must stay small. The bound is generous (CPU time, not wall time) so it does not flake;
# importing pandas or pyarrow at module level alone would exceed it.
MAX_OWN_IMPORT_CPU_S = 0.2
HEAVY_MODULES = {"pandas", "pyarrow", "duckdb", "boto3", "botocore", "httpx", "fastapi"}


@pytest.fixture(scope="module")
def probe(airflow_home) -> dict:
    result = airflow_home.run_python(str(Path(__file__).with_name("dag_probe.py")), str(REPO / "dags"))
    assert result.ok, str(result)
    line = next(x for x in result.stdout.splitlines() if x.startswith("DAG_PROBE_JSON="))
    return json.loads(line.removeprefix("DAG_PROBE_JSON="))


def test_dagbag_has_no_import_errors(probe):
    assert probe["import_errors"] == {}


def test_every_dag_file_defines_a_dag(probe):
    files = {p.name for p in (REPO / "dags").glob("*.py") if not p.name.startswith("_")}
    assert files, "dags/ is empty"
    assert files <= {d["fileloc"] for d in probe["dags"].values()}


def test_the_token_refresh_dag_is_there(probe):
    assert "tiktok_token_refresh" in probe["dags"]


def test_every_dag_has_tags(probe):
    untagged = [dag_id for dag_id, d in probe["dags"].items() if not d["tags"]]
    assert untagged == []


def test_every_task_has_an_owner_retries_and_a_timeout(probe):
    problems = [
        f"{dag_id}.{t['task_id']}: owner={t['owner']} retries={t['retries']} "
        f"timeout={t['execution_timeout_s']}"
        for dag_id, d in probe["dags"].items()
        for t in d["tasks"]
        if t["owner"] in (None, "", "airflow") or t["retries"] < 1 or not t["execution_timeout_s"]
    ]
    assert problems == []


def test_dag_files_are_cheap_to_parse(probe):
    slow = {name: c["cpu_s"] for name, c in probe["file_costs"].items() if c["cpu_s"] > MAX_OWN_IMPORT_CPU_S}
    assert slow == {}


def test_dag_files_import_nothing_heavy_at_module_level(probe):
    heavy = {
        name: sorted(set(c["new_top_level_modules"]) & HEAVY_MODULES)
        for name, c in probe["file_costs"].items()
        if set(c["new_top_level_modules"]) & HEAVY_MODULES
    }
    assert heavy == {}


def _nullable(schema: dict) -> bool:
    kinds = schema.get("type")
    return isinstance(kinds, list) and "null" in kinds


def test_the_sync_trigger_form_describes_every_param_and_requires_none(probe):
    # The UI marks a param required unless its type allows null; every sync param has a default.
    params = probe["dags"]["tiktok_ongoing_sync"]["params"]
    for name, param in params.items():
        schema = param["schema"]
        assert schema.get("title"), f"{name} has no title"
        assert len(param.get("description") or "") > 20, f"{name} has no description"
        assert _nullable(schema), f"{name} would show as required"
    categories = params["categories"]["schema"]
    assert categories["examples"] == categories["items"]["enum"], "categories renders as a multi-select"


def test_docs_sync_md_documents_every_sync_param(probe):
    docs = (REPO / "docs" / "sync.md").read_text()
    table = docs[docs.index("## Params (the trigger form)") :]
    for name in probe["dags"]["tiktok_ongoing_sync"]["params"]:
        assert f"| `{name}` |" in table, name
