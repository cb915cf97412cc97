"""The job browser in a real browser (Debian's Chromium via Playwright) against the real api-server."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from tests.support import ensure_bulk_project, screenshot

SCRIPT_JOB = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def bulk_project(hopsworks):
    """A 2,000-job project only admins see."""
    return ensure_bulk_project(hopsworks)


def watch_dialogs(page) -> list[str]:
    """Collect (and dismiss) every alert/confirm a page opens: an injected script would show up here."""
    seen: list[str] = []

    def on_dialog(dialog) -> None:
        seen.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    return seen


def test_member_browses_projects_jobs_launches_and_reads_the_log(browser_login, airflow_server, hw):
    page = browser_login("alice")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=airflow_server.url)
    dialogs = watch_dialogs(page)

    page.goto(airflow_server.page("projects/"))
    row = page.locator('tr[data-project="demo_fs"]')
    assert row.locator("td").nth(2).inner_text() == "Data owner"
    # As many as Hopsworks has (other modules of this process may have added jobs to demo_fs).
    n_jobs = len(hw.state.projects[119].jobs)
    expect(row.locator("[data-testid=job-count]")).to_have_text(str(n_jobs))  # fetched once the row is on screen
    assert page.locator('tr[data-project="analytics"]').count() == 0
    screenshot(page, "jobs-projects")

    row.locator("a", has_text="Browse jobs").click()
    page.wait_for_url(re.compile(r"/projects/119/jobs$"))
    script_row = page.locator("tr[data-job]").filter(has_text="alert(1)")
    assert script_row.locator(".hw-jb-job-name").inner_text() == SCRIPT_JOB  # shown as text
    etl = page.locator('tr[data-job="etl"]')
    etl.locator("[data-hw-copy]").click()
    expect(etl.locator("[data-hw-copy]")).to_have_text("Copied")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == ("from hopsworks_ui_plugin.operators.hopsworks import HopsworksLaunchOperator\n\n"
                      'HopsworksLaunchOperator(task_id="launch_etl", project_name="demo_fs", job_name="etl")')
    page.locator("th a[data-sort=type]").click()
    page.wait_for_url(re.compile(r"sort=type"))
    types = page.locator("tr[data-job] td:nth-child(2)").all_inner_texts()
    assert types == sorted(types) and len(types) == n_jobs
    screenshot(page, "jobs-list")

    page.locator('tr[data-job="etl"] .hw-jb-job-name a').click()
    page.wait_for_url(re.compile(r"/projects/119/jobs/etl$"))
    page.fill("input[name=args]", "--date 2024-01-01")
    page.click("[data-testid=launch-form] input[type=submit]")
    page.wait_for_url(re.compile(r"/projects/119/jobs/etl$"))
    flash = page.locator(".alert", has_text="Launched 'etl'")
    assert "with arguments '--date 2024-01-01'" in flash.inner_text()
    execution_id = re.search(r"execution (\d+)", flash.inner_text()).group(1)
    first = page.locator("tr[data-execution]").first
    assert first.get_attribute("data-execution") == execution_id
    assert "--date 2024-01-01" in first.inner_text()
    screenshot(page, "job-launched")

    deadline = time.monotonic() + 30
    while first.locator("[data-testid=state]").inner_text() != "FINISHED":
        assert time.monotonic() < deadline, "the execution did not reach FINISHED within 30 s"
        time.sleep(0.3)
        page.click("[data-testid=refresh]")
        page.wait_for_load_state()
        first = page.locator(f'tr[data-execution="{execution_id}"]')
    assert first.locator("[data-testid=final-status]").inner_text() == "SUCCEEDED"
    screenshot(page, "job-detail")

    first.locator("a", has_text="Logs").click()
    page.wait_for_url(re.compile(rf"/log/{execution_id}/etl$"))
    stdout = page.locator("[data-testid=log-stdout] .hw-log").inner_text()
    assert "Arguments: --date 2024-01-01" in stdout and "Job 'etl' ended with state FINISHED" in stdout
    screenshot(page, "job-log")
    assert dialogs == []


def test_the_script_named_job_never_runs_as_script(browser_login, airflow_server):
    page = browser_login("bob")
    dialogs = watch_dialogs(page)
    page.goto(airflow_server.page("projects/119/jobs?q=script"))
    page.locator("tr[data-job] .hw-jb-job-name a").click()
    assert page.locator("[data-testid=job-name]").inner_text() == SCRIPT_JOB
    assert SCRIPT_JOB in page.locator("[data-testid=snippet]").input_value()
    page.wait_for_timeout(300)
    assert dialogs == []


def test_filtering_and_paging_a_2000_job_project(browser_login, airflow_server, bulk_project):
    page = browser_login("admin")
    page.goto(airflow_server.page(f"projects/{bulk_project}/jobs"))
    assert page.locator("[data-testid=job-total]").inner_text() == "2000 jobs"
    page.fill("input[name=q]", "job_01")
    page.select_option("select[name=per_page]", "10")
    page.click("form.hw-toolbar button[type=submit]")
    page.wait_for_url(re.compile(r"q=job_01"))
    assert page.locator("[data-testid=job-total]").inner_text() == "100 jobs matching “job_01”"
    page.locator("th a[data-sort=name]").click()  # name is sorted ascending already: flips to descending
    page.wait_for_url(re.compile(r"order=desc"))
    page.click("a[rel=next]")
    page.wait_for_url(re.compile(r"page=2"))
    names = page.locator("tr[data-job] .hw-jb-job-name").all_inner_texts()
    assert names == [f"job_{n:04d}" for n in range(189, 179, -1)]
    assert page.locator("[data-testid=pager]").inner_text().count("Page 2 of 10") == 1
    screenshot(page, "jobs-paged")


def test_a_non_member_is_refused_with_a_reason(browser_login, airflow_server):
    page = browser_login("dave")
    response = page.goto(airflow_server.page("projects/119/jobs"))
    assert response.status == 403
    banner = page.locator(".hw-error")
    assert "You (dave) are not a member of Hopsworks project 'demo_fs'" in banner.inner_text()
    screenshot(page, "jobs-forbidden")


def test_the_job_browser_shows_inside_airflows_own_ui(browser_login, airflow_server):
    page = browser_login("alice")
    page.goto(f"{airflow_server.url}/plugin/hopsworks-projects")
    row = page.frame_locator("iframe").locator('tr[data-project="demo_fs"]')
    row.wait_for()
    assert "Data owner" in row.inner_text()
    screenshot(page, "jobs-in-airflow-ui")
