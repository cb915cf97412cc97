"""hopsworks_ui_plugin.dag_files.owner_scan: owners read statically, and the upload owner rule."""

from __future__ import annotations

import pytest

from hopsworks_ui_plugin import access
from hopsworks_ui_plugin import dag_files as df


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
def test_non_literal_owners_are_undetermined_and_warned(source):
    scan = owners_of(source)
    assert not scan.determined
    refusal, warnings = verdict(source)
    assert refusal is None and warnings and "could not be read without running it" in warnings[0]


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
