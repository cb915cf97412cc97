"""Pages stay live inside Airflow 3's UI (issue 13): Chromium, the plugin page in Airflow's iframe.
A launched execution's badge moves to FINISHED and an uploaded DAG file goes from "not parsed yet" to
its DAG id, both without a reload (a marker set on the frame's window survives)."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

from playwright.sync_api import expect

from tests.support import dag_source

DEMO_FS = 119


def plugin_frame(page, part: str):
    """The Playwright Frame of the plugin page (for evaluate) whose URL contains ``part``."""
    page.wait_for_function(
        "part => [...document.querySelectorAll('iframe')].some(f => f.contentWindow.location.href.includes(part))",
        arg=part)
    return next(f for f in page.frames if part in f.url)


def mark(frame) -> None:
    frame.evaluate("window.__hwNoReload = 'still here'")


def assert_not_reloaded(frame) -> None:
    assert frame.evaluate("window.__hwNoReload") == "still here"


def test_launched_execution_moves_to_finished_without_a_reload(browser_login, airflow_server, hw):
    page = browser_login("alice")
    page.goto(f"{airflow_server.url}/plugin/hopsworks-projects")
    frame = page.frame_locator("iframe")
    frame.locator('tr[data-project="demo_fs"] a', has_text="Browse jobs").click()
    frame.locator('tr[data-job="etl"] a').first.click()
    frame.locator("[data-testid=launch-form] input[name=args]").fill("--duration 60")  # 6 s in the 10x fake
    frame.locator("[data-testid=launch-form] [type=submit]").click()
    flash = frame.get_by_text(re.compile(r"Launched 'etl': execution \d+"))
    expect(flash).to_be_visible()
    execution_id = re.search(r"execution (\d+)", flash.inner_text()).group(1)
    row = frame.locator(f'tr[data-execution="{execution_id}"]')
    badge = row.locator("[data-testid=state]")
    expect(badge).not_to_have_text(re.compile("FINISHED|FAILED|KILLED"))  # visibly not final first
    live = plugin_frame(page, "/jobs/etl")
    mark(live)
    expect(badge).to_have_text(re.compile("RUNNING"), timeout=20_000)
    expect(row.locator("[data-testid=elapsed]")).not_to_have_text("—")
    expect(badge).to_have_text("FINISHED", timeout=30_000)
    expect(badge).to_have_class(re.compile("hw-badge-success"))
    expect(row.locator("[data-testid=final-status]")).to_have_text("SUCCEEDED")
    expect(row.get_by_role("link", name="Logs")).to_be_visible()  # the Stop button became the Logs link
    assert_not_reloaded(live)
    expect(frame.locator("[data-testid=executions]")).to_have_attribute("data-hw-live-done", "")


def test_uploaded_file_shows_its_dag_id_once_parsed_without_a_reload(
    browser_login, airflow_server, airflow_dag_processor, tmp_path: Path
):
    dag_id = f"live_{uuid.uuid4().hex[:8]}"
    name = f"{dag_id}.py"
    source = tmp_path / name
    source.write_bytes(dag_source("alice", dag_id))
    target = airflow_server.home / "dags" / "demo_fs" / name
    try:
        page = browser_login("alice")
        page.goto(f"{airflow_server.url}/plugin/hopsworks-dag-files")
        frame = page.frame_locator("iframe")
        frame.get_by_role("link", name="demo_fs").click()
        frame.locator("input[name=files]").set_input_files(str(source))
        frame.locator("[data-testid=upload-form] button[type=submit]").click()
        row = frame.locator(f"[data-testid='file-{name}']")
        expect(row).to_contain_text("not parsed yet")
        live = plugin_frame(page, f"/dag-files/{DEMO_FS}/")
        mark(live)
        expect(row.locator(f"[data-testid='dag-{dag_id}']")).to_be_visible(timeout=120_000)
        expect(row).not_to_contain_text("not parsed yet")
        assert_not_reloaded(live)
    finally:
        target.unlink(missing_ok=True)
