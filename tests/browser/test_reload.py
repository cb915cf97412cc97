"""POST -> redirect -> GET everywhere, in Chromium: after every form a user submits on the plugin's pages
(launch, stop, upload, replace, delete, pause, trigger, key save) the address is a GET page, and
reloading it answers 200 with the outcome, never "Method Not Allowed", and repeats nothing."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import expect

from hopsworks_ui_plugin import user_keys
from tests.support import dag_model_row, dag_runs_of, dag_source, parse_dag_files, project_dag_file, seed_key

POST_ONLY = re.compile(r"/(upload|upload/replace|launch/[^?]*|stop/[^?]*|paused|trigger|save)$")


def reload_is_safe(page) -> str:
    """Reload the page: the address is a GET page, it answers 200 without "Method Not Allowed"; returns
    the page's text after the reload."""
    url = page.url
    assert not POST_ONLY.search(url.split("?")[0]), f"a POST's address stayed in the address bar: {url}"
    response = page.reload()
    assert response is not None and response.request.method == "GET", url
    assert response.status < 400 or response.status in (409,), (url, response.status)
    text = page.inner_text("body")
    assert "Method Not Allowed" not in text
    assert page.url == url
    return text


def accept_dialogs(page) -> list[str]:
    """Accept every confirm() the page asks; returns the questions asked."""
    asked: list[str] = []

    def on_dialog(dialog) -> None:
        asked.append(dialog.message)
        dialog.accept()

    page.on("dialog", on_dialog)
    return asked


def executions_of(hw, project_id: int, job: str) -> int:
    with hw.state.lock:
        return sum(1 for e in hw.state.executions.values() if e.project_id == project_id and e.job_name == job)


def test_reload_after_launch_and_stop(browser_login, airflow_server, hw):
    page = browser_login("alice")
    asked = accept_dialogs(page)
    page.goto(airflow_server.page("projects/119/jobs/etl"))
    before = executions_of(hw, 119, "etl")
    page.fill("input[name=args]", "--duration 120")  # still running when Stop is clicked
    page.locator("[data-testid=launch-form] [type=submit]").click()
    expect(page.locator(".alert")).to_contain_text("etl")
    text = reload_is_safe(page)
    assert "etl" in text
    assert executions_of(hw, 119, "etl") == before + 1  # the reload launched nothing

    page.locator("[data-testid=stop]").first.click()
    page.wait_for_load_state("load")
    assert len(asked) == 1 and asked[0].startswith("Stop execution #")  # Stop asks first
    reload_is_safe(page)
    assert executions_of(hw, 119, "etl") == before + 1


def test_reload_after_upload_replace_and_delete(browser_login, airflow_server):
    page = browser_login("alice")
    accept_dialogs(page)
    name = f"rl_{uuid.uuid4().hex[:8]}"
    target = airflow_server.home / "dags" / "demo_fs" / f"{name}.py"
    page.goto(airflow_server.page("dag-files/119/"))
    page.set_input_files("input#files", files=[
        {"name": f"{name}.py", "mimeType": "text/x-python", "buffer": dag_source("alice", name)}])
    page.locator("[data-testid=upload-form] button[type=submit]").click()
    expect(page.locator("[data-testid=result-written]")).to_be_visible()
    assert "was saved" in reload_is_safe(page)  # the outcome is still shown after the reload
    expect(page.locator("[data-testid=result-written]")).to_be_visible()

    changed = dag_source("alice", name, extra="# changed\n")
    page.set_input_files("input#files", files=[{"name": f"{name}.py", "mimeType": "text/x-python", "buffer": changed}])
    page.locator("[data-testid=upload-form] button[type=submit]").click()
    page.locator("[data-testid=confirm-replace] button[value=replace]").click()
    expect(page.locator("[data-testid=result-replaced]")).to_be_visible()
    reload_is_safe(page)
    assert target.read_bytes() == changed

    page.locator(f"[data-testid='file-{name}.py'] a", has_text="Delete").click()
    page.locator("[data-testid=delete-submit]").click()
    expect(page.locator("[data-testid=delete-report]")).to_contain_text(f"{name}.py")
    assert f"Deleted {name}.py" in reload_is_safe(page)
    assert not target.exists()


def test_reload_after_pause_and_trigger(browser_login, airflow_server):
    with project_dag_file(airflow_server.home, "rl") as path:
        dag_id = path.stem
        parse_dag_files([path])
        page = browser_login("alice")
        accept_dialogs(page)
        page.goto(airflow_server.page(f"my-dags/?q={dag_id}"))
        paused = dag_model_row(dag_id).is_paused
        page.locator(f'tr[data-dag-id="{dag_id}"] [data-testid=pause-toggle]').click()
        page.wait_for_load_state("load")
        reload_is_safe(page)
        assert dag_model_row(dag_id).is_paused is (not paused)  # toggled once, not back by the reload

        page.locator(f'tr[data-dag-id="{dag_id}"] [data-testid=trigger]').click()
        dialog_submit = page.locator("[data-testid=trigger-submit]")
        if dialog_submit.count():  # the trigger dialog (run conf, logical date)
            dialog_submit.click()
        page.wait_for_load_state("load")
        reload_is_safe(page)
        assert len(dag_runs_of(dag_id)) == 1  # the reload triggered no second run


def test_reload_after_saving_my_key(browser_login, airflow_server):
    user_keys.remove("alice")
    try:
        page = browser_login("alice")
        page.goto(airflow_server.page("my-key/"))
        page.locator("input[name=api_key]").fill(seed_key("alice"))
        page.locator("[data-testid=key-save]").click()
        expect(page.locator("[data-testid=key-user]")).to_have_text("alice")
        reload_is_safe(page)
        expect(page.locator("[data-testid=key-user]")).to_have_text("alice")
    finally:
        user_keys.remove("alice")
