"""Run a DAG written to the test DAGs folder with Airflow's own ``dag.test()`` and read the results."""

from __future__ import annotations

import importlib.util
import os
import textwrap
import uuid
from pathlib import Path
from typing import Any

HEADER = """
import pendulum
from hopsworks_ui_plugin.version_compat import DAG  # airflow.sdk.DAG on 3.x, airflow.DAG on 2.x
START = pendulum.datetime(2024, 1, 1, tz="UTC")
"""


def run_dag(body: str, dag_id: str | None = None) -> tuple[Any, dict[str, Any]]:
    """Write ``HEADER + body`` (which must define ``dag``) as a DAG file and ``dag.test()`` it.

    Returns the DagRun and ``{task_id: TaskInstance}``.
    """
    dag_id = dag_id or f"t_{uuid.uuid4().hex[:10]}"
    source = HEADER + textwrap.dedent(body).replace("DAG_ID", repr(dag_id))
    path = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]) / f"{dag_id}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(dag_id, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    try:
        dag_run = module.dag.test()
    finally:
        path.unlink()
    return dag_run, {ti.task_id: ti for ti in dag_run.get_task_instances()}


def xcom(ti: Any, key: str) -> Any:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        row = session.scalars(
            select(XComModel).where(
                XComModel.dag_id == ti.dag_id,
                XComModel.run_id == ti.run_id,
                XComModel.task_id == ti.task_id,
                XComModel.key == key,
            )
        ).first()
        return None if row is None else XComModel.deserialize_value(row)


class RecordingTI:
    """Stand-in for the task instance in direct ``execute()`` calls: records XCom pushes."""

    def __init__(self) -> None:
        self.xcom: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[key] = value

    def get_first_reschedule_date(self, context: Any = None) -> None:
        return None

    def xcom_pull(self, task_ids: str | None = None, key: str = "return_value") -> Any:
        return self.xcom.get(key)
