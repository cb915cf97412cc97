"""DAGs written for Hopsworks' original ``hopsworks_plugin`` keep working."""

from __future__ import annotations

import importlib
import sys
import warnings

from tests.dag_runner import run_dag
from tests.support import seed_key


def test_legacy_dag_runs_to_success(hw, airflow_db):
    """The DAG shape Hopsworks generated: DAG_OWNER, params hw_api_key, launch + success sensor."""
    dag_run, tis = run_dag(
        f"""
from hopsworks_plugin.operators.hopsworks_operator import HopsworksLaunchOperator
from hopsworks_plugin.sensors.hopsworks_sensor import HopsworksJobSuccessSensor

DAG_OWNER = 'alice'
PROJECT_NAME = 'demo_fs'
default_args = {{'owner': DAG_OWNER, 'depends_on_past': False, 'start_date': START,
                'params': {{'hw_api_key': {seed_key("alice")!r}}}}}
with DAG(DAG_ID, default_args=default_args, schedule=None) as dag:
    launch = HopsworksLaunchOperator(dag=dag, project_name=PROJECT_NAME, task_id='run_etl', job_name='etl',
                                     job_arguments='--date 2024-01-01', wait_for_completion=True,
                                     poke_interval_s=0.1)
    sensor = HopsworksJobSuccessSensor(dag=dag, project_name=PROJECT_NAME, task_id='wait_etl',
                                       job_name='etl', poke_interval=0.1, timeout=60)
    sensor.set_upstream(launch)
"""
    )
    launched_by = {r.username for r in hw.requests if r.method == "POST"}
    assert dag_run.state == "success", {t: ti.state for t, ti in tis.items()}
    assert launched_by == {"alice"}  # the DAG's own key was used, not the shared connection's


def test_legacy_modules_warn_once_and_reexport():
    for name in list(sys.modules):
        if name.startswith("hopsworks_plugin"):
            del sys.modules[name]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        operators = importlib.import_module("hopsworks_plugin.operators.hopsworks_operator")
        sensors = importlib.import_module("hopsworks_plugin.sensors.hopsworks_sensor")
        hooks = importlib.import_module("hopsworks_plugin.hooks.hopsworks_hook")
        importlib.reload(operators)
    deprecations = [w for w in caught if issubclass(w.category, DeprecationWarning)]
    assert len(deprecations) == 3
    assert "hopsworks_ui_plugin.operators.hopsworks" in str(deprecations[0].message)
    from hopsworks_ui_plugin.hooks.hopsworks import HopsworksHook
    from hopsworks_ui_plugin.operators.hopsworks import HopsworksLaunchOperator
    from hopsworks_ui_plugin.sensors.hopsworks import HopsworksJobSuccessSensor

    assert operators.HopsworksLaunchOperator is HopsworksLaunchOperator
    assert sensors.HopsworksJobSuccessSensor is HopsworksJobSuccessSensor
    assert hooks.HopsworksHook is HopsworksHook
