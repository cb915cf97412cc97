"""analytics (carol): the daily report; the failing cleanup job shows a failed task."""

import pendulum

from hopsworks_ui_plugin.operators.hopsworks import HopsworksLaunchOperator
from hopsworks_ui_plugin.version_compat import DAG  # airflow.sdk.DAG on 3.x, airflow.DAG on 2.x

with DAG(
    "analytics_daily_report",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    schedule=None,
    catchup=False,
    default_args={"owner": "carol"},
    tags=["hopsworks", "analytics"],
) as dag:
    report = HopsworksLaunchOperator(task_id="daily_report", project_name="analytics", job_name="daily_report")
    cleanup = HopsworksLaunchOperator(
        task_id="cleanup_tmp", project_name="analytics", job_name="cleanup_tmp", ignore_failure=True
    )
    report >> cleanup
