"""One policy (access.POLICY), walked on every surface as the test users: the plugin's pages
(in-process), Airflow's own REST API under HopsworksAuthManager, the operators' task-owner check and the
table the README shows.

Users (tests' seed): alice owns the DAG and is Data owner of demo_fs; bob is a Data scientist of
demo_fs (not the DAG's owner); victor is a Data scientist of demo_fs with Airflow's read-only Viewer
role; carol is not in demo_fs's team; admin is an Airflow admin."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator

import pytest

from hopsworks_ui_plugin import access
from hopsworks_ui_plugin.dag_files import paths
from hopsworks_ui_plugin.hooks.hopsworks import service_hook
from tests.support import dag_source, parse_dag_files

DEMO_FS = 119
#: user -> keyword arguments of access.may describing them for a demo_fs DAG owned by alice
SUBJECTS = {
    "alice": {"role": "Data owner", "owner": True},
    "bob": {"role": "Data scientist"},
    "victor": {"role": "Data scientist", "viewer": True},
    "carol": {},
    "admin": {"admin": True},
}


def expected(username: str, action: str) -> bool:
    kw = dict(SUBJECTS[username])
    viewer = kw.pop("viewer", False)
    return access.may(action, airflow_allows=not viewer or action == "browse", **kw)


@pytest.fixture(scope="module")
def demo_dag() -> Iterator[str]:
    dag_id = f"pol_{uuid.uuid4().hex[:8]}"
    path = paths.dags_root() / "demo_fs" / f"{dag_id}.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(dag_source("alice", dag_id))
    parse_dag_files([path])
    yield dag_id
    path.unlink(missing_ok=True)


def test_the_table_is_what_the_readme_shows():
    table = access.policy_markdown()
    assert "| trigger (trigger DAGs) | no | yes | yes | no | yes | yes |" in table
    assert "| delete (delete DAG files) | no | yes | yes | no | no | yes |" in table


@pytest.mark.parametrize("username", list(SUBJECTS))
def test_pages_follow_the_policy(web, demo_dag, username):
    user = web(username)
    # browse: the project's DAG files page
    assert (user.get(f"dag-files/{DEMO_FS}/").status_code == 200) is expected(username, "browse")
    # pause and trigger on My DAGs (a project member may act on the project's DAGs, not only the owner)
    token = user.csrf("my-key/")  # the session's CSRF token (one per session)
    pause = user.post(f"my-dags/{demo_dag}/paused", data={"csrf_token": token, "paused": "true"})
    assert (pause.status_code == 302) is expected(username, "pause"), (username, pause.status_code)
    trigger = user.post(f"my-dags/{demo_dag}/trigger", data={"csrf_token": token})
    assert (trigger.status_code == 302) is expected(username, "trigger"), (username, trigger.status_code)
    # upload and delete on the project's DAG files page (the file's owner is the uploader)
    name = f"pol_{username}_{uuid.uuid4().hex[:6]}.py"
    upload = user.post(f"dag-files/{DEMO_FS}/upload", content_type="multipart/form-data", data={
        "csrf_token": token, "files": (io.BytesIO(dag_source(username, name[:-3])), name)})
    written = (paths.dags_root() / "demo_fs" / name).exists()
    assert written is expected(username, "upload"), (username, upload.status_code)
    if written:
        delete = user.post(f"dag-files/{DEMO_FS}/files/{name}/delete", data={"csrf_token": token})
        assert delete.status_code == 303 and not (paths.dags_root() / "demo_fs" / name).exists()
    # launch a job
    launch = user.post(f"projects/{DEMO_FS}/launch/etl", data={"csrf_token": token, "args": ""})
    assert (launch.status_code == 302) is expected(username, "launch"), (username, launch.status_code)


@pytest.mark.parametrize("username", list(SUBJECTS))
def test_task_owner_check_follows_the_policy(hw, username):
    """Operators: a task owned by a member may launch (the "launch" row for a member role)."""
    if username == "admin":
        pytest.skip("an Airflow admin is no Hopsworks member: tasks run as a project member, not as admin")
    hook = service_hook()
    member = SUBJECTS[username].get("role") in access.MEMBER_ROLES
    try:
        access.check_task_owner(hook, username, DEMO_FS, "demo_fs")
        allowed = True
    except access.TaskOwnerNotMember:
        allowed = False
    assert allowed is member is access.may("launch", role=SUBJECTS[username].get("role"))


@pytest.mark.parametrize("username", list(SUBJECTS))
def test_airflows_own_api_follows_the_policy_under_the_auth_manager(auth_server, demo_dag, username):
    """The same table on Airflow's REST API under HopsworksAuthManager: reading the DAG (browse) and
    triggering it (trigger). Refused requests change nothing."""
    from hopsworks_ui_plugin import devstack
    from tests.support import dag_runs_of

    session = auth_server.login(username)
    headers = devstack.bearer(session)
    read = session.get(f"{auth_server.url}/api/v2/dags/{demo_dag}", headers=headers, timeout=60)
    assert (read.status_code == 200) is expected(username, "browse"), (read.status_code, read.text[:300])
    before = dag_runs_of(demo_dag)
    run = session.post(f"{auth_server.url}/api/v2/dags/{demo_dag}/dagRuns", headers=headers,
                       json={"logical_date": None}, timeout=60)
    if expected(username, "trigger"):
        assert run.status_code == 200, run.text[:300]
        assert len(dag_runs_of(demo_dag)) == len(before) + 1
    else:
        assert run.status_code == 403, run.text[:300]
        assert dag_runs_of(demo_dag) == before
