"""Project DAG files in a real browser: a member uploads a DAG file, the real DAG processor parses
it, the member views and deletes it; a non-member is refused."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import requests

from tests.support import screenshot

DEMO_FS = 119


def dag_file(tmp_path: Path, name: str, dag_id: str, owner: str) -> Path:
    path = tmp_path / name
    path.write_text(
        "from airflow.sdk import DAG\n"
        "from airflow.providers.standard.operators.empty import EmptyOperator\n\n"
        f"DAG_OWNER = {owner!r}\n"
        "default_args = {'owner': DAG_OWNER, 'retries': 0}\n\n"
        f"with DAG({dag_id!r}, default_args=default_args, schedule=None, tags=['hopsworks']):\n"
        "    EmptyOperator(task_id='start') >> EmptyOperator(task_id='end')\n"
    )
    return path


def api_dag(server, page, dag_id: str) -> requests.Response:
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "_token")
    return requests.get(f"{server.url}/api/v2/dags/{dag_id}", headers={"Authorization": f"Bearer {token}"},
                        timeout=30)


def test_member_uploads_sees_the_dag_parsed_views_and_deletes_it(
    browser_login, airflow_server, airflow_dag_processor, tmp_path
):
    suffix = uuid.uuid4().hex[:6]
    name, dag_id = f"hw_browser_{suffix}.py", f"hw_browser_{suffix}"
    target = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]) / "demo_fs" / name
    page = browser_login("alice")
    listing_url = airflow_server.page(f"dag-files/{DEMO_FS}/")
    assert page.goto(airflow_server.page("dag-files/")).status == 200
    projects = page.locator("[data-testid=project-list]")
    assert "demo_fs" in projects.inner_text() and "analytics" not in projects.inner_text()
    screenshot(page, "dagfiles-projects")
    projects.get_by_role("link", name="demo_fs").click()
    page.wait_for_url(listing_url)

    # A refused upload first: syntax error and someone else's DAG, shown per file; nothing written.
    broken = tmp_path / f"broken_{suffix}.py"
    broken.write_text("from airflow.sdk import DAG\n\nwith DAG('x'\n    pass\n")
    bobs = dag_file(tmp_path, f"bobs_{suffix}.py", f"bobs_{suffix}", "bob")
    page.set_input_files("input[name=files]", [str(broken), str(bobs)])
    with page.expect_navigation() as nav:
        page.click("[data-testid=upload-form] button[type=submit]")
    assert nav.value.status == 400
    results = page.locator("[data-testid=upload-results]")
    assert "syntax error at line 3" in results.inner_text()
    assert "you may only upload DAGs owned by your own Hopsworks username 'alice'" in results.inner_text()
    assert page.locator("[data-testid=upload-error]").inner_text().startswith("Nothing was saved")
    screenshot(page, "dagfiles-upload-error")
    assert not (target.parent / broken.name).exists() and not (target.parent / bobs.name).exists()

    # The real upload.
    page.set_input_files("input[name=files]", str(dag_file(tmp_path, name, dag_id, "alice")))
    with page.expect_navigation() as nav:
        page.click("[data-testid=upload-form] button[type=submit]")
    assert nav.value.status == 200
    assert f"{name} was saved" in page.locator("[data-testid=result-written]").inner_text()
    assert page.locator(f"[data-testid='file-{name}']").is_visible()
    assert target.is_file()

    # Uploading it again asks before replacing the existing file.
    page.set_input_files("input[name=files]", str(tmp_path / name))
    with page.expect_navigation() as nav:
        page.click("[data-testid=upload-form] button[type=submit]")
    assert nav.value.status == 409
    assert "already exists. Replace it" in page.locator("[data-testid=result-confirm]").inner_text()
    screenshot(page, "dagfiles-replace-confirm")
    with page.expect_navigation() as nav:
        page.click("[data-testid=confirm-replace] button[value=replace]")
    assert nav.value.status == 200
    assert f"{name} was replaced" in page.locator("[data-testid=result-replaced]").inner_text()

    # The DAG processor parses it; the DAG shows up in Airflow (paused at creation, owner alice).
    deadline = time.monotonic() + 90
    response = api_dag(airflow_server, page, dag_id)
    while response.status_code != 200 and time.monotonic() < deadline:
        time.sleep(2)
        response = api_dag(airflow_server, page, dag_id)
    assert response.status_code == 200, f"DAG never parsed:\n{airflow_server.log_tail()}"
    assert response.json()["owners"] == ["alice"] and response.json()["is_paused"] is True

    page.goto(listing_url)
    row = page.locator(f"[data-testid='file-{name}']")
    dag_entry = row.locator(f"[data-testid='dag-{dag_id}']")
    assert "owner alice" in dag_entry.inner_text() and "paused" in dag_entry.inner_text()
    screenshot(page, "dagfiles-list")

    row.locator("text=View").click()
    source = page.locator("[data-testid=source]")
    assert "DAG_OWNER = 'alice'" in source.inner_text()
    assert page.locator(f"[data-testid='dag-{dag_id}']").is_visible()
    screenshot(page, "dagfiles-view")

    page.goto(listing_url)
    page.locator(f"[data-testid='file-{name}'] >> text=Delete").click()
    confirm = page.locator("[data-testid=delete-confirm]")
    assert "pauses and removes" in confirm.inner_text() and dag_id in confirm.inner_text()
    assert target.is_file()
    screenshot(page, "dagfiles-delete-confirm")
    with page.expect_navigation() as nav:
        page.click("[data-testid=delete-submit]")
    assert nav.value.status == 200
    report = page.locator("[data-testid=delete-report]").inner_text()
    assert "The file was removed" in report
    assert f"1 DAG paused and removed from Airflow's metadata DB: {dag_id}" in report
    assert not target.exists()
    assert api_dag(airflow_server, page, dag_id).status_code == 404


def test_non_member_gets_the_403_page(browser_login, airflow_server):
    page = browser_login("dave")
    response = page.goto(airflow_server.page(f"dag-files/{DEMO_FS}/"))
    assert response.status == 403
    assert "You (dave) are not a member of Hopsworks project 'demo_fs'" in page.locator(".hw-error").inner_text()
    assert page.locator("[data-testid=upload-form]").count() == 0
    screenshot(page, "dagfiles-forbidden")
