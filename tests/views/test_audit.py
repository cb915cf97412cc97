"""The audit trail, in-process: every action of the plugin's pages (launch, stop, upload, replace,
delete, pause, unpause, trigger) leaves an entry in Airflow's own event log (the ``log`` table that
Airflow's Audit Log and ``/api/v2/eventLogs`` show): who, what, and the project/job/file/DAG. The
filtering of these entries per user under HopsworksAuthManager is in tests/test_auth_manager.py."""

from __future__ import annotations

import io
import os
import re
import time
from pathlib import Path

import pytest

from hopsworks_ui_plugin import metadb
from tests.support import build_my_dags_scenario, csrf_token, dag_source, seed_key

DEMO_FS = 119


@pytest.fixture(scope="module")
def scenario(airflow_db):
    return build_my_dags_scenario()


def newest(event: str, owner: str = "alice") -> dict:
    entries = metadb.audit_entries(owner=owner, limit=50)
    found = [e for e in entries if e["event"] == event]
    assert found, f"no {event} entry by {owner}; newest: {entries[:3]}"
    return found[0]


def test_every_page_action_is_in_airflows_event_log_with_who_what_and_where(web, hw, scenario):
    alice = web("alice")
    token = alice.csrf(f"projects/{DEMO_FS}/jobs/etl")

    # launch and stop a job of demo_fs
    page = alice.get(alice.post(f"projects/{DEMO_FS}/launch/etl",
                                data={"csrf_token": token, "args": "--duration 60 --secret-flag"}
                                ).headers["Location"]).get_data(as_text=True)
    execution_id = int(re.search(r"execution (\d+)", page).group(1))
    launched = newest("hopsworks.launch")
    assert launched["extra"] == {"source": "hopsworks plugin", "project": "demo_fs", "project_id": DEMO_FS,
                                 "job": "etl", "execution_id": execution_id, "with_arguments": True}
    assert "--secret-flag" not in str(launched)  # arguments are not recorded
    # Hopsworks ignores a stop before the job has an application id (RUNNING from 1.2 s to 5.4 s here)
    deadline = time.monotonic() + 20
    while hw.state.get_execution(execution_id)["state"] != "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.1)
    alice.post(f"projects/{DEMO_FS}/stop/{execution_id}/etl", data={"csrf_token": token})
    stopped = newest("hopsworks.stop")
    assert stopped["extra"]["execution_id"] == execution_id and stopped["extra"]["job"] == "etl"

    # upload, replace, delete a DAG file of demo_fs
    folder = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]) / "demo_fs"
    name = "audit_trail_dag.py"
    files_token = alice.csrf(f"dag-files/{DEMO_FS}/")
    alice.post(f"dag-files/{DEMO_FS}/upload", follow_redirects=True, content_type="multipart/form-data",
               data={"csrf_token": files_token, "files": (io.BytesIO(dag_source("alice", "audit_v1")), name)})
    assert newest("hopsworks.upload")["extra"]["file"] == name
    ask = alice.post(f"dag-files/{DEMO_FS}/upload", follow_redirects=True, content_type="multipart/form-data",
                     data={"csrf_token": files_token, "files": (io.BytesIO(dag_source("alice", "audit_v2")), name)})
    staged = re.search(r'name="staged" value="([^"]+)"', ask.get_data(as_text=True)).group(1)
    alice.post(f"dag-files/{DEMO_FS}/upload/replace", data={"csrf_token": files_token, "overwrite": "1",
                                                           "staged": staged}, follow_redirects=True)
    replaced = newest("hopsworks.replace")
    assert replaced["extra"]["file"] == name and replaced["extra"]["project_folder"] == "demo_fs"
    alice.post(f"dag-files/{DEMO_FS}/files/{name}/delete", follow_redirects=True, data={"csrf_token": files_token})
    assert not (folder / name).exists()
    assert newest("hopsworks.delete")["extra"] == {"source": "hopsworks plugin", "project_folder": "demo_fs",
                                                   "file": name}

    # pause, unpause, trigger one of alice's DAGs
    list_token = csrf_token(alice.get("my-dags/").get_data(as_text=True))
    for paused in ("true", "false"):
        assert alice.post("my-dags/mdt_alice_etl/paused",
                          data={"csrf_token": list_token, "paused": paused}).status_code == 302
    assert alice.post("my-dags/mdt_alice_etl/trigger", data={"csrf_token": list_token}).status_code == 302
    for event in ("hopsworks.pause", "hopsworks.unpause", "hopsworks.trigger"):
        assert newest(event)["dag_id"] == "mdt_alice_etl"
    assert newest("hopsworks.trigger")["run_id"].startswith("manual__")

    # none of the entries holds a key
    text = str(metadb.audit_entries(owner="alice", limit=50))
    assert not any(seed_key(user).split(".")[0] in text for user in ("alice", "airflow", "airflow_ui"))
