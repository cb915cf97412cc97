"""hopsworks_ui_plugin.dag_builder.parse: builder-made files open again in the builder; anything
else gets a sentence saying why it opens in the editor."""

from __future__ import annotations

import pytest

from hopsworks_ui_plugin.dag_builder import codegen, parse
from tests.dag_builder.conftest import three_task_spec

EDITOR = "This file opens in the editor, not the builder: "


def test_a_builder_made_file_reads_back_into_its_spec(spec):
    parsed = parse.parse(codegen.generate(spec).encode(), "demo_fs")
    assert parsed.reason is None and parsed.spec == spec.normalized()


def test_a_hand_edit_of_the_code_is_named_by_line(spec):
    code = codegen.generate(spec).replace('job_name="train"', 'job_name="train_v2"')
    line = code.split("\n").index('        job_name="train_v2",') + 1
    reason = parse.parse(code.encode(), "demo_fs").reason
    assert reason == (f"{EDITOR}it was edited by hand after the builder wrote it: line {line} "
                      "('job_name=\"train_v2\",') is not what the builder wrote there. The builder only opens files "
                      "it wrote and that were not changed since, so that no hand edit is lost.")


def test_an_edit_of_the_spec_block_alone_does_not_match_the_code(spec):
    code = codegen.generate(spec).replace('"job": "train"', '"job": "other"')
    assert "edited by hand after the builder wrote it" in parse.parse(code.encode()).reason


def test_added_and_removed_lines(spec):
    code = codegen.generate(spec)
    assert "lines were added after line" in parse.parse((code + "print('hi')\n").encode()).reason
    assert "it ends after line" in parse.parse(code.rsplit("\n", 3)[0].encode()).reason


@pytest.mark.parametrize(("source", "why"), [
    (b"from airflow.sdk import DAG\n", "it was not made with the DAG builder (it has no builder block at the top)"),
    (b"\xff\xfe", "it is not UTF-8 text"),
    (b"# hopsworks-dag-builder v9 begin\n# {}\n# hopsworks-dag-builder end\n",
     "it was written by another version of the DAG builder, which this one cannot read"),
    (codegen.BEGIN.encode() + b"\n# {\n", "its builder block at the top is damaged (the end marker is missing)"),
    (f"{codegen.BEGIN}\n# {{\nx = 1\n{codegen.END}\n".encode(),
     "its builder block at the top is damaged (a line of it is not a comment)"),
    (f"{codegen.BEGIN}\n# {{\"dag_id\": \n{codegen.END}\n".encode(),
     "its builder block at the top is damaged (Expecting value)"),
    (f"{codegen.BEGIN}\n# {{\"tasks\": 3}}\n{codegen.END}\n".encode(),
     "its builder block cannot be read: Tasks must be a list."),
])
def test_files_the_builder_cannot_open(source, why):
    assert parse.parse(source).reason.startswith(EDITOR + why)


def test_a_file_made_for_another_project_is_not_opened_as_it_is(spec):
    reason = parse.parse(codegen.generate(spec).encode(), "analytics").reason
    assert reason.startswith(EDITOR + "it was made for project 'demo_fs', not this one")


def test_long_values_split_over_comment_lines_read_back(spec):
    spec.tasks[0].arguments = "--x " + "y" * 700 + ' "quoted" \\ \u00e9\u202e'
    spec.description = "d" * 300
    code = codegen.generate(spec)
    assert max(len(line) for line in code.splitlines()) <= 120
    assert all(not line.endswith(" ") for line in code.splitlines())
    assert parse.parse(code.encode(), "demo_fs").spec == spec.normalized()


def test_the_listing_tells_builder_files_from_the_start_only(spec):
    assert parse.looks_builder_made(codegen.generate(spec).encode()[:1024])
    assert not parse.looks_builder_made(b"# a DAG\n" * 200 + codegen.BEGIN.encode())


def test_three_task_spec_helper_is_valid():
    assert three_task_spec().dag_id == "features_daily"
