"""The DAG builder in a real browser (Chromium), inside Airflow 3's own UI (the plugin pages are an
iframe of its navigation), against the real api-server, dag-processor and scheduler (LocalExecutor)
and the fake Hopsworks.

A member builds a DAG of four tasks (run job A and wait for a dataset path; then jobs B and C in
parallel after both), sees cron and cycle errors on the form, previews the code and saves it;
Airflow parses it; she unpauses and triggers it from My DAGs and sees the run succeed. Then she
reopens it in the builder, adds a task, saves, and Airflow shows the new task. Every generated file
is kept under ``test-artifacts/generated-dags/`` and checked with ruff.
"""

from __future__ import annotations

import re
import subprocess
import sys
import uuid
from pathlib import Path

import requests
from playwright.sync_api import expect

from hopsworks_ui_plugin import devstack
from tests.support import ARTIFACTS, screenshot, wait_until

DEMO_FS = 119
GENERATED = ARTIFACTS / "generated-dags"
REPO = Path(__file__).resolve().parents[2]




def api(server, page, path: str) -> requests.Response:
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "_token")
    return requests.get(f"{server.url}/api/v2/{path}", headers={"Authorization": f"Bearer {token}"}, timeout=30)


def keep(source: Path, name: str) -> Path:
    """Keep a generated file as a test artifact (checked with ruff below)."""
    GENERATED.mkdir(parents=True, exist_ok=True)
    target = GENERATED / name
    target.write_bytes(source.read_bytes())
    return target


def ruff(paths: list[Path]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(Path(sys.executable).parent / "ruff"), "check", "--no-cache", *map(str, paths)],
                          cwd=REPO, capture_output=True, text=True, timeout=120, check=False)


def task_row(frame, number: int):
    return frame.locator("[data-testid=task]").nth(number - 1)


def fill_task(frame, number: int, name: str, kind: str, *, job: str = "", path: str = "",
              after: tuple[str, ...] = ()) -> None:
    row = task_row(frame, number)
    row.locator("[data-task=name]").fill(name)
    row.locator("[data-task=kind]").select_option(kind)
    if job:
        row.locator("[data-task=job]").fill(job)
    if path:
        row.locator("[data-task=path]").fill(path)
    for upstream in after:
        row.locator(f"input[data-upstream='{upstream}']").check()


def test_build_run_and_change_a_dag_in_airflows_ui(browser_login, airflow_server, airflow_scheduler, hw):
    suffix = uuid.uuid4().hex[:6]
    dag_id = f"builder_{suffix}"
    name = f"{dag_id}.py"
    data_path = f"Resources/incoming/builder_{suffix}.csv"
    hw.state.add_dataset_path(DEMO_FS, data_path, "a,b\n1,2\n")
    target = airflow_server.home / "dags" / "demo_fs" / name

    page = browser_login("alice")
    page.goto(f"{airflow_server.url}/plugin/hopsworks-dag-files")
    frame = page.frame_locator("iframe")
    frame.get_by_role("link", name="demo_fs").click()
    frame.locator("[data-testid=new-dag]").click()
    expect(frame.locator("[data-testid=builder-form]")).to_be_visible()
    # The first task row is drawn by builder.js (what is typed before it runs is kept: the test below).
    expect(frame.locator("[data-testid=task]")).to_have_count(1)

    frame.locator("#hw-bd-dag-id").fill(dag_id)
    frame.locator("#hw-bd-description").fill("Features from the incoming file, then training and a report")

    # Cron validated as the user types: an error, then the next five runs.
    frame.locator("[data-testid=schedule-preset]").select_option("cron")
    frame.locator("[data-testid=cron]").fill("61 6 * * *")
    expect(frame.locator("[data-testid=schedule-error]")).to_contain_text("not a valid cron expression")
    frame.locator("[data-testid=cron]").fill("@continuous")
    expect(frame.locator("[data-testid=schedule-error]")).to_contain_text("@continuous is not offered")
    frame.locator("[data-testid=cron]").fill("30 6 * * 1-5")
    expect(frame.locator("[data-testid=schedule-error]")).to_be_empty()
    expect(frame.locator("[data-testid=schedule-preview] li")).to_have_count(5)
    assert "06:30 UTC" in frame.locator("[data-testid=schedule-preview] li").first.inner_text()
    screenshot(page, "builder-cron")
    frame.locator("[data-testid=schedule-preset]").select_option("")  # manual: runs only when triggered
    # The dataset sensor needs a key that may read datasets (the shared AGENT key may not).
    frame.locator("#hw-bd-conn").fill(devstack.PAGES_CONN_ID)

    # Run job A and wait for the path; then B and C in parallel after both.
    fill_task(frame, 1, "run_a", "run_job", job="etl")
    frame.locator("[data-testid=add-task]").click()
    fill_task(frame, 2, "wait_data", "wait_path", path=data_path)
    frame.locator("[data-testid=add-task]").click()
    fill_task(frame, 3, "run_b", "run_job", job="train", after=("run_a", "wait_data"))
    frame.locator("[data-testid=add-task]").click()
    fill_task(frame, 4, "run_c", "run_job", job="big_log", after=("run_a", "wait_data"))

    # A cycle is refused, naming it; the graph marks the edge that goes back.
    task_row(frame, 1).locator("input[data-upstream='run_b']").check()
    expect(frame.locator("[data-testid=graph-error]")).to_contain_text("cycle: run_a → run_b → run_a")
    expect(frame.locator("[data-testid=graph] line.hw-bd-edge-back")).to_have_count(1)
    screenshot(page, "builder-cycle")
    task_row(frame, 1).locator("input[data-upstream='run_b']").uncheck()
    expect(frame.locator("[data-testid=graph-error]")).to_be_empty()
    graph = frame.locator("[data-testid=graph]")
    expect(graph.locator("[data-node]")).to_have_count(4)
    edges = sorted(graph.locator("line[data-edge]").evaluate_all("lines => lines.map(l => l.dataset.edge)"))
    assert edges == ["run_a->run_b", "run_a->run_c", "wait_data->run_b", "wait_data->run_c"]

    # The code before saving.
    frame.locator("[data-testid=preview]").click()
    code = frame.locator("[data-testid=code]")
    expect(code).to_be_visible()
    source = code.inner_text()
    assert "from airflow.sdk import DAG" in source and '"owner": "alice"' in source
    assert "[run_a, wait_data] >> run_b" in source and "[run_a, wait_data] >> run_c" in source
    assert "api_key" not in source.lower()
    screenshot(page, "builder-preview")
    frame.locator("[data-testid=save]").click()
    expect(frame.locator(f"[data-testid='file-{name}']")).to_be_visible()
    expect(frame.locator(".alert").first).to_contain_text(f"{name} was saved")
    assert target.read_text().rstrip("\n") == source.rstrip("\n")  # saved what was previewed
    keep(target, name)

    # Airflow's dag-processor parses it; alice unpauses and triggers it from My DAGs.
    wait_until("the DAG being parsed", lambda: api(airflow_server, page, f"dags/{dag_id}").status_code == 200, 120,
               airflow_server)
    page.goto(f"{airflow_server.url}/plugin/hopsworks-my-dags")
    frame = page.frame_locator("iframe")
    frame.locator("input[name=q]").fill(dag_id)
    frame.locator("form[data-testid=filters] button[type=submit]").click()
    row = frame.locator(f"tr[data-dag-id='{dag_id}']")
    expect(row.locator("[data-testid=pause-toggle]")).to_have_text(re.compile("paused"))
    row.locator("[data-testid=pause-toggle]").click()
    expect(row.locator("[data-testid=pause-toggle]")).to_have_text(re.compile("active"))
    row.locator("[data-testid=trigger]").click()
    expect(frame.locator(".alert").first).to_contain_text(dag_id)

    def run_state() -> str | None:
        runs = api(airflow_server, page, f"dags/{dag_id}/dagRuns").json().get("dag_runs", [])
        state = runs[0]["state"] if runs else None
        return state if state in ("success", "failed") else None

    assert wait_until("the DAG run finishing", run_state, 240, airflow_server) == "success", \
        api(airflow_server, page, f"dags/{dag_id}/dagRuns/~/taskInstances").text[:3000]
    page.reload()
    frame = page.frame_locator("iframe")
    frame.locator("input[name=q]").fill(dag_id)
    frame.locator("form[data-testid=filters] button[type=submit]").click()
    expect(frame.locator(f"tr[data-dag-id='{dag_id}'] [data-testid=last-run]")).to_contain_text("success")
    screenshot(page, "builder-run-succeeded")
    executions = {r.path.split("/jobs/")[1].split("/")[0] for r in hw.requests
                  if r.method == "POST" and r.path.endswith("/executions")}
    assert {"etl", "train", "big_log"} <= executions

    # Reopen it in the builder, add a task, save: Airflow shows the change.
    page.goto(f"{airflow_server.url}/plugin/hopsworks-dag-files")
    frame = page.frame_locator("iframe")
    frame.get_by_role("link", name="demo_fs").click()
    frame.locator(f"[data-testid='file-{name}'] [data-testid=open-in-builder]").click()
    expect(frame.locator("#hw-bd-dag-id")).to_have_value(dag_id)
    expect(frame.locator("[data-testid=task]")).to_have_count(4)
    frame.locator("[data-testid=add-task]").click()
    fill_task(frame, 5, "report", "wait_job", job="big_log", after=("run_c",))
    frame.locator("[data-testid=save]").click()
    expect(frame.locator(".alert").first).to_contain_text(f"{name} was saved")
    keep(target, f"{dag_id}_changed.py")
    assert "HopsworksJobSuccessSensor" in target.read_text() and "run_c >> report" in target.read_text()

    def tasks() -> set[str]:
        response = api(airflow_server, page, f"dags/{dag_id}/tasks")
        return {t["task_id"] for t in response.json().get("tasks", [])} if response.status_code == 200 else set()

    assert wait_until("Airflow seeing the new task", lambda: "report" in tasks(), 120, airflow_server)
    assert tasks() == {"run_a", "wait_data", "run_b", "run_c", "report"}

    kept = [GENERATED / name, GENERATED / f"{dag_id}_changed.py"]
    result = ruff(kept)
    assert result.returncode == 0, result.stdout + result.stderr


def test_what_is_typed_before_the_builder_script_runs_is_kept(browser_login, airflow_server):
    """On a slow page the form is visible before builder.js has run: the script must not wipe what the
    user typed meanwhile (it used to fill every field from the empty spec)."""
    page = browser_login("alice")
    held: list = []
    page.route("**/builder.js", lambda route: held.append(route))  # the script waits until released
    page.goto(airflow_server.page(f"dag-files/{DEMO_FS}/builder/new"), wait_until="commit")
    page.locator("#hw-bd-dag-id").fill("typed_early")
    page.locator("#hw-bd-description").fill("typed while the script was loading")
    assert page.locator("[data-testid=task]").count() == 0  # builder.js has not run yet
    # (page.wait_for_timeout lets Playwright deliver the route event to this thread)
    wait_until("the page to ask for builder.js", lambda: page.wait_for_timeout(50) or held, timeout=10)
    held[0].continue_()
    expect(page.locator("[data-testid=task]")).to_have_count(1)  # the script ran
    assert page.locator("#hw-bd-dag-id").input_value() == "typed_early"
    assert page.locator("#hw-bd-description").input_value() == "typed while the script was loading"
    assert page.locator("#hw-bd-conn").input_value() == "hopsworks_default"  # untouched fields are filled
