"""Airflow permissions count too, in-process (the real /pluginsv2 app under the FAB auth manager).

``victor`` is a Data scientist of Hopsworks project demo_fs (119) like bob, but his Airflow role is
**Viewer** (read-only). Hopsworks membership says where he may act, his Airflow role says what he
may do: he may browse every page of his project, and every changing action (launch, stop, upload,
replace, delete, pause, unpause, trigger) is refused with a 403 naming the missing Airflow
permission, before anything reaches Hopsworks, the DAGs folder or the metadata DB.

Also here: ``next`` (the return address of My DAGs' forms) is checked before the action.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path
from typing import Any

import pytest

from tests.support import build_my_dags_scenario, csrf_token, dag_source
from tests.support import dag_model_row as dag_row
from tests.support import dag_runs_of as runs_of

DEMO_FS = 119
DEMO_DAG = "mdt_demo_fs_bob"  # a DAG in demo_fs's folder (bob's)
EDIT = "'can_edit on DAGs'"
TRIGGER = "'can_create on DAG Runs'"


@pytest.fixture(scope="module")
def scenario(airflow_db):
    return build_my_dags_scenario()


def dags_root() -> Path:
    return Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])


def snapshot() -> dict[str, bytes]:
    """Every file under the DAGs folder (hidden ones included) with its content."""
    root = dags_root()
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def text(response: Any) -> str:
    return re.sub(r"\s+", " ", response.get_data(as_text=True))


def test_a_viewer_member_browses_every_page_of_the_project(web, scenario):
    victor = web("victor")
    existing = next(iter(sorted((dags_root() / "demo_fs").glob("*.py"))), None)
    pages = ["projects/", f"projects/{DEMO_FS}/jobs", f"projects/{DEMO_FS}/jobs/etl", "dag-files/",
             f"dag-files/{DEMO_FS}/", "my-dags/"]
    if existing is not None:
        pages.append(f"dag-files/{DEMO_FS}/files/{existing.name}")
    for path in pages:
        response = victor.get(path)
        assert response.status_code == 200, (path, text(response)[:500])
    assert "demo_fs" in text(victor.get("projects/"))


def test_a_viewer_member_can_change_nothing_and_is_told_which_permission_is_missing(web, hw, scenario):
    victor = web("victor")
    (dags_root() / "demo_fs").mkdir(exist_ok=True)
    target = dags_root() / "demo_fs" / "victor_target.py"
    target.write_bytes(dag_source("bob", "victor_target_dag"))
    job_token = victor.csrf(f"projects/{DEMO_FS}/jobs/etl")
    files_token = victor.csrf(f"dag-files/{DEMO_FS}/")
    list_token = job_token  # one CSRF token per session; victor owns no DAG, so My DAGs has no form
    files_before = snapshot()
    dag_before = (dag_row(DEMO_DAG).is_paused, runs_of(DEMO_DAG))
    hw.clear_requests()

    attempts = {
        "launch": (f"projects/{DEMO_FS}/launch/etl", {"csrf_token": job_token, "args": "x"}, TRIGGER),
        "stop": (f"projects/{DEMO_FS}/stop/1/etl", {"csrf_token": job_token}, TRIGGER),
        "upload": (f"dag-files/{DEMO_FS}/upload",
                   {"csrf_token": files_token, "files": (io.BytesIO(dag_source("victor", "victor_new")),
                                                         "victor_new.py")}, EDIT),
        "replace": (f"dag-files/{DEMO_FS}/upload/replace",
                    {"csrf_token": files_token, "overwrite": "1", "staged": f"{'a' * 32}:victor_target.py"}, EDIT),
        "delete": (f"dag-files/{DEMO_FS}/files/victor_target.py/delete", {"csrf_token": files_token}, EDIT),
        "pause": (f"my-dags/{DEMO_DAG}/paused", {"csrf_token": list_token, "paused": "true"}, EDIT),
        "unpause": (f"my-dags/{DEMO_DAG}/paused", {"csrf_token": list_token, "paused": "false"}, EDIT),
        "trigger": (f"my-dags/{DEMO_DAG}/trigger", {"csrf_token": list_token}, TRIGGER),
    }
    for action, (path, data, permission) in attempts.items():
        response = victor.post(path, data=data, content_type="multipart/form-data")
        page = text(response)
        assert response.status_code == 403, (action, page[:800])
        assert f"needs the Airflow permission {permission}" in page.replace("&#39;", "'"), (action, page[:800])
        assert "membership alone is not enough" in page

    assert [(r.method, r.path) for r in hw.requests if r.method != "GET"] == []  # nothing reached Hopsworks
    assert snapshot() == files_before  # no file written, replaced or deleted
    assert (dag_row(DEMO_DAG).is_paused, runs_of(DEMO_DAG)) == dag_before  # not paused, not triggered
    target.unlink()


def test_the_delete_confirmation_page_is_refused_to_a_viewer_too(web):
    response = web("victor").get(f"dag-files/{DEMO_FS}/files/anything.py/delete")
    assert response.status_code == 403 and EDIT in text(response).replace("&#39;", "'")


def test_a_user_role_member_may_still_act(web, hw):
    """The same project membership with Airflow's User role: the launch goes through."""
    bob = web("bob")
    token = bob.csrf(f"projects/{DEMO_FS}/jobs/etl")
    hw.clear_requests()
    response = bob.post(f"projects/{DEMO_FS}/launch/etl", data={"csrf_token": token})
    assert response.status_code == 302, text(response)[:500]
    assert [r.method for r in hw.requests if r.path.endswith("/jobs/etl/executions")] == ["POST"]


# --- next: checked before the action -------------------------------------------------------------


BAD_NEXT = [
    "/hopsworks/my-dags/\r\nSet-Cookie: x=1",
    "/hopsworks/my-dags/\n",
    "/hopsworks/my-dags/\\evil",
    "https://evil.example/hopsworks/my-dags/",
    "//evil.example/hopsworks/my-dags/",
    "/evil",
    "/hopsworks/my-dags/../../admin/",
]


@pytest.mark.parametrize("bad_next", BAD_NEXT)
def test_a_bad_next_is_refused_before_the_dag_is_triggered_or_paused(web, scenario, bad_next):
    alice = web("alice")
    token = csrf_token(alice.get("my-dags/").get_data(as_text=True))
    paused, runs = dag_row("mdt_alice_daily").is_paused, runs_of("mdt_alice_daily")
    trigger = alice.post("my-dags/mdt_alice_daily/trigger", data={"csrf_token": token, "next": bad_next})
    pause = alice.post("my-dags/mdt_alice_daily/paused",
                       data={"csrf_token": token, "paused": "false" if paused else "true", "next": bad_next})
    for response in (trigger, pause):
        assert response.status_code == 400, text(response)[:500]
        assert "return address (next)" in text(response) and "nothing was done" in text(response)
    assert runs_of("mdt_alice_daily") == runs  # not triggered
    assert dag_row("mdt_alice_daily").is_paused == paused  # not paused/unpaused


def test_a_good_next_leads_back_to_the_filtered_list(web, scenario):
    alice = web("alice")
    token = csrf_token(alice.get("my-dags/").get_data(as_text=True))
    paused = dag_row("mdt_alice_daily").is_paused
    back = "/hopsworks/my-dags/?q=mdt_alice&page=1"
    response = alice.post("my-dags/mdt_alice_daily/paused",
                          data={"csrf_token": token, "paused": "false" if paused else "true", "next": back})
    assert response.status_code == 302 and response.headers["Location"].endswith(back)
    assert dag_row("mdt_alice_daily").is_paused is not paused
