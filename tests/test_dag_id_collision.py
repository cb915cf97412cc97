"""The dag_id collision attack, end to end: a second file defining another project's DAG id.

Test seed: alice owns demo_fs (119), carol is in analytics (120) only. alice's file in demo_fs'
folder defines a DAG; carol tries to take its id over from analytics' folder. The upload is refused;
a collision written to disk anyway (parsed by the real ``airflow dag-processor``) makes the DAG
admin-only under HopsworksAuthManager (``auth_server``), and deleting the intruding file keeps the
victim's DAG records. Airflow 3.3 records such a collision as one ``dag`` row whose ``fileloc`` flips
between the two files with each parse (plus a ``dag_code`` row per version), and no import error.
"""

from __future__ import annotations

import io
import os
import uuid
from pathlib import Path
from urllib.parse import quote

from hopsworks_ui_plugin import metadb
from hopsworks_ui_plugin.core import dag_files as flows
from tests.support import dag_model_row, dag_runs_of, dag_source, wait_until

DAGS = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])


def statuses(api, username: str, dag_id: str) -> dict[str, int]:
    user = api(username)
    quoted = quote(dag_id, safe="")
    return {
        "dag": user.call("GET", f"/dags/{quoted}").status_code,
        "runs": user.call("GET", f"/dags/{quoted}/dagRuns").status_code,
        "source": user.call("GET", f"/dagSources/{quoted}").status_code,
    }


def row_file(dag_id: str) -> str | None:
    row = dag_model_row(dag_id)
    return None if row is None else str(Path(row.fileloc).resolve())


def test_dag_id_collision_is_refused_then_contested_and_delete_keeps_the_victims_dag(
    auth_server, airflow_dag_processor, api
):
    suffix = uuid.uuid4().hex[:8]
    dag_id = f"victim_{suffix}"
    demo, analytics = DAGS / "demo_fs", DAGS / "analytics"
    demo.mkdir(exist_ok=True)
    analytics.mkdir(exist_ok=True)
    victim = demo / f"{dag_id}.py"
    intruder = analytics / f"intruder_{suffix}.py"
    victim.write_bytes(dag_source("alice", dag_id))
    try:
        wait_until("the victim's DAG to be parsed",
                   lambda: row_file(dag_id) == str(victim.resolve()), interval=0.5)
        wait_until("alice to see her DAG", lambda: statuses(api, "alice", dag_id)["dag"] == 200, interval=0.5)
        assert statuses(api, "carol", dag_id)["dag"] == 403

        # 1. carol's upload of a file defining alice's DAG id is refused, with the reason.
        result = flows.upload(analytics, [flows.IncomingFile(intruder.name, io.BytesIO(dag_source("carol", dag_id)))],
                              "carol", False)
        (refused,) = result.results
        assert result.status == 403 and refused.outcome == "rejected"
        assert f"DAG id '{dag_id}' (line 3) is already defined by a file in another project's folder" in refused.message
        assert not intruder.exists()

        # 2. The collision exists anyway (written to disk directly): the DAG is admin-only.
        admin = api("admin")
        run = admin.call("POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None})
        assert run.status_code == 200, run.text
        intruder.write_bytes(dag_source("carol", dag_id))
        wait_until("the collision to be recorded",
                   lambda: metadb.contested_dag_ids([dag_id]) == {dag_id}, interval=0.5)
        for username in ("alice", "carol"):
            assert statuses(api, username, dag_id) == {"dag": 403, "runs": 403, "source": 403}, username
            assert dag_id not in api(username).dag_ids(dag_id_pattern=dag_id)
        assert statuses(api, "admin", dag_id) == {"dag": 200, "runs": 200, "source": 200}

        # 3. Deleting the intruding file, at a moment its row points at that file (what made the old
        # delete wipe the victim's DAG), keeps the victim's DAG records and runs.
        wait_until("the row to point at the intruding file",
                   lambda: row_file(dag_id) == str(intruder.resolve()), interval=0.5)
        preview = flows.delete_preview(analytics, intruder.name)
        assert [d.dag_id for d in preview.dags] == [dag_id]
        report = flows.delete(analytics, intruder.name, [d.dag_id for d in preview.dags], username="carol")
        assert report.kept == [dag_id] and report.removed == [] and report.paused == []
        assert not intruder.exists()
        row = dag_model_row(dag_id)
        assert row is not None and len(dag_runs_of(dag_id)) == 1

        # 4. Resolved: once the victim's file is parsed again, alice has her DAG back; carol does not.
        wait_until("alice to get her DAG back",
                   lambda: statuses(api, "alice", dag_id)["dag"] == 200, interval=0.5)
        assert statuses(api, "alice", dag_id) == {"dag": 200, "runs": 200, "source": 200}
        assert statuses(api, "carol", dag_id)["dag"] == 403
    finally:
        for path in (victim, intruder):
            path.unlink(missing_ok=True)

