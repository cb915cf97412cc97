"""demo_fs, written the way Hopsworks' original plugin generated DAGs (legacy imports still work)."""

import pendulum

from hopsworks_plugin.operators.hopsworks_operator import HopsworksLaunchOperator
from hopsworks_plugin.sensors.hopsworks_sensor import HopsworksJobSuccessSensor
from hopsworks_ui_plugin.version_compat import DAG  # airflow.sdk.DAG on 3.x, airflow.DAG on 2.x

DAG_OWNER = "alice"
PROJECT_NAME = "demo_fs"

default_args = {
    "owner": DAG_OWNER,
    "depends_on_past": False,
    "start_date": pendulum.datetime(2024, 1, 1, tz="UTC"),
}

with DAG("demo_fs_legacy_style", default_args=default_args, schedule=None, catchup=False) as dag:
    launch = HopsworksLaunchOperator(
        dag=dag, project_name=PROJECT_NAME, task_id="export_report", job_name="export_report",
        wait_for_completion=True,
    )
    sensor = HopsworksJobSuccessSensor(
        dag=dag, project_name=PROJECT_NAME, task_id="export_report_succeeded", job_name="export_report"
    )
    sensor.set_upstream(launch)
