"""The shared key's scope: a DAG belongs to the project whose folder holds its file, whatever its code says.

Test seed: ``demo_fs`` (119, alice owner, bob Data scientist), ``analytics`` (120, carol),
``empty_proj`` (121, alice). The attack: a DAG file in *analytics*' folder launches demo_fs's job
``etl`` with its owner made to read "alice" (a demo_fs member) in ways a static scan misses. Before
the scope rule the owner check passed and the job started; now the task fails before any POST.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest

from hopsworks_ui_plugin.access import SharedKeyOutOfScope, check_shared_key_scope
from hopsworks_ui_plugin.operators.hopsworks import HopsworksLaunchOperator
from hopsworks_ui_plugin.task_support import loaded_dag_file
from hopsworks_ui_plugin.version_compat import AirflowException

DAGS = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])

HEADER = """
import pendulum
from airflow.sdk import DAG
from hopsworks_ui_plugin.operators.hopsworks import HopsworksLaunchOperator
START = pendulum.datetime(2024, 1, 1, tz="UTC")
LAUNCH = dict(task_id="launch", job_name="etl", project_name="demo_fs", poke_interval_s=0.1)
"""

#: Each body defines ``dag`` whose task ``launch`` targets demo_fs/etl with an owner that reads "alice"
#: at run time (or a faked file location), in a way the upload scan cannot read statically.
SPOOFS: dict[str, str] = {
    "setattr": """
with DAG(DAG_ID, start_date=START, schedule=None) as dag:
    t = HopsworksLaunchOperator(**LAUNCH)
setattr(t, "owner", "alice")
""",
    "default_args_update": """
args = {"owner": "carol"}
args.update({"owner": "alice"})
with DAG(DAG_ID, start_date=START, schedule=None, default_args=args) as dag:
    HopsworksLaunchOperator(**LAUNCH)
""",
    "f_string": """
who = "ali"
with DAG(DAG_ID, start_date=START, schedule=None, default_args={"owner": f"{who}ce"}) as dag:
    HopsworksLaunchOperator(**LAUNCH)
""",
    "getattr": """
class Cfg:
    name = "alice"
with DAG(DAG_ID, start_date=START, schedule=None) as dag:
    HopsworksLaunchOperator(owner=getattr(Cfg, "name"), **LAUNCH)
""",
    "dag_under_another_name": """
from airflow.sdk import DAG as Flow
with Flow(DAG_ID, start_date=START, schedule=None, default_args={"owner": "alice"}) as dag:
    HopsworksLaunchOperator(**LAUNCH)
""",
    "dag_decorator": """
from airflow.sdk import dag as make_dag
@make_dag(dag_id=DAG_ID, start_date=START, schedule=None, default_args={"owner": "alice"})
def pipeline():
    HopsworksLaunchOperator(**LAUNCH)
dag = pipeline()
""",
    "json_loads": """
import json
with DAG(DAG_ID, start_date=START, schedule=None, default_args=json.loads('{"owner": "alice"}')) as dag:
    HopsworksLaunchOperator(**LAUNCH)
""",
    "attribute_after_creation": """
with DAG(DAG_ID, start_date=START, schedule=None, default_args={"owner": "carol"}) as dag:
    t = HopsworksLaunchOperator(**LAUNCH)
t.owner = "alice"
""",
    "partial": """
import functools
Launch = functools.partial(HopsworksLaunchOperator, owner="alice")
with DAG(DAG_ID, start_date=START, schedule=None) as dag:
    Launch(**LAUNCH)
""",
    "kwargs_dict": """
extra = {"owner": "alice", **LAUNCH}
with DAG(DAG_ID, start_date=START, schedule=None) as dag:
    HopsworksLaunchOperator(**extra)
""",
    "dag_default_args_item": """
dag = DAG(DAG_ID, start_date=START, schedule=None, default_args={"owner": "carol"})
dag.default_args["owner"] = "alice"
with dag:
    HopsworksLaunchOperator(**LAUNCH)
""",
    "env_var": """
import os
os.environ["SPOOF_OWNER_TEST"] = "alice"
with DAG(DAG_ID, start_date=START, schedule=None) as dag:
    HopsworksLaunchOperator(owner=os.environ["SPOOF_OWNER_TEST"], **LAUNCH)
""",
    "exec": """
exec('OWNER = "al" + "ice"')
with DAG(DAG_ID, start_date=START, schedule=None) as dag:
    HopsworksLaunchOperator(owner=OWNER, **LAUNCH)  # noqa: F821
""",
    "subclass_attribute": """
class Mine(HopsworksLaunchOperator):
    def __init__(self, **kw):
        super().__init__(**kw)
        self.owner = "alice"
with DAG(DAG_ID, start_date=START, schedule=None) as dag:
    Mine(**LAUNCH)
""",
    "object_setattr": """
with DAG(DAG_ID, start_date=START, schedule=None) as dag:
    t = HopsworksLaunchOperator(**LAUNCH)
object.__setattr__(t, "owner", "alice")
""",
    "base64": """
import base64
with DAG(DAG_ID, start_date=START, schedule=None) as dag:
    HopsworksLaunchOperator(owner=base64.b64decode("YWxpY2U=").decode(), **LAUNCH)
""",
    "pre_execute_hook": """
def become_alice(context):
    context["task"].owner = "alice"
with DAG(DAG_ID, start_date=START, schedule=None) as dag:
    HopsworksLaunchOperator(owner="carol", pre_execute=become_alice, **LAUNCH)
""",
    # Not the owner: the DAG claims to live in demo_fs' folder.
    "fileloc_into_victim_folder": """
with DAG(DAG_ID, start_date=START, schedule=None, default_args={"owner": "alice"}) as dag:
    HopsworksLaunchOperator(**LAUNCH)
dag.fileloc = VICTIM_FILE
""",
    "module_file_into_victim_folder": """
__file__ = VICTIM_FILE
with DAG(DAG_ID, start_date=START, schedule=None, default_args={"owner": "alice"}) as dag:
    HopsworksLaunchOperator(**LAUNCH)
""",
}


def launches(hw: Any) -> list:
    return [r for r in hw.requests if r.method == "POST"]


@pytest.fixture()
def scope_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """The shipped default (tests/conftest.py allows DAGs outside project folders for the operator tests)."""
    monkeypatch.setenv("AIRFLOW__HOPSWORKS__ALLOW_SHARED_KEY_OUTSIDE_PROJECTS", "False")


def run_in_folder(folder: str | None, body: str, capfd: pytest.CaptureFixture[str]) -> tuple[Any, str]:
    """Write ``HEADER + body`` into ``<dags>/<folder>/`` (the DAGs folder's root for None), import it as
    Airflow's own importer would, ``dag.test()`` it; return the task instance of ``launch`` and the log."""
    dag_id = f"scope_{uuid.uuid4().hex[:10]}"
    directory = DAGS / folder if folder else DAGS
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{dag_id}.py"
    source = HEADER + f"DAG_ID = {dag_id!r}\nVICTIM_FILE = {str(DAGS / 'demo_fs' / 'victim.py')!r}\n"
    path.write_text(source + textwrap.dedent(body))
    spec = importlib.util.spec_from_file_location(f"unusual_prefix_{dag_id}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        capfd.readouterr()
        dag_run = module.dag.test()
    finally:
        sys.modules.pop(spec.name, None)
        path.unlink()
    out, err = capfd.readouterr()
    return {ti.task_id: ti for ti in dag_run.get_task_instances()}["launch"], out + err


@pytest.mark.parametrize("variant", sorted(SPOOFS))
def test_dag_in_another_projects_folder_cannot_launch_whatever_its_owner_says(
    hw, airflow_db, scope_on, capfd, variant
):
    ti, log = run_in_folder("analytics", SPOOFS[variant], capfd)
    assert ti.state == "failed"
    assert launches(hw) == []  # nothing POSTed: no execution started in demo_fs
    assert "in the folder of another project ('analytics')" in log
    assert "project 'demo_fs'" in log


@pytest.mark.parametrize("variant", ["setattr", "dag_decorator", "fileloc_into_victim_folder"])
def test_the_same_dag_in_the_projects_own_folder_launches(hw, airflow_db, scope_on, capfd, variant):
    """The control: the harness does launch when the file is where it belongs."""
    ti, _ = run_in_folder("demo_fs", SPOOFS[variant], capfd)
    assert ti.state == "success"
    assert len([r for r in launches(hw) if r.path.endswith("/executions")]) == 1


def test_dag_file_outside_every_project_folder_may_not_use_the_shared_key(hw, airflow_db, scope_on, capfd):
    body = """
with DAG(DAG_ID, start_date=START, schedule=None, default_args={"owner": "alice"}) as dag:
    HopsworksLaunchOperator(**LAUNCH)
"""
    ti, log = run_in_folder(None, body, capfd)
    assert ti.state == "failed"
    assert launches(hw) == []
    assert "outside every project folder" in log and "allow_shared_key_outside_projects" in log


def test_admin_may_allow_dag_files_outside_project_folders(hw, airflow_db, monkeypatch, capfd):
    monkeypatch.setenv("AIRFLOW__HOPSWORKS__ALLOW_SHARED_KEY_OUTSIDE_PROJECTS", "True")
    body = """
with DAG(DAG_ID, start_date=START, schedule=None, default_args={"owner": "alice"}) as dag:
    HopsworksLaunchOperator(**LAUNCH)
"""
    ti, _ = run_in_folder(None, body, capfd)
    assert ti.state == "success"


def test_the_allowance_never_opens_another_projects_folder(hw, airflow_db, monkeypatch, capfd):
    monkeypatch.setenv("AIRFLOW__HOPSWORKS__ALLOW_SHARED_KEY_OUTSIDE_PROJECTS", "True")
    ti, log = run_in_folder("analytics", SPOOFS["setattr"], capfd)
    assert ti.state == "failed" and launches(hw) == []
    assert "in the folder of another project ('analytics')" in log


def test_the_owner_check_stays_a_second_condition(hw, airflow_db, scope_on, capfd):
    """In demo_fs' own folder, an owner who is no member (carol) is still refused."""
    body = """
with DAG(DAG_ID, start_date=START, schedule=None, default_args={"owner": "carol"}) as dag:
    HopsworksLaunchOperator(**LAUNCH)
"""
    ti, log = run_in_folder("demo_fs", body, capfd)
    assert ti.state == "failed" and launches(hw) == []
    assert "Task owner 'carol' is not a member" in log


def test_direct_execute_has_no_loaded_file_and_is_refused(hw, scope_on):
    """No worker, no dag.test(): the file is unknown, which counts as outside every project folder."""
    op = HopsworksLaunchOperator(task_id="t", job_name="etl", project_name="demo_fs", owner="alice")
    assert loaded_dag_file(op)[0] is None
    with pytest.raises(AirflowException, match=r"\(unknown \(not run by an Airflow 3 worker or dag\.test\(\)\)\) is "
                       r"outside every project folder"):
        op.execute({"ti": None, "params": {}})
    assert launches(hw) == []


def test_scope_rule_maps_folders_by_the_configured_scheme(monkeypatch, scope_on):
    def everything_is_a_project(folder: str) -> bool:
        return True

    check_shared_key_scope(str(DAGS / "demo_fs" / "x.py"), 119, "demo_fs", everything_is_a_project)
    check_shared_key_scope(str(DAGS / "demo_fs" / "sub" / "x.py"), 119, "demo_fs", everything_is_a_project)
    with pytest.raises(SharedKeyOutOfScope):  # '..' cannot climb into the target's folder
        check_shared_key_scope(str(DAGS / "analytics" / ".." / "x.py"), 119, "demo_fs", everything_is_a_project)
    monkeypatch.setenv("AIRFLOW__HOPSWORKS__DAG_FOLDER_SCHEME", "sha256")
    import hashlib

    hashed = hashlib.sha256(b"119").hexdigest()
    check_shared_key_scope(str(DAGS / hashed / "x.py"), 119, "demo_fs", everything_is_a_project)
    with pytest.raises(SharedKeyOutOfScope):
        check_shared_key_scope(str(DAGS / "demo_fs" / "x.py"), 119, "demo_fs", everything_is_a_project)
