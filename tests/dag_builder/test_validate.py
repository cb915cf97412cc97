"""hopsworks_ui_plugin.dag_builder.validate: names, schedules and their next runs, cycles."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from hopsworks_ui_plugin.dag_builder.model import TaskSpec
from hopsworks_ui_plugin.dag_builder.validate import (
    check,
    dag_ids_defined,
    dataset_path_problem,
    find_cycle,
    schedule_preview,
    schedule_problem,
)
from tests.dag_builder.conftest import three_task_spec


def problems(spec) -> dict[str, str]:
    return {p.field: p.message for p in check(spec)}


def test_a_good_spec_has_no_problems(spec):
    assert check(spec) == []


@pytest.mark.parametrize("schedule", ["", "@once", "@hourly", "@daily", "@weekly", "*/5 * * * *", "30 6 * * 1-5",
                                      "0 0 1 jan,jul *"])
def test_presets_and_five_field_cron_expressions_are_accepted(schedule):
    assert schedule_problem(schedule) is None


def test_continuous_is_refused_as_hopsworks_does():
    assert schedule_problem("@continuous").startswith("@continuous is not offered")


@pytest.mark.parametrize(("schedule", "start"), [
    ("61 * * * *", "'61 * * * *' is not a valid cron expression"),
    ("* * * *", "A cron expression has five fields"),
    ("0 0 * * * *", "A cron expression has five fields"),
    ("@monthly", "@monthly is not one of the presets (@once, @hourly, @daily, @weekly)"),
    ("every day", "A cron expression has five fields"),
])
def test_bad_schedules_say_what_is_wrong(schedule, start):
    assert schedule_problem(schedule).startswith(start)


NOW = datetime(2024, 6, 5, 12, 0, tzinfo=UTC)  # a Wednesday


def times(preview) -> list[str]:
    return [t.strftime("%a %Y-%m-%d %H:%M") for t in preview.runs]


def test_without_catchup_the_latest_past_time_runs_first_then_the_schedule():
    preview = schedule_preview("30 6 * * 1-5", date(2024, 1, 1), False, NOW)
    assert times(preview) == ["Wed 2024-06-05 06:30", "Thu 2024-06-06 06:30", "Fri 2024-06-07 06:30",
                              "Mon 2024-06-10 06:30", "Tue 2024-06-11 06:30"]
    assert "latest past run time is run at once" in preview.summary


def test_with_catchup_runs_start_at_the_start_date():
    preview = schedule_preview("@daily", date(2024, 6, 1), True, NOW)
    assert times(preview)[:2] == ["Sat 2024-06-01 00:00", "Sun 2024-06-02 00:00"]
    assert "Catchup is on" in preview.summary


def test_a_future_start_date_is_the_earliest_run():
    preview = schedule_preview("@weekly", date(2030, 1, 1), False, NOW)
    assert times(preview)[0] == "Sun 2030-01-06 00:00" and len(preview.runs) == 5


def test_manual_and_once_and_errors():
    assert schedule_preview("", date(2024, 1, 1), False, NOW).runs == []
    assert schedule_preview("@once", date(2024, 1, 1), False, NOW).runs == [NOW]
    broken = schedule_preview("61 * * * *", date(2024, 1, 1), False, NOW)
    assert broken.runs == [] and "not a valid cron expression" in (broken.error or "")


def test_a_cycle_is_named_in_the_direction_of_its_edges():
    spec = three_task_spec()
    spec.tasks[0].upstream = ["run_b"]  # run_a after run_b, run_b after run_a
    assert find_cycle(spec) == ["run_a", "run_b", "run_a"]
    assert problems(spec)["graph"] == ("The dependencies form a cycle: run_a → run_b → run_a. A DAG cannot wait for "
                                       "itself; remove one of these.")
    spec.tasks[0].upstream = []
    spec.tasks.append(TaskSpec("x", job="etl", upstream=["z"]))
    spec.tasks.append(TaskSpec("y", job="etl", upstream=["x"]))
    spec.tasks.append(TaskSpec("z", job="etl", upstream=["y"]))
    assert find_cycle(spec) == ["x", "y", "z", "x"]


def test_a_task_that_waits_for_itself_or_for_nobody_known():
    spec = three_task_spec()
    spec.tasks[0].upstream = ["run_a", "ghost"]
    assert [p.message for p in check(spec) if p.field == "task.1.upstream"] == [
        "Task 1 (run_a) cannot wait for itself.", "Task 1 (run_a) waits for 'ghost', which is not a task of this DAG."]


@pytest.mark.parametrize(("name", "says"), [
    ("", "give it a name"),
    ("1st", "must be a Python identifier"),
    ("run-a", "must be a Python identifier"),
    ("class", "must be a Python identifier"),
    ("a" * 81, "must be a Python identifier of at most 80 characters"),
    ("dag", "is a name the generated file uses itself"),
    ("pendulum", "is a name the generated file uses itself"),
])
def test_task_names_are_unique_python_names(name, says):
    spec = three_task_spec()
    spec.tasks[0].name = name
    assert says in problems(spec)["task.1.name"]


def test_task_names_are_unique():
    spec = three_task_spec()
    spec.tasks[2].name = "run_a"
    assert problems(spec)["task.3.name"] == ("Task 3 (run_a): another task is already called run_a; names must be "
                                             "unique.")


@pytest.mark.parametrize(("dag_id", "says"), [
    ("", "Give the DAG an id"),
    ("a/b", "may only hold letters"),
    ("a..b", "may only hold letters"),
    ("-x", "may only hold letters"),
    ("ä", "may only hold letters"),
    ("x" * 121, "too long (121 characters; at most 120)"),
])
def test_dag_ids_that_cannot_be_a_file_name(dag_id, says):
    assert says in problems(three_task_spec(dag_id=dag_id))["dag_id"]


def test_other_fields():
    found = problems(three_task_spec(retries=11, conn_id="bad id", tags=["x" * 101], description="a\nb",
                                     start_date=date(1900, 1, 1), tasks=[]))
    assert found == {
        "retries": "Retries must be between 0 and 10.",
        "conn_id": "The connection id may only hold letters, digits, '_', '-' and '.' (at most 250).",
        "tags": f"Tag {'x' * 40!r} must be 1 to 100 characters of plain text.",
        "description": "The description must be one line of at most 500 characters.",
        "start_date": "The start date must be between 1970 and 2200.",
        "tasks": "Add at least one task.",
    }


def test_jobs_and_paths_are_required_by_kind():
    spec = three_task_spec()
    spec.tasks[0].job = ""
    spec.tasks[1].path = "../other_project/x"
    found = problems(spec)
    assert found["task.1.job"] == "Task 1 (run_a): choose a job of the project."
    assert found["task.2.path"] == "Task 2 (wait_data): the path may not hold empty, '.' or '..' parts."


@pytest.mark.parametrize(("path", "problem"), [
    ("Resources/data.csv", None),
    ("Resources/dir/", None),
    ("/Projects/demo_fs/Resources/x", "give the path relative to the project (e.g. Resources/input.csv), without a "
                                      "leading /."),
    ("a//b", "the path may not hold empty, '.' or '..' parts."),
    ("a\\b", "the path is too long or holds control characters or backslashes."),
    ("", "give the path to wait for, relative to the project (e.g. Resources/input.csv)."),
])
def test_dataset_paths(path, problem):
    assert dataset_path_problem(path) == problem


def test_dag_ids_defined_by_a_file_are_read_without_running_it():
    source = b"""
from airflow.sdk import DAG, dag
import airflow.sdk as sdk
with DAG("first"):
    pass
sdk.DAG(dag_id="second")
@dag(dag_id="third")
def f(): ...
DAG(name)  # not a literal: unknown
"""
    assert dag_ids_defined(source) == {"first", "second", "third"}
    assert dag_ids_defined(b"def (:") == set()
