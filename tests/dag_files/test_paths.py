"""hopsworks_ui_plugin.dag_files.paths: the project folder scheme and file-name checks."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import pytest

from hopsworks_ui_plugin import dag_files as df
from hopsworks_ui_plugin.errors import BadInput
from tests.support import HOSTILE_NAMES

GOOD_NAMES = ["dag.py", "my_dag.py", "My-Dag.2.py", "_private.py", "a.b.c.py", "0.py"]


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=[repr(n)[:40] for n in HOSTILE_NAMES])
def test_hostile_names_are_rejected_with_a_reason(name):
    problem = df.name_problem(name)
    assert problem, f"{name!r} was accepted"
    with pytest.raises(BadInput) as err:
        df.check_name(name)
    assert err.value.status == 400 and err.value.message == problem


@pytest.mark.parametrize("name", GOOD_NAMES)
def test_plain_python_file_names_are_accepted(name):
    assert df.name_problem(name) is None
    assert df.check_name(name) == name


def test_name_messages_say_what_is_wrong():
    assert "contains '..'" in df.name_problem("..x.py")
    assert "contains a path" in df.name_problem("../x.py")
    assert "control" in df.name_problem("a\x00.py")
    assert "hidden" in df.name_problem(".x.py")
    assert ".py" in df.name_problem("x.txt")
    assert "too long" in df.name_problem("x" * 200 + ".py")
    assert "look-alike" in df.name_problem("\u2215etc\u2215evil.py")
    assert "\\u2215" in df.name_problem("\u2215etc\u2215evil.py")  # shown escaped, not as a slash


def test_the_legacy_sha256_folder_scheme(dags_folder, monkeypatch):
    monkeypatch.setenv("AIRFLOW__HOPSWORKS__DAG_FOLDER_SCHEME", "sha256")
    assert df.project_dir(119, "demo_fs") == dags_folder / hashlib.sha256(b"119").hexdigest()
    assert df.project_dir(1, "../x") == dags_folder / hashlib.sha256(b"1").hexdigest()
    monkeypatch.setenv("AIRFLOW__HOPSWORKS__DAG_FOLDER_SCHEME", "name")
    assert df.project_dir(119, "demo_fs") == dags_folder / "demo_fs"
    with pytest.raises(ValueError):
        df.project_dir(1, "../x")
    monkeypatch.setenv("AIRFLOW__HOPSWORKS__DAG_FOLDER_SCHEME", "md5")
    with pytest.raises(ValueError, match="dag_folder_scheme"):
        df.project_dir(119, "demo_fs")


@dataclass(frozen=True)
class Project:
    id: int
    name: str


def test_the_project_of_a_dag_file_is_the_folder_it_is_in(dags_folder):
    projects = [Project(119, "demo_fs"), Project(120, "analytics"), Project(5, "bad/name")]
    assert df.project_of_file(str(dags_folder / "demo_fs" / "a.py"), projects) == projects[0]
    assert df.project_of_file(str(dags_folder / "analytics" / "sub" / "b.py"), projects) == projects[1]
    assert df.project_of_file(str(dags_folder / "top_level.py"), projects) is None
    assert df.project_of_file(str(dags_folder / "demo_fs2" / "a.py"), projects) is None
    assert df.project_of_file("/elsewhere/demo_fs/a.py", projects) is None
    assert df.project_of_file(None, projects) is None
