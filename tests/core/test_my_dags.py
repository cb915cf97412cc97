"""core.my_dags without a web framework: the list's query, the page for a user, who may act on a DAG."""

from __future__ import annotations

import pytest

from hopsworks_ui_plugin.core import my_dags as core
from hopsworks_ui_plugin.errors import BadInput, Forbidden, NotFound
from tests.support import MDT_PREFIX as PREFIX
from tests.support import MY_DAGS_EXPECTED as EXPECTED
from tests.support import build_my_dags_scenario


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"sort": "fileloc"}, "Unknown sort"),
        ({"order": "sideways"}, "order must be asc or desc"),
        ({"page": "0"}, "page must be at least 1"),
        ({"page": "x"}, "page must be a whole number"),
        ({"per_page": "7"}, "per_page must be one of 25, 50, 100, 200"),
        ({"paused": "maybe"}, "paused must be"),
        ({"project": "abc"}, "project must be a whole number"),
        ({"q": "x" * 251}, "longer than 250"),
    ],
)
def test_bad_arguments_are_bad_input(args, message):
    with pytest.raises(BadInput, match=message) as err:
        core.parse_params(args, "alice", admin=False)
    assert err.value.status == 400


def test_non_admin_lists_only_their_own_dags():
    assert core.parse_params({}, "alice", admin=False).owner == "alice"
    assert core.parse_params({"owner": " Alice "}, "alice", admin=False).owner == "alice"
    with pytest.raises(Forbidden, match=r"Only Airflow admins can list other users' DAGs \(you are alice\)"):
        core.parse_params({"owner": "bob"}, "alice", admin=False)
    admin = core.parse_params({"owner": "bob"}, "admin", admin=True)
    assert admin.owner == "bob" and admin.owner_filter == "bob"
    assert core.parse_params({}, "admin", admin=True).owner is None


def test_list_arguments_round_trip_and_sorting_flips():
    params = core.parse_params({"q": "etl", "sort": "last_run", "order": "desc", "page": "3", "per_page": "25",
                                "paused": "active"}, "alice", admin=False)
    assert core.parse_params({k: str(v) for k, v in params.args().items()}, "alice", admin=False) == params
    assert params.args(page="") == {"q": "etl", "paused": "active", "sort": "last_run", "order": "desc",
                                    "per_page": 25}
    assert params.sort_args("last_run")["order"] == "asc" and "page" not in params.sort_args("last_run")
    assert params.sort_args("owners")["order"] == "asc"
    assert core.parse_params({}, "alice", admin=False).args() == {"sort": "dag_id", "order": "asc"}


def test_parse_paused():
    assert core.parse_paused("true") is True and core.parse_paused("false") is False
    with pytest.raises(BadInput):
        core.parse_paused("perhaps")


@pytest.fixture(scope="module")
def scenario(airflow_db):
    return build_my_dags_scenario()


def test_page_for_a_user_with_projects(scenario, hw):
    from hopsworks_ui_plugin import access

    access.MEMBERSHIPS.clear()
    view = core.list_page(core.parse_params({"q": PREFIX, "per_page": "200"}, "bob", False), "bob", False)
    assert {r.dag_id for r in view.result.rows} == EXPECTED["bob"]
    projects = {r.dag_id: r.project.name if r.project else None for r in view.result.rows}
    assert projects["mdt_demo_fs_bob"] == "demo_fs" and projects["mdt_bob_report"] is None
    assert view.hopsworks_problem is None and view.owner_choices == [] and view.pages == 1
    assert "demo_fs" in {p.name for p in view.project_choices}
    with pytest.raises(Forbidden, match="not a member"):
        core.list_page(core.parse_params({"project": "120"}, "bob", False), "bob", False)
    with pytest.raises(NotFound):
        core.list_page(core.parse_params({"project": "999999"}, "bob", False), "bob", False)


@pytest.fixture(scope="module")
def users(plugin_app):
    with plugin_app.app_context():
        yield {name: plugin_app.appbuilder.sm.find_user(username=name) for name in ("alice", "bob", "admin")}


def test_who_may_act_on_a_dag(scenario, users):
    assert core.dag_for_action("mdt_shared", users["alice"], "trigger", run=True).dag_id == "mdt_shared"
    assert core.dag_for_action("mdt_caps", users["alice"], "pause").owners == "Alice"
    assert core.dag_for_action("mdt_bob_report", users["admin"], "pause").dag_id == "mdt_bob_report"
    # Another's DAG outside the user's projects and a DAG that does not exist: the same 404 sentence.
    with pytest.raises(NotFound) as other:
        core.dag_for_action("mdt_bob_report", users["alice"], "trigger", run=True)
    with pytest.raises(NotFound) as missing:
        core.dag_for_action("mdt_nothing", users["alice"], "trigger", run=True)
    assert other.value.message.replace("mdt_bob_report", "X") == missing.value.message.replace("mdt_nothing", "X")
    assert other.value.message.startswith("There is no DAG 'mdt_bob_report' among yours")
    assert other.value.title == "DAG mdt_bob_report not found"
