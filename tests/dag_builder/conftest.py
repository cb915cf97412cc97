"""Specs shared by the DAG builder's unit tests."""

from __future__ import annotations

from datetime import date

import pytest

from hopsworks_ui_plugin.dag_builder.model import DagSpec, TaskSpec


def three_task_spec(**extra: object) -> DagSpec:
    """Run job A and wait for a dataset path; then jobs B and C after both."""
    spec = DagSpec(
        dag_id="features_daily", project="demo_fs", owner="alice", description="Features, then training",
        tags=["demo_fs", "features"], schedule="30 6 * * 1-5", start_date=date(2024, 3, 1), catchup=False,
        retries=2,
        tasks=[
            TaskSpec("run_a", job="etl", arguments="--date {{ ds }}"),
            TaskSpec("wait_data", kind="wait_path", path="Resources/incoming/data.csv"),
            TaskSpec("run_b", job="train", wait="deferred", upstream=["run_a", "wait_data"]),
            TaskSpec("run_c", job="big_log", wait="none", upstream=["wait_data", "run_a"]),
        ],
    )
    for key, value in extra.items():
        setattr(spec, key, value)
    return spec


@pytest.fixture()
def spec() -> DagSpec:
    return three_task_spec()
