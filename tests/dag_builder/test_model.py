"""hopsworks_ui_plugin.dag_builder.model: the spec from and to plain data."""

from __future__ import annotations

from datetime import date

import pytest

from hopsworks_ui_plugin.dag_builder.model import SPEC_VERSION, DagSpec, SpecError, TaskSpec


def test_a_spec_survives_to_dict_and_back(spec):
    assert DagSpec.from_dict(spec.to_dict()) == spec


def test_only_the_fields_of_a_tasks_kind_are_kept():
    assert TaskSpec("w", kind="wait_path", job="etl", arguments="x", path="a/b").to_dict() == {
        "name": "w", "kind": "wait_path", "path": "a/b", "upstream": []}
    assert TaskSpec("s", kind="wait_job", job="etl", condition="finished").to_dict() == {
        "name": "s", "kind": "wait_job", "job": "etl", "condition": "finished", "upstream": []}


def test_form_values_are_trimmed_and_tags_may_be_one_comma_separated_field():
    spec = DagSpec.from_dict({"dag_id": "  x ", "tags": "a, b ,,c", "retries": "3", "start_date": "2025-02-03",
                              "tasks": [{"name": " t ", "job": " etl ", "upstream": [" u "]}]})
    assert (spec.dag_id, spec.tags, spec.retries, spec.start_date) == ("x", ["a", "b", "c"], 3, date(2025, 2, 3))
    assert (spec.tasks[0].name, spec.tasks[0].job, spec.tasks[0].upstream) == ("t", "etl", ["u"])
    assert spec.conn_id == "hopsworks_default" and spec.schedule == ""


@pytest.mark.parametrize(("raw", "message"), [
    ([], "The DAG description is not an object."),
    ({"dag_id": 5}, "The DAG: dag_id must be text."),
    ({"retries": 1.5}, "Retries must be a whole number."),
    ({"retries": True}, "Retries must be a whole number."),
    ({"catchup": "yes"}, "Catchup must be true or false."),
    ({"start_date": "tomorrow"}, "The start date 'tomorrow' is not a date (YYYY-MM-DD)."),
    ({"tags": [1]}, "Tags must be a list of words."),
    ({"tasks": {}}, "Tasks must be a list."),
    ({"tasks": ["x"]}, "Task 1 is not an object."),
    ({"tasks": [{"name": "t", "kind": "shell"}]},
     "Task 1 has an unknown kind 'shell' (one of run_job, wait_job, wait_path)."),
    ({"tasks": [{"name": "t", "wait": "forever"}]},
     "Task 1 has an unknown wait mode 'forever' (one of none, worker, deferred)."),
    ({"tasks": [{"name": "t", "upstream": "a"}]}, "Task 1: upstream must be a list of task names."),
    ({"version": SPEC_VERSION + 1},
     f"it was written by builder version {SPEC_VERSION + 1}; this builder reads version 1"),
])
def test_values_of_the_wrong_shape_are_refused_with_a_sentence(raw, message):
    with pytest.raises(SpecError) as err:
        DagSpec.from_dict(raw)
    assert str(err.value) == message


def test_normalized_orders_upstream_like_the_tasks_and_drops_duplicates(spec):
    spec.tasks[3].upstream = ["wait_data", "run_a", "wait_data"]
    spec.tags = ["a", "b", "a"]
    normal = spec.normalized()
    assert normal.tasks[3].upstream == ["run_a", "wait_data"] and normal.tags == ["a", "b"]
    assert spec.tasks[3].upstream == ["wait_data", "run_a", "wait_data"]  # the original is left alone
