"""Run under an AIRFLOW_HOME by test_dag_integrity: load every DAG file, print facts as JSON.

For each file in the DAGs folder it records the file's own import cost: CPU seconds and the
third-party modules it pulls in, measured after Airflow's Task SDK is already imported (a warm-up
DAG is defined first so Airflow's lazy imports are not billed to the file). Then a DagBag loads
the folder and every DAG's tags, owners, retries and timeouts are reported.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path


def warm_up() -> None:
    from airflow.sdk import Param, dag, task

    @dag(
        dag_id="_warm_up",
        schedule=None,
        start_date=datetime(2026, 1, 1),
        params={"p": Param(1, type="integer")},
    )
    def _warm_up():
        @task
        def noop() -> None:
            return None

        noop()

    _warm_up()


def file_cost(path: Path) -> dict:
    before = set(sys.modules)
    spec = importlib.util.spec_from_file_location(f"_probe_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    start = time.process_time()
    spec.loader.exec_module(module)
    cpu_s = time.process_time() - start
    new = sorted({name.split(".")[0] for name in set(sys.modules) - before})
    return {"cpu_s": cpu_s, "new_top_level_modules": new}


def main(dags_folder: str) -> None:
    warm_up()
    files = sorted(p for p in Path(dags_folder).glob("*.py") if not p.name.startswith("_"))
    costs = {p.name: file_cost(p) for p in files}

    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=dags_folder)
    dags = {}
    for dag_id, dag in bag.dags.items():
        dags[dag_id] = {
            "fileloc": Path(dag.fileloc).name,
            "tags": sorted(dag.tags or []),
            "tasks": [
                {
                    "task_id": t.task_id,
                    "owner": t.owner,
                    "retries": t.retries,
                    "execution_timeout_s": (
                        t.execution_timeout.total_seconds()
                        if isinstance(t.execution_timeout, timedelta)
                        else None
                    ),
                }
                for t in dag.tasks
            ],
            # The trigger form's schema of each param (what the UI renders).
            "params": {name: dag.params.get_param(name).dump() for name in dag.params},
        }
    print(
        "DAG_PROBE_JSON="
        + json.dumps(
            {"import_errors": dict(bag.import_errors), "dags": dags, "file_costs": costs}, default=str
        )
    )


if __name__ == "__main__":
    main(sys.argv[1])
