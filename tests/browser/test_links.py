"""Every kind of link of the plugin pages, CLICKED in Chromium inside Airflow 3's UI (the pages are an
iframe sandboxed without allow-top-navigation and allow-popups) and on a page opened on its own:
a DAG link lands on the DAG's page in Airflow's own UI (the whole window, not the frame), "Open in
Hopsworks ↗" / "Executions in Hopsworks ↗" open Hopsworks in a new tab, a file download downloads."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.support import parse_dag_files, project_dag_file


@pytest.fixture()
def alice_dag(airflow_server) -> Iterator[str]:
    with project_dag_file(airflow_server.home, "lnk") as path:
        parse_dag_files([path])  # a real DAG (serialized): Airflow's own page can show it
        yield path.stem


def blocked_by_sandbox(page) -> list[str]:
    """Console messages of the page and its frames about a navigation or popup the sandbox blocked."""
    seen: list[str] = []
    page.on("console", lambda m: seen.append(m.text) if "blocked" in m.text.lower() else None)
    return seen


def test_dag_link_inside_airflow_ui_navigates_the_whole_window(browser_login, airflow_server, alice_dag):
    page = browser_login("alice")
    blocked = blocked_by_sandbox(page)
    page.goto(f"{airflow_server.url}/plugin/hopsworks-my-dags")
    frame = page.frame_locator("iframe")
    frame.locator("input[name=q]").fill(alice_dag)
    frame.locator("form[data-testid=filters] button[type=submit]").click()
    frame.locator(f'tr[data-dag-id="{alice_dag}"] a[data-testid=dag-link]').click()
    page.wait_for_url(re.compile(rf"/dags/{alice_dag}$"))
    expect(page.get_by_text(alice_dag).first).to_be_visible()  # Airflow's own DAG page
    assert blocked == []


def test_dag_link_on_a_page_opened_on_its_own(browser_login, airflow_server, alice_dag):
    page = browser_login("alice")
    page.goto(airflow_server.page(f"my-dags/?q={alice_dag}"))
    page.locator(f'tr[data-dag-id="{alice_dag}"] a[data-testid=dag-link]').click()
    page.wait_for_url(re.compile(rf"/dags/{alice_dag}$"))


def open_job_in_frame(page, airflow_server):
    page.goto(f"{airflow_server.url}/plugin/hopsworks-projects")
    frame = page.frame_locator("iframe")
    frame.locator('tr[data-project="demo_fs"] a', has_text="Browse jobs").click()
    frame.locator('tr[data-job="etl"] a').first.click()
    expect(frame.get_by_role("link", name="Open in Hopsworks ↗")).to_be_visible()
    return frame


@pytest.mark.parametrize("name, path", [
    ("Open in Hopsworks ↗", "/p/119/jobs/named/etl"),
    ("Executions in Hopsworks ↗", "/p/119/jobs/named/etl/executions"),
])
def test_hopsworks_links_inside_airflow_ui_open_a_tab(browser_login, airflow_server, hw, name, path):
    page = browser_login("alice")
    blocked = blocked_by_sandbox(page)
    frame = open_job_in_frame(page, airflow_server)
    with page.context.expect_page(timeout=10_000) as opened:
        frame.get_by_role("link", name=name).click()
    assert opened.value.url.endswith(path)
    assert opened.value.url.startswith(hw.url)
    assert "/plugin/hopsworks-projects" in page.url  # Airflow's page stays where it was
    assert blocked == []


def test_hopsworks_link_on_a_page_opened_on_its_own(browser_login, airflow_server, hw):
    page = browser_login("alice")
    page.goto(airflow_server.page("projects/119/jobs/etl"))
    with page.context.expect_page(timeout=10_000) as opened:
        page.get_by_role("link", name="Open in Hopsworks ↗").click()
    assert opened.value.url == f"{hw.url}/p/119/jobs/named/etl"


def test_download_inside_airflow_ui(browser_login, airflow_server, alice_dag):
    page = browser_login("alice")
    page.goto(f"{airflow_server.url}/plugin/hopsworks-dag-files")
    frame = page.frame_locator("iframe")
    frame.get_by_role("link", name="demo_fs").click()
    with page.expect_download(timeout=10_000) as download:
        frame.locator(f'a[href$="/files/{alice_dag}.py/download"]').click()
    assert download.value.suggested_filename == f"{alice_dag}.py"
    assert alice_dag in open(download.value.path()).read()
