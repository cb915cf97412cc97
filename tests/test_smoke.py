"""The smoke set: what must work on every supported Airflow (2.10/2.11, 3.0.6 .. 3.3).

``AIRFLOW_VERSION=<v> scripts/test.sh -m smoke`` runs it against that version's venv; CI runs it on
3.0.6 and 2.11.0 beside the full suite on the newest 3.x. One test per row of issue 12's matrix:
the version flags, the plugin loads, each page for an admin and a member, the navigation each
version can show, Airflow's own login survives a plugin page, My DAGs pause/trigger, the DAG files
of a project with parsed DAGs, a DAG with a launch task and a sensor, and the auth manager's API list.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path

import airflow
import pytest
from packaging.version import Version

from hopsworks_ui_plugin import devstack, version_compat
from hopsworks_ui_plugin.dag_files.paths import project_folder_name
from tests.dag_runner import run_dag
from tests.support import ApiUser, build_my_dags_scenario, csrf_token, dag_source, parse_dag_files

pytestmark = pytest.mark.smoke

DEMO_FS = 119
MEMBER = "alice"  # Data owner of demo_fs (119) in the test seed


def test_version_flags_follow_airflow_version_number():
    version = Version(Version(airflow.__version__).base_version)
    assert version_compat.AIRFLOW_VERSION == version
    assert version_compat.AIRFLOW_V_3 is (version.major >= 3)
    assert version_compat.AIRFLOW_V_3_1_PLUS is (version >= Version("3.1"))
    assert version_compat.AIRFLOW_V_3_2_PLUS is (version >= Version("3.2"))
    assert version_compat.AIRFLOW_V_3_3_PLUS is (version >= Version("3.3"))
    assert version_compat.PLUGIN_URL_PREFIX == ("/pluginsv2" if version.major >= 3 else "")


def test_airflow_lists_the_plugin(airflow_db):
    result = subprocess.run(
        [devstack.airflow_bin(), "plugins", "--output", "json"],
        env=dict(os.environ), capture_output=True, text=True, timeout=180, check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    listed = json.loads(next(line for line in result.stdout.splitlines() if line.startswith("[{")))
    hopsworks = [p for p in listed if p["name"] == "hopsworks"]
    assert hopsworks, result.stdout[-2000:]
    assert "HopsworksExecutionLink" in str(hopsworks[0])


# --- every page, admin and member -------------------------------------------------------------


@pytest.fixture(scope="module")
def project_dag(airflow_db, hopsworks) -> str:
    """A DAG file of alice's in demo_fs's folder, parsed into the metadata DB (the DAG-file pages
    and My DAGs then read its DB row: the columns that differ between Airflow 2 and 3)."""
    dag_id = f"smoke_{uuid.uuid4().hex[:8]}"
    folder = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]) / project_folder_name(DEMO_FS, "demo_fs")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{dag_id}.py"
    path.write_bytes(dag_source(MEMBER, dag_id))
    parse_dag_files([path])
    return dag_id


@pytest.mark.parametrize("username", ["admin", MEMBER])
def test_each_page_answers_200_for_admin_and_a_member(web, project_dag, username):
    client = web(username)
    pages = [
        "projects/",
        f"projects/{DEMO_FS}/jobs",
        f"projects/{DEMO_FS}/jobs/etl",
        "dag-files/",
        f"dag-files/{DEMO_FS}/",
        f"dag-files/{DEMO_FS}/files/{project_dag}.py",
        "my-dags/",
    ]
    for path in pages:
        response = client.get(path)
        assert response.status_code == 200, (path, response.get_data(as_text=True)[-1500:])
    assert project_dag in client.get(f"dag-files/{DEMO_FS}/").get_data(as_text=True)
    assert project_dag in client.get("my-dags/", query_string={"q": project_dag}).get_data(as_text=True)
    connection = client.get("connection/")
    assert connection.status_code == (200 if username == "admin" else 403)


def test_my_dags_owner_unpauses_and_triggers(web, project_dag):
    from airflow.models.dag import DagModel
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import func, select

    alice = web(MEMBER)
    token = csrf_token(alice.get("my-dags/").get_data(as_text=True))
    unpause = alice.post(f"my-dags/{project_dag}/paused", data={"paused": "false", "csrf_token": token})
    assert unpause.status_code == 302, unpause.get_data(as_text=True)[-1500:]
    trigger = alice.post(f"my-dags/{project_dag}/trigger", data={"csrf_token": token})
    assert trigger.status_code == 302, trigger.get_data(as_text=True)[-1500:]
    with create_session() as session:
        assert session.scalar(select(DagModel.is_paused).where(DagModel.dag_id == project_dag)) is False
        runs = session.scalar(select(func.count()).select_from(DagRun).where(DagRun.dag_id == project_dag))
    assert runs == 1
    assert "queued" in alice.get("my-dags/", query_string={"q": project_dag}).get_data(as_text=True)


# --- navigation and Airflow's own login ------------------------------------------------------


def test_member_sees_the_pages_in_airflows_navigation(airflow_server, user_sessions):
    """3.0: ``appbuilder_menu_items``; 3.1+: ``external_views`` (both from ``/api/v2/plugins``, which
    the React UI turns into entries); 2.x: the FAB menu of the webserver's pages."""
    session = user_sessions(MEMBER)
    pages = {"projects", "dag-files", "my-dags"}
    if not version_compat.AIRFLOW_V_3:
        home = session.get(f"{airflow_server.url}/home", timeout=60)
        assert home.status_code == 200
        for name in ("Hopsworks", "Projects and jobs", "Project DAG files", "My DAGs"):
            assert f">{name}<" in home.text.replace("\n", "").replace("  ", ""), name
        return
    response = session.get(f"{airflow_server.url}/api/v2/plugins", headers=devstack.bearer(session), timeout=60)
    assert response.status_code == 200, response.text
    (plugin,) = [p for p in response.json()["plugins"] if p["name"] == "hopsworks"]
    field = "external_views" if version_compat.AIRFLOW_V_3_1_PLUS else "appbuilder_menu_items"
    hrefs = {item["href"] for item in plugin[field]}
    assert {f"/pluginsv2/hopsworks/{p}/" for p in pages} <= hrefs


def test_a_plugin_page_keeps_the_user_logged_in_to_airflows_own_pages(airflow_server):
    session = devstack.login(airflow_server.url, "admin")
    users = f"{airflow_server.url}{'/auth' if version_compat.AIRFLOW_V_3 else ''}/users/list/"
    assert session.get(users, allow_redirects=False, timeout=60).status_code == 200
    page = session.get(airflow_server.page("projects/"), allow_redirects=False, timeout=60)
    assert page.status_code == 200
    assert session.get(users, allow_redirects=False, timeout=60).status_code == 200


# --- a DAG with a launch task and a sensor ---------------------------------------------------


def test_dag_with_launch_task_and_sensor_runs_to_success(hw, airflow_db):
    dag_run, tis = run_dag(
        """
from hopsworks_ui_plugin.operators.hopsworks import HopsworksLaunchOperator
from hopsworks_ui_plugin.sensors.hopsworks import HopsworksJobSuccessSensor

with DAG(DAG_ID, start_date=START, schedule=None, default_args={"owner": "alice"}) as dag:
    launch = HopsworksLaunchOperator(task_id="launch", job_name="etl", project_name="demo_fs",
                                     wait_for_completion=False)
    wait = HopsworksJobSuccessSensor(task_id="wait", job_name="etl", project_id=119, launch_task_id="launch",
                                     poke_interval=0.1, timeout=60)
    launch >> wait
"""
    )
    assert {task_id: ti.state for task_id, ti in tis.items()} == {"launch": "success", "wait": "success"}
    assert dag_run.state == "success"
    assert [r.path for r in hw.requests if r.method == "POST" and r.path.endswith("/executions")]


# --- the auth manager -------------------------------------------------------------------------


def test_auth_manager_filters_the_api_dag_list(auth_server):
    build_my_dags_scenario()
    alice = ApiUser(auth_server, "alice").dag_ids(dag_id_pattern="mdt_")
    admin = ApiUser(auth_server, "admin").dag_ids(dag_id_pattern="mdt_")
    assert {"mdt_alice_etl", "mdt_shared", "mdt_demo_fs_bob"} <= alice  # owner, co-owner, project member
    assert not {"mdt_bob_report", "mdt_carol", "mdt_alice2", "mdt_analytics_carol"} & alice
    assert {"mdt_alice_etl", "mdt_bob_report", "mdt_carol", "mdt_analytics_carol"} <= admin
    member = ApiUser(auth_server, "alice")
    refused = member.call("GET", "/dags/mdt_bob_report")
    assert refused.status_code == 403, refused.text
    if not version_compat.AIRFLOW_V_3:  # Airflow 2's own pages ask is_authorized_dag without a user
        home = member.session.get(f"{auth_server.url}/home", params={"search": "mdt_"}, timeout=60)
        assert home.status_code == 200
        assert "mdt_alice_etl" in home.text and "mdt_bob_report" not in home.text
