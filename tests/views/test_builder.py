"""The DAG builder page, in-process (the real /pluginsv2 app): the form, live checks (cron -> next
runs, cycles), the job picker, create and change a DAG through the upload checks, the lost-update
refusal, who may use it."""

from __future__ import annotations

import html
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hopsworks_ui_plugin.dag_builder import parse
from tests.support import csrf_token

DEMO_FS, ANALYTICS = 119, 120


def demo_dir() -> Path:
    path = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]) / "demo_fs"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture(scope="module", autouse=True)
def cleanup(airflow_db) -> Iterator[None]:
    before = set(demo_dir().iterdir())
    yield
    for path in set(demo_dir().iterdir()) - before:
        path.unlink(missing_ok=True)


def unique(prefix: str = "bw") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def spec(dag_id: str, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "dag_id": dag_id, "description": "Nightly features", "tags": ["features"], "schedule": "@daily",
        "start_date": "2024-01-01", "catchup": False, "retries": 1, "conn_id": "hopsworks_default",
        "tasks": [
            {"name": "run_etl", "kind": "run_job", "job": "etl", "arguments": "--full", "upstream": []},
            {"name": "wait_data", "kind": "wait_path", "path": "Resources/data.csv", "upstream": []},
            {"name": "train", "kind": "run_job", "job": "train", "wait": "deferred",
             "upstream": ["run_etl", "wait_data"]},
        ],
    }
    data.update(extra)
    return data


def check(client: Any, data: dict[str, Any], full: bool = False, name: str | None = None) -> Any:
    token = client.csrf(f"dag-files/{DEMO_FS}/builder/new")
    return client.post(f"dag-files/{DEMO_FS}/builder/check", json={"spec": data, "full": full, "name": name},
                       headers={"X-CSRFToken": token, "Accept": "application/json"})


def create(client: Any, data: dict[str, Any]) -> Any:
    token = client.csrf(f"dag-files/{DEMO_FS}/builder/new")
    return client.post(f"dag-files/{DEMO_FS}/builder/new", data={"csrf_token": token, "spec": json.dumps(data)})


def text(response: Any) -> str:
    return str(response.get_data(as_text=True))


def test_a_member_gets_the_form_with_a_blank_dag_of_the_project(web):
    response = web("alice").get(f"dag-files/{DEMO_FS}/builder/new")
    assert response.status_code == 200
    page = text(response)
    assert 'data-testid="builder-form"' in page and "builder.js" in page
    data = json.loads(html.unescape(page.split('id="hw-bd-data">', 1)[1].split("</script>", 1)[0]))
    assert data["spec"]["owner"] == "alice" and data["spec"]["project"] == "demo_fs"
    assert data["spec"]["tags"] == ["demo_fs"] and data["spec"]["schedule"] == ""


def test_the_project_page_offers_new_dag_and_open_in_builder_only_for_builder_files(web):
    alice = web("alice")
    dag_id = unique()
    assert create(alice, spec(dag_id)).status_code == 302
    (demo_dir() / f"hand_{dag_id}.py").write_text("from airflow.sdk import DAG\n")
    page = text(alice.get(f"dag-files/{DEMO_FS}/"))
    assert f'href="/hopsworks/dag-files/{DEMO_FS}/builder/new" data-testid="new-dag"' in page
    row = page.split(f'data-testid="file-{dag_id}.py"', 1)[1].split("</tr>", 1)[0]
    assert f'href="/hopsworks/dag-files/{DEMO_FS}/builder/files/{dag_id}.py" data-testid="open-in-builder"' in row
    hand_row = page.split(f'data-testid="file-hand_{dag_id}.py"', 1)[1].split("</tr>", 1)[0]
    assert "open-in-builder" not in hand_row


def test_viewers_and_non_members_may_not_use_the_builder(web):
    assert web("dave").get(f"dag-files/{DEMO_FS}/builder/new").status_code == 403
    victor = web("victor").get(f"dag-files/{DEMO_FS}/builder/new")  # a Viewer in Airflow, member in Hopsworks
    assert victor.status_code == 403 and "Airflow permission" in text(victor)


def test_live_check_shows_cron_errors_and_next_runs(web):
    alice = web("alice")
    bad = check(alice, spec("x", schedule="61 6 * * *")).get_json()
    assert bad["ok"] is False and bad["schedule"]["runs"] == []
    assert {"field": "schedule", "message": "'61 6 * * *' is not a valid cron expression: "
            + bad["problems"][0]["message"].split("expression: ", 1)[1]} in bad["problems"]
    good = check(alice, spec("x", schedule="30 6 * * 1-5")).get_json()
    assert good["ok"] is True and len(good["schedule"]["runs"]) == 5
    assert all(r.endswith("06:30 UTC") for r in good["schedule"]["runs"]) and good["code"] is None
    continuous = check(alice, spec("x", schedule="@continuous")).get_json()
    assert continuous["problems"][0]["message"].startswith("@continuous is not offered")


def test_live_check_names_a_cycle(web):
    data = spec("x")
    data["tasks"][0]["upstream"] = ["train"]
    answer = check(web("alice"), data).get_json()
    assert {"field": "graph", "message": "The dependencies form a cycle: run_etl → train → run_etl. A DAG cannot "
            "wait for itself; remove one of these."} in answer["problems"]
    assert sorted(map(tuple, answer["edges"])) == [("run_etl", "train"), ("train", "run_etl"), ("wait_data", "train")]


def test_full_check_previews_the_code_and_checks_jobs_and_the_dag_id(web):
    alice = web("alice")
    dag_id = unique()
    preview = check(alice, spec(dag_id), full=True).get_json()
    assert preview["ok"] is True and f'dag_id="{dag_id}",' in preview["code"]
    assert '"owner": "alice"' in preview["code"] and not list(demo_dir().glob(f"{dag_id}*"))  # nothing written
    data = spec(dag_id)
    data["tasks"][0]["job"] = "no_such_job"
    missing = check(alice, data, full=True).get_json()
    assert missing["code"] is None and missing["problems"] == [
        {"field": "task.1.job", "message": "Task 1 (run_etl): project demo_fs has no job 'no_such_job'."}]


def test_check_needs_the_csrf_token_and_json(web):
    alice = web("alice")
    assert alice.post(f"dag-files/{DEMO_FS}/builder/check", json={"spec": spec("x")}).status_code == 400
    token = alice.csrf(f"dag-files/{DEMO_FS}/builder/new")
    answer = alice.post(f"dag-files/{DEMO_FS}/builder/check", data="nope",
                        headers={"X-CSRFToken": token, "Accept": "application/json"})
    assert answer.status_code == 400 and answer.get_json()["message"] == "Send the DAG as JSON."


def test_the_job_picker_searches_and_pages(web):
    alice = web("alice")
    found = alice.get(f"dag-files/{DEMO_FS}/builder/jobs?q=tr", headers={"Accept": "application/json"}).get_json()
    assert found == {"jobs": [{"name": "train", "type": "PYTHON"}], "total": 1, "page": 1, "pages": 1, "q": "tr"}
    everything = alice.get(f"dag-files/{DEMO_FS}/builder/jobs", headers={"Accept": "application/json"}).get_json()
    assert [j["name"] for j in everything["jobs"]] == sorted(j["name"] for j in everything["jobs"])
    assert everything["total"] == 5
    assert web("dave").get(f"dag-files/{DEMO_FS}/builder/jobs", headers={"Accept": "application/json"}).status_code \
        == 403


def test_saving_a_new_dag_writes_it_and_says_so(web):
    alice = web("alice")
    dag_id = unique()
    response = create(alice, spec(dag_id))
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/hopsworks/dag-files/{DEMO_FS}/")
    assert f"{dag_id}.py was saved" in text(alice.get(f"dag-files/{DEMO_FS}/"))
    parsed = parse.parse((demo_dir() / f"{dag_id}.py").read_bytes(), "demo_fs")
    assert parsed.spec is not None and parsed.spec.owner == "alice" and parsed.spec.tasks[2].upstream == [
        "run_etl", "wait_data"]


def test_a_refused_dag_comes_back_with_its_problems_and_nothing_is_written(web):
    alice = web("alice")
    dag_id = unique()
    data = spec(dag_id, schedule="@continuous")
    data["tasks"][1]["upstream"] = ["train"]
    response = create(alice, data)
    assert response.status_code == 400
    page = html.unescape(text(response))
    assert "Nothing was saved: @continuous is not offered" in page
    assert "The dependencies form a cycle: wait_data → train → wait_data." in page
    assert not list(demo_dir().glob(f"{dag_id}*"))
    shown = json.loads(page.split('id="hw-bd-data">', 1)[1].split("</script>", 1)[0])
    assert shown["spec"]["dag_id"] == dag_id and {p["field"] for p in shown["problems"]} == {"schedule", "graph"}


def test_a_hand_made_file_opens_in_the_editor_with_the_reason(web):
    name = f"{unique('hand')}.py"
    (demo_dir() / name).write_text("from airflow.sdk import DAG\n")
    page = html.unescape(text(web("alice").get(f"dag-files/{DEMO_FS}/builder/files/{name}")))
    assert ("This file opens in the editor, not the builder: it was not made with the DAG builder (it has no builder "
            "block at the top).") in page
    assert f'href="/hopsworks/dag-files/{DEMO_FS}/edit/{name}" data-testid="open-editor"' in page
    assert 'data-testid="builder-form"' not in page


def test_reopen_change_and_save(web):
    alice = web("alice")
    dag_id = unique()
    create(alice, spec(dag_id))
    name = f"{dag_id}.py"
    page = text(alice.get(f"dag-files/{DEMO_FS}/builder/files/{name}"))
    shown = json.loads(html.unescape(page.split('id="hw-bd-data">', 1)[1].split("</script>", 1)[0]))
    content_hash = page.split('name="content_hash" value="', 1)[1].split('"', 1)[0]
    shown["spec"]["tasks"].append({"name": "report", "kind": "wait_job", "job": "train", "upstream": ["train"]})
    response = alice.post(f"dag-files/{DEMO_FS}/builder/files/{name}", data={
        "csrf_token": csrf_token(page), "spec": json.dumps(shown["spec"]), "content_hash": content_hash})
    assert response.status_code == 302
    assert "train >> report" in (demo_dir() / name).read_text()

    # The same form again (an old hash): refused, the file keeps the change above.
    before = (demo_dir() / name).read_bytes()
    stale = alice.post(f"dag-files/{DEMO_FS}/builder/files/{name}", data={
        "csrf_token": csrf_token(page), "spec": json.dumps(spec(dag_id)), "content_hash": content_hash})
    assert stale.status_code == 409
    assert f"Nothing was saved: {name} was changed by someone else since you opened it." in html.unescape(text(stale))
    assert (demo_dir() / name).read_bytes() == before
