"""hopsworks_ui_plugin.dag_files.owner_scan: owners read statically, and the upload owner rule."""

from __future__ import annotations

import pytest

from hopsworks_ui_plugin import access
from hopsworks_ui_plugin import dag_files as df
from hopsworks_ui_plugin.dag_files.owner_scan import static_problems


def owners_of(source: str) -> df.OwnerScan:
    return df.check_source("d.py", source.encode()).owners


def verdict(source: str, username: str = "alice", admin: bool = False):
    return df.owner_verdict(df.check_source("d.py", source.encode()), username, admin)


def test_hopsworks_template_owner_constant():
    scan = owners_of(
        "from airflow import DAG\nDAG_OWNER = 'alice'\nPROJECT_NAME = 'demo_fs'\n"
        "default_args = {'owner': DAG_OWNER, 'depends_on_past': False}\n"
        "dag = DAG(dag_id='x', default_args=default_args)\n"
    )
    assert set(scan.owners) == {"alice"} and scan.determined and scan.defines_dag


@pytest.mark.parametrize(
    ("source", "owners"),
    [
        ("from airflow import DAG\nDAG('x', default_args={'owner': 'alice'})", {"alice"}),
        ("from airflow import DAG\nargs = dict(owner='bob', retries=1)\nDAG('x', default_args=args)", {"bob"}),
        ("from airflow import DAG\nwith DAG('x'):\n    E(task_id='t', owner='carol')", {"carol"}),
        ("from airflow import DAG\nbase = {'owner': 'alice'}\nDAG('x', default_args={**base, 'retries': 1})",
         {"alice"}),
        ("from airflow.sdk import dag, task\n@dag(default_args={'owner': 'alice'})\ndef d():\n"
         "    @task(owner='bob')\n    def t(): pass\n", {"alice", "bob"}),
        ("from airflow import DAG\nargs = {}\nargs['owner'] = 'dave'\nDAG('x', default_args=args)", {"dave"}),
        ("from airflow import DAG\nO = 'a' if True else 'b'\nDAG('x', default_args={'owner': O})", {"a", "b"}),
        ("from airflow import DAG\nkw = {'default_args': {'owner': 'eve'}}\nDAG('x', **kw)", {"eve"}),
    ],
)
def test_literal_owners_are_found(source, owners):
    scan = owners_of(source)
    assert set(scan.owners) == owners and scan.determined, scan


@pytest.mark.parametrize(
    "source",
    [
        "import os\nfrom airflow import DAG\nDAG('x', default_args={'owner': os.environ['OWNER']})",
        "from airflow import DAG\nfrom conf import ARGS\nDAG('x', default_args=ARGS)",
        "from airflow import DAG\nu = 'al'\nDAG('x', default_args={'owner': f'{u}ice'})",
        "from airflow import DAG\ndef make(owner):\n    return E(task_id='t', owner=owner)\nDAG('x')",
        "from airflow import DAG\nDAG('x', default_args=build_args())",
        "from airflow import DAG\nDAG('x', **get_kwargs())",
    ],
)
def test_non_literal_owners_are_undetermined_and_a_fail_closed_problem(source):
    scan = owners_of(source)
    assert not scan.determined
    problems = static_problems(df.check_source("d.py", source.encode()))
    assert len(problems) == 1 and problems[0].startswith("The owner of d.py cannot be read without running it")


def test_owner_rule_for_non_admins_and_admins():
    own = "from airflow import DAG\nDAG('x', default_args={'owner': 'alice'})"
    assert verdict(own) == (None, [])
    refusal, _ = verdict(own, "bob")
    assert "'alice' (line 2)" in refusal and "your own Hopsworks username 'bob'" in refusal
    mixed = "from airflow import DAG\nwith DAG('x', default_args={'owner': 'alice'}):\n    E(owner='carol')"
    assert "carol" in verdict(mixed)[0]
    refusal, warnings = verdict(mixed, "admin", admin=True)
    assert refusal is None and "admin" in warnings[0]
    # No owner at all: Airflow's default owner ("airflow") would apply.
    none = "from airflow import DAG\nDAG('x')"
    refusal, _ = verdict(none)
    assert "default owner 'airflow'" in refusal
    # A helper module without a DAG needs no owner.
    assert verdict("def helper():\n    return 1\n") == (None, [])


@pytest.mark.parametrize("owner", ["alice", "alice, bob", "Alice", "alice2", " alice ", "", "airflow", "bob,alice"])
def test_the_upload_owner_check_is_the_one_owner_rule(owner):
    """An owner literal passes exactly when ``access.owns_dag`` says alice owns it."""
    refusal, _ = verdict(f"from airflow import DAG\nDAG('x', default_args={{'owner': {owner!r}}})")
    assert (refusal is None) == access.owns_dag(owner, "alice"), refusal


def test_a_similar_name_is_not_the_owner():
    refusal, _ = verdict("from airflow import DAG\nDAG('x', default_args={'owner': 'alice2'})")
    assert refusal and "'alice2' (line 2)" in refusal


# --- DAG ids, read statically ----------------------------------------------------------------------


def dag_ids_of(source: str) -> df.CheckedSource:
    return df.check_source("d.py", source.encode())


@pytest.mark.parametrize(
    ("source", "ids"),
    [
        ("from airflow.sdk import DAG\nDAG('a')", {"a"}),
        ("from airflow.sdk import DAG\nDAG(dag_id='a', schedule=None)", {"a"}),
        ("from airflow.sdk import DAG\nwith DAG('a') as d:\n    pass", {"a"}),
        ("from airflow.sdk import dag\n@dag(dag_id='a')\ndef f():\n    pass\nf()", {"a"}),
        ("from airflow.sdk import dag\n@dag\ndef pipeline():\n    pass\npipeline()", {"pipeline"}),
        ("from airflow.sdk import dag\n@dag(schedule=None)\ndef pipeline():\n    pass\npipeline()", {"pipeline"}),
        ("from airflow.sdk import DAG as D\nD('a')", {"a"}),
        ("from airflow.sdk import dag as make\n@make\ndef p():\n    pass\np()", {"p"}),
        ("import airflow\nairflow.DAG('a')", {"a"}),
        ("from airflow import models\nmodels.DAG('a')", {"a"}),
        ("from airflow.decorators import dag\n@dag()\ndef p():\n    pass\np()", {"p"}),
        ("from airflow import DAG\nDAG('a')\nDAG('b')", {"a", "b"}),
        ("def helper():\n    return 1\n", set()),
    ],
)
def test_literal_dag_ids_are_found(source, ids):
    checked = dag_ids_of(source)
    assert set(checked.dag_ids.dag_ids) == ids and checked.dag_ids.determined, checked.dag_ids
    assert static_problems(checked) == [] or checked.owners.undetermined


@pytest.mark.parametrize(
    ("source", "why"),
    [
        ("from airflow.sdk import DAG\nDAG(f'a_{1}')", "dag_id is not a literal string"),
        ("from airflow.sdk import DAG\nname = 'a'\nDAG(name)", "dag_id is not a literal string"),
        ("from airflow.sdk import DAG\nDAG(dag_id='a' + 'b')", "dag_id is not a literal string"),
        ("from airflow.sdk import DAG\nDAG(**{'dag_id': 'a'})", "dag_id cannot be read"),
        ("from airflow.sdk import DAG as D\nD(*['a'])", "dag_id cannot be read"),
        ("from airflow.sdk import dag\n@dag(dag_id=NAME)\ndef p():\n    pass", "dag_id is not a literal string"),
        ("from airflow.sdk import dag\n@dag(**kw)\ndef p():\n    pass", "dag_id cannot be read"),
        ("from airflow.sdk import DAG\nX = DAG\nX('a')", "used indirectly"),
        ("from airflow.sdk import DAG\nclass Mine(DAG):\n    pass\nMine('a')", "used indirectly"),
        ("import json\nfrom airflow.sdk import DAG\nDAG(json.loads('\"a\"'))", "dag_id is not a literal string"),
        ("exec('from airflow.sdk import DAG; DAG(\"a\")')", "dynamic code"),
        ("import importlib\nimportlib.import_module('airflow.sdk').DAG('a')", "dynamic code"),
        ("import airflow.sdk as s\ngetattr(s, 'DAG')('a')", "attribute by name"),
        ("from airflow.sdk import DAG\n__file__ = '/dags/other/x.py'\nDAG('a')", "where or under which id"),
        ("from airflow.sdk import DAG\nd = DAG('a')\nd.fileloc = '/x.py'", "where or under which id"),
        ("from airflow.sdk import DAG\nd = DAG('a')\nd.dag_id = 'b'", "where or under which id"),
        ("from airflow.sdk import DAG\nd = DAG('a')\nsetattr(d, 'dag_id', 'b')", "attribute by name"),
        ("from helpers import *\n", "star import"),
        ("from . import other\n", "relative import"),
    ],
)
def test_dag_ids_that_cannot_be_read_statically_are_a_fail_closed_problem(source, why):
    checked = dag_ids_of(source)
    assert not checked.dag_ids.determined
    assert any(why in u for u in checked.dag_ids.undetermined), checked.dag_ids.undetermined
    assert any(p.startswith("The DAG id of d.py cannot be read without running it") for p in static_problems(checked))


def test_importing_from_the_dags_folder_is_undetermined(tmp_path, monkeypatch):
    """``from analytics.victim import dag`` would bring another project's DAG object into this file."""
    (tmp_path / "analytics").mkdir()
    monkeypatch.setenv("AIRFLOW__CORE__DAGS_FOLDER", str(tmp_path))
    checked = dag_ids_of("from analytics.victim import dag\n")
    assert any("import from the DAGs folder" in u for u in checked.dag_ids.undetermined)
    assert dag_ids_of("import json\nfrom airflow.sdk import DAG\nDAG('a')").dag_ids.determined


@pytest.mark.parametrize(
    "source",
    [
        "from airflow.sdk import DAG\nwith DAG('a', default_args={'owner': 'alice'}):\n    t = E(task_id='t')\n"
        "setattr(t, 'owner', OWNER)",
        "from airflow.sdk import DAG\nwith DAG('a', default_args={'owner': 'alice'}):\n    t = E(task_id='t')\n"
        "object.__setattr__(t, 'owner', ''.join(['al', 'ice']))",
        "from airflow.sdk import DAG\nexec('OWNER = 1')\nDAG('a', default_args={'owner': 'alice'})",
        "from airflow.sdk import DAG\nwith DAG('a', default_args={'owner': 'alice'}):\n    t = E(task_id='t')\n"
        "setattr(t, attr, 'bob')",
    ],
)
def test_owner_set_by_setattr_or_dynamic_code_is_undetermined(source):
    assert not owners_of(source).determined


def test_setattr_with_a_literal_owner_is_read():
    scan = owners_of("from airflow.sdk import DAG\nwith DAG('a', default_args={'owner': 'alice'}):\n"
                     "    t = E(task_id='t')\nsetattr(t, 'owner', 'bob')")
    assert set(scan.owners) == {"alice", "bob"} and scan.determined
