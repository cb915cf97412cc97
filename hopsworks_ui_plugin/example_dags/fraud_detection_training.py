"""fraud_detection (bob): build a training set, train, evaluate."""

import pendulum

from hopsworks_ui_plugin.operators.hopsworks import HopsworksLaunchOperator
from hopsworks_ui_plugin.version_compat import DAG  # airflow.sdk.DAG on 3.x, airflow.DAG on 2.x

with DAG(
    "fraud_detection_training",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    schedule=None,
    catchup=False,
    default_args={"owner": "bob"},
    tags=["hopsworks", "fraud_detection"],
) as dag:
    previous = None
    for job in ("build_training_set", "train_fraud_model", "evaluate"):
        task = HopsworksLaunchOperator(
            task_id=job, project_name="fraud_detection", job_name=job, deferrable=True, poke_interval_s=5
        )
        if previous is not None:
            previous >> task
        previous = task
