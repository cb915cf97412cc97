"""Every plugin page in Chromium, light and dark (issue 13): a full-page screenshot of each in
test-artifacts/screenshots/ (``page-<name>-<scheme>.png``), no JavaScript console error on any, the
dark pages really dark (the layout follows prefers-color-scheme on its own and Airflow 3's own colour
mode inside Airflow's UI)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.support import project_dag_file, screenshot

PID = 119


@pytest.fixture()
def alice_file(airflow_server) -> Iterator[str]:
    with project_dag_file(airflow_server.home, "shot") as path:
        yield path.name


def final_execution(hw) -> str:
    """``<id>/<job>`` of an ended execution in demo_fs (one is launched when none has ended yet)."""
    for ex in sorted(hw.state.executions.values(), key=lambda e: e.id):
        if ex.project_id == PID and hw.state.get_execution(ex.id)["state"] in ("FINISHED", "FAILED", "KILLED"):
            return f"{ex.id}/{ex.job_name}"
    project = hw.state.projects[PID]
    ex = hw.state.start_execution(hw.state.users["alice"], project, project.jobs["etl"], "--duration 0")
    deadline = time.monotonic() + 20
    while hw.state.get_execution(ex.id)["state"] not in ("FINISHED", "FAILED", "KILLED"):
        assert time.monotonic() < deadline, "the launched execution did not end"
        time.sleep(0.1)
    return f"{ex.id}/etl"


def background_rgb(page) -> tuple[int, int, int]:
    """The body's computed background as (r, g, b): Chromium answers rgb(...) (sRGB, oklch converted)."""
    return tuple(page.evaluate("""() => {
        const c = document.createElement("canvas").getContext("2d");
        c.fillStyle = getComputedStyle(document.body).backgroundColor; c.fillRect(0, 0, 1, 1);
        return Array.from(c.getImageData(0, 0, 1, 1).data.slice(0, 3));
    }"""))


def check_scheme(page, name: str, scheme: str) -> None:
    """The page is in ``scheme`` (class and computed background); its full-page screenshot is saved."""
    expect(page.locator("html.hw-dark")).to_have_count(1 if scheme == "dark" else 0)
    rgb = background_rgb(page)
    assert (sum(rgb) < 200) if scheme == "dark" else (sum(rgb) > 600), (name, scheme, rgb)
    screenshot(page, f"page-{name}-{scheme}")


def test_every_page_in_light_and_dark_without_console_errors(browser_login, airflow_server, hw, alice_file):
    """Each page is loaded once per user session: in the colour mode the browser asks for (dark for one
    user, light for the other), then the browser switches to the other mode and the page follows without
    a reload (the same ``apply()`` in layout.html runs on load and on a change)."""
    pages = {
        "projects": "projects/",
        "jobs": f"projects/{PID}/jobs",
        "job": f"projects/{PID}/jobs/etl",
        "execution-log": f"projects/{PID}/log/{final_execution(hw)}",
        "my-dags": "my-dags/",
        "dag-files": "dag-files/",
        "dag-files-project": f"dag-files/{PID}/",
        "dag-file": f"dag-files/{PID}/files/{alice_file}",
        "dag-file-delete": f"dag-files/{PID}/files/{alice_file}/delete",
        "editor": f"dag-files/{PID}/edit/{alice_file}",
        "builder": f"dag-files/{PID}/builder/new",
        "my-key": "my-key/",
        "error-404": "projects/999999/jobs",
    }
    admin_pages = {"connection": "connection/"}
    errors: list[str] = []
    for user, chosen, first in (("alice", pages, "dark"), ("admin", admin_pages, "light")):
        then = "light" if first == "dark" else "dark"
        page = browser_login(user)
        page.on("console", lambda m, p=page: errors.append(f"{p.url}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e, p=page: errors.append(f"{p.url}: {e}"))
        for name, path in chosen.items():
            page.emulate_media(color_scheme=first)
            page.goto(airflow_server.page(path))
            page.wait_for_load_state("networkidle")
            expect(page.locator(".hw-page")).to_be_visible()
            check_scheme(page, name, first)
            page.emulate_media(color_scheme=then)
            check_scheme(page, name, then)
    # The 404 page logs its failed document load as a console error in Chromium; nothing else may.
    errors = [e for e in errors if "404 (NOT FOUND)" not in e.upper() or "/projects/999999/" not in e]
    assert errors == [], "\n".join(errors)


def test_inside_airflow_ui_the_page_follows_airflows_colour_mode(browser_login, airflow_server):
    page = browser_login("alice")
    page.emulate_media(color_scheme="light")
    page.goto(f"{airflow_server.url}/plugin/hopsworks-projects")
    frame = page.frame_locator("iframe")
    expect(frame.locator(".hw-page")).to_be_visible()
    expect(frame.locator("html")).not_to_have_class("hw-dark")
    # Airflow's own switch: next-themes puts class "dark" on Airflow's <html>; the frame follows at once.
    page.evaluate("const c = document.documentElement.classList; c.replace('light', 'dark') || c.add('dark')")
    expect(frame.locator("html.hw-dark")).to_have_count(1)
    screenshot(page, "page-projects-in-airflow-dark")
    page.evaluate("document.documentElement.classList.replace('dark', 'light')")
    expect(frame.locator("html.hw-dark")).to_have_count(0)
