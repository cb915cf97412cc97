"""demo_fs: ingest, then compute features while waiting in the triggerer, then validate."""

import pendulum

from hopsworks_ui_plugin.operators.hopsworks import HopsworksLaunchOperator
from hopsworks_ui_plugin.sensors.hopsworks import HopsworksJobSuccessSensor
from hopsworks_ui_plugin.version_compat import DAG  # airflow.sdk.DAG on 3.x, airflow.DAG on 2.x

with DAG(
    "demo_fs_feature_pipeline",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    schedule=None,
    catchup=False,
    default_args={"owner": "alice"},
    tags=["hopsworks", "demo_fs"],
) as dag:
    ingest = HopsworksLaunchOperator(
        task_id="ingest_transactions",
        project_name="demo_fs",
        job_name="ingest_transactions",
        job_arguments="--run-id {{ run_id }}",
        poke_interval_s=5,
    )
    features = HopsworksLaunchOperator(
        task_id="compute_features",
        project_name="demo_fs",
        job_name="compute_features",
        deferrable=True,
        poke_interval_s=5,
    )
    start_validation = HopsworksLaunchOperator(
        task_id="start_validation",
        project_name="demo_fs",
        job_name="validate_features",
        wait_for_completion=False,
    )
    validated = HopsworksJobSuccessSensor(
        task_id="validation_succeeded",
        project_name="demo_fs",
        job_name="validate_features",
        launch_task_id="start_validation",
        mode="reschedule",
        poke_interval=10,
        timeout=600,
    )
    ingest >> features >> start_validation >> validated
