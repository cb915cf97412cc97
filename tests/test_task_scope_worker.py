"""The shared key's scope on Airflow's real worker path: scheduler, LocalExecutor, supervisor, task runner.

tests/test_task_support.py covers the spoof variants under ``dag.test()``; this module proves the
production lookup (the task runner's StartupDetails: bundle path + ``dag_rel_path``) with one spoof
and its control: a DAG file in analytics' folder whose task's owner is set to "alice" after creation
cannot launch demo_fs' job; the same file in demo_fs' folder does.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import requests

from hopsworks_ui_plugin import devstack
from tests.support import ApiUser, wait_until

DAGS = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])

SOURCE = """
import pendulum
from airflow.sdk import DAG
from hopsworks_ui_plugin.operators.hopsworks import HopsworksLaunchOperator

with DAG({dag_id!r}, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), schedule=None,
         default_args={{"owner": "carol"}}) as dag:
    t = HopsworksLaunchOperator(task_id="launch", job_name="etl", project_name="demo_fs", poke_interval_s=0.2)
setattr(t, "owner", "alice")
"""




def run_from_folder(airflow_server: Any, admin: ApiUser, folder: str) -> tuple[str, str]:
    """Write the DAG into ``<dags>/<folder>/``, wait for it, trigger it; (final task state, task log)."""
    dag_id = f"worker_scope_{folder}_{uuid.uuid4().hex[:6]}"
    path = DAGS / folder / f"{dag_id}.py"
    path.parent.mkdir(exist_ok=True)
    path.write_text(SOURCE.format(dag_id=dag_id))
    try:
        wait_until(f"{dag_id} parsed", lambda: admin.call("GET", f"/dags/{dag_id}").status_code == 200, 180,
                   airflow_server)
        assert admin.call("PATCH", f"/dags/{dag_id}", json={"is_paused": False}).status_code == 200
        run = admin.call("POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None})
        assert run.status_code == 200, run.text
        run_id = run.json()["dag_run_id"]
        ti_path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/launch"

        def final_state() -> str | None:
            state = admin.call("GET", ti_path).json().get("state")
            return state if state in ("success", "failed", "upstream_failed") else None

        state = wait_until(f"{dag_id}'s task to finish", final_state, 180, airflow_server)
        log = requests.get(f"{airflow_server.url}{devstack.API_BASE}{ti_path}/logs/1", timeout=60,
                           headers={**admin.headers, "Accept": "application/json"})
        return state, log.text
    finally:
        path.unlink(missing_ok=True)


def launches(hw: Any) -> list:
    return [r for r in hw.requests if r.method == "POST" and r.path.endswith("/executions")]


def test_worker_refuses_a_dag_file_of_another_project_whatever_its_owner_says(
    hw, airflow_server, airflow_scheduler
):
    admin = ApiUser(airflow_server, "admin")
    state, log = run_from_folder(airflow_server, admin, "analytics")
    assert state == "failed"
    assert launches(hw) == []
    assert "is in the folder of another project ('analytics')" in log
    assert "loaded by the Airflow worker from bundle 'dags-folder'" in log

    state, log = run_from_folder(airflow_server, admin, "demo_fs")  # the control: where it belongs
    assert state == "success", log[-2000:]
    assert len(launches(hw)) == 1
