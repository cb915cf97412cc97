"""hopsworks_ui_plugin.dag_builder.codegen: the DAG file a careful engineer would write, checked
with the upload's own checks, ruff (the repository's rules) and Airflow's DagBag. Every generated
file is kept under test-artifacts/generated-dags/."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from hopsworks_ui_plugin import dag_files
from hopsworks_ui_plugin.dag_builder import codegen
from hopsworks_ui_plugin.dag_builder.model import DagSpec, TaskSpec
from tests.dag_builder.conftest import three_task_spec
from tests.support import ARTIFACTS

GENERATED = ARTIFACTS / "generated-dags"
REPO = Path(__file__).resolve().parents[2]

EXPECTED_BODY = '''"""Features, then training."""

import pendulum
from airflow.sdk import DAG

from hopsworks_ui_plugin.operators.hopsworks import HopsworksLaunchOperator
from hopsworks_ui_plugin.sensors.hopsworks import HopsworksDatasetSensor

with DAG(
    dag_id="features_daily",
    description="Features, then training",
    schedule="30 6 * * 1-5",
    start_date=pendulum.datetime(2024, 3, 1, tz="UTC"),
    catchup=False,
    default_args={"owner": "alice", "retries": 2},
    tags=["demo_fs", "features"],
):
    run_a = HopsworksLaunchOperator(
        task_id="run_a",
        project_name="demo_fs",
        job_name="etl",
        job_arguments="--date {{ ds }}",
        deferrable=False,
    )
    wait_data = HopsworksDatasetSensor(
        task_id="wait_data",
        project_name="demo_fs",
        path="Resources/incoming/data.csv",
        mode="reschedule",
    )
    run_b = HopsworksLaunchOperator(
        task_id="run_b",
        project_name="demo_fs",
        job_name="train",
        deferrable=True,
    )
    run_c = HopsworksLaunchOperator(
        task_id="run_c",
        project_name="demo_fs",
        job_name="big_log",
        wait_for_completion=False,
    )

    [run_a, wait_data] >> run_b
    [run_a, wait_data] >> run_c
'''


def generated(spec: DagSpec, name: str) -> str:
    """The code for ``spec``, kept as a test artifact."""
    code = codegen.generate(spec)
    GENERATED.mkdir(parents=True, exist_ok=True)
    (GENERATED / f"unit_{name}.py").write_text(code)
    return code


def test_the_three_task_dag_reads_like_hand_written_airflow_3(spec):
    code = generated(spec, "three_tasks")
    head, _, body = code.partition(codegen.END + "\n\n")
    assert head.startswith(codegen.HEADER + codegen.BEGIN + "\n")
    assert body == EXPECTED_BODY


def test_the_same_dag_gives_the_same_bytes(spec):
    shuffled = three_task_spec()
    shuffled.tasks[2].upstream = ["wait_data", "run_a", "run_a"]
    assert codegen.generate(spec) == codegen.generate(shuffled) == codegen.generate(spec)


def test_sensors_and_a_connection_of_its_own():
    spec = DagSpec(dag_id="watch", project="demo_fs", owner="bob", schedule="", conn_id="hopsworks_ui", tasks=[
        TaskSpec("ok", kind="wait_job", job="etl"), TaskSpec("done", kind="wait_job", job="etl", condition="finished"),
    ])
    code = generated(spec, "sensors")
    assert "from hopsworks_ui_plugin.sensors.hopsworks import HopsworksJobFinishSensor, HopsworksJobSuccessSensor" \
        in code
    assert "HopsworksLaunchOperator" not in code and "schedule=None," in code
    assert code.count('hopsworks_conn_id="hopsworks_ui",') == 2
    assert '"""watch: a DAG of Hopsworks project demo_fs, made with the DAG builder."""' in code


def literal(code: str, keyword: str) -> str:
    """The value of the first ``keyword=`` argument in the code, evaluated as Python reads it."""
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.keyword) and node.arg == keyword:
            return ast.literal_eval(node.value)
    raise AssertionError(f"no {keyword}=")


HOSTILE = 'say "hi" \\ then {{ ds }} \u202e gnp.exe \u200b tab\there ' + "x" * 300


def test_hostile_text_stays_text_and_long_text_is_wrapped():
    spec = three_task_spec(description=HOSTILE[:450].replace("\t", " "))
    spec.tasks[0].arguments = HOSTILE
    code = generated(spec, "hostile")
    assert literal(code, "job_arguments") == HOSTILE
    assert literal(code, "description") == spec.description
    assert "\u202e" not in code and "\u200b" not in code  # bidi and zero-width characters only as escapes
    assert max(len(line) for line in code.splitlines()) <= 120


def test_a_task_name_that_is_not_a_python_name_is_never_written():
    spec = three_task_spec()
    spec.tasks[0].name = "x = 1; import os"
    with pytest.raises(ValueError, match="is not a usable Python name"):
        codegen.generate(spec)


def test_generated_files_pass_the_upload_checks(spec):
    code = codegen.generate(spec).encode()
    checked = dag_files.check_source("features_daily.py", code)
    assert set(checked.owners.owners) == {"alice"}
    assert dag_files.owner_verdict(checked, "alice", False) == (None, [])
    refusal, _ = dag_files.owner_verdict(checked, "bob", False)
    assert refusal and "you may only upload DAGs owned by your own Hopsworks username 'bob'" in refusal


def test_no_api_key_ever(spec):
    code = codegen.generate(spec).lower()
    assert "api_key" not in code and "apikey" not in code and "password" not in code and "params=" not in code


def test_airflow_loads_the_generated_dag(spec, tmp_path):
    try:
        from airflow.dag_processing.dagbag import DagBag  # Airflow 3.2+
    except ImportError:
        from airflow.models.dagbag import DagBag

    path = tmp_path / "features_daily.py"
    path.write_text(codegen.generate(spec))
    bag = DagBag(dag_folder=str(path))
    assert bag.import_errors == {}
    dag = bag.dags["features_daily"]
    assert dag.owner == "alice" and dag.description == "Features, then training"
    assert dag.task_dict["run_b"].upstream_task_ids == {"run_a", "wait_data"}
    assert dag.task_dict["run_b"].deferrable is True and dag.task_dict["run_a"].deferrable is False
    assert dag.task_dict["run_a"].retries == 2 and dag.task_dict["wait_data"].mode == "reschedule"


def test_every_generated_file_passes_ruff():
    """ruff (the repository's configuration) over every kept file: this module's samples (written
    again here, so the test stands alone) and whatever the browser tests kept."""
    wide = three_task_spec(tags=[f"tag_{n}_{'t' * 30}" for n in range(6)], owner="o" * 120, schedule="@once")
    wide.tasks[0].name = "a" * 80
    wide.tasks[2].upstream = ["a" * 80, "wait_data"]
    wide.tasks[3].upstream = ["a" * 80, "wait_data"]
    for name, spec in (("three_tasks", three_task_spec()), ("wide", wide),
                       ("hostile", three_task_spec(description=HOSTILE[:450].replace("\t", " ")))):
        generated(spec, name)
    files = sorted(GENERATED.glob("*.py"))
    result = subprocess.run([str(Path(sys.executable).parent / "ruff"), "check", "--no-cache", *map(str, files)],
                            cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
