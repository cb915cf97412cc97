"""The DAG file editor in a real browser (Chromium), inside Airflow 3's own UI (the plugin pages are
an iframe of its navigation), against the real api-server: open a file from the project's DAG files
page, see it highlighted by CodeMirror, edit and save it; a syntax error is marked on its line; a file
changed by someone else meanwhile is refused with the diff, and nothing is written."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.support import project_dag_file, screenshot


@pytest.fixture()
def dag_file(airflow_server) -> Iterator[Path]:
    with project_dag_file(airflow_server.home, "edb") as path:
        yield path


def type_at_end(frame, text: str) -> None:
    frame.locator(".cm-content").click()
    frame.locator(".cm-content").press("Control+End")
    frame.locator(".cm-content").press_sequentially(text)


def test_open_highlight_edit_save_and_the_lost_update_refusal(browser_login, airflow_server, dag_file):
    page = browser_login("alice")
    page.goto(f"{airflow_server.url}/plugin/hopsworks-dag-files")
    frame = page.frame_locator("iframe")
    frame.get_by_role("link", name="demo_fs").click()
    frame.locator(f"[data-testid='edit-{dag_file.name}']").click()

    # CodeMirror replaced the textarea and highlights Python: keywords are coloured spans.
    expect(frame.locator(".cm-editor")).to_be_visible()
    expect(frame.locator("textarea#hw-editor-source")).to_be_hidden()
    expect(frame.locator(".cm-content")).to_contain_text("EmptyOperator(task_id='noop')")
    keyword = frame.locator(".cm-line span", has_text="import").first
    plain = frame.locator(".cm-content")
    assert keyword.evaluate("e => getComputedStyle(e).color") != plain.evaluate("e => getComputedStyle(e).color")
    screenshot(page, "editor-open")

    # Edit and save.
    type_at_end(frame, "\n# edited in the browser")
    frame.locator("[data-testid=save]").click()
    expect(frame.locator("[data-testid=notice]")).to_contain_text("was saved")
    assert dag_file.read_text().endswith("# edited in the browser")

    # A syntax error: refused, the text stays, the line is marked.
    before = dag_file.read_bytes()
    type_at_end(frame, "\ndef broken(:")
    frame.locator("[data-testid=save]").click()
    expect(frame.locator("[data-testid=save-error]")).to_contain_text("syntax error")
    expect(frame.locator(".cm-lintRange-error")).to_have_count(1)
    expect(frame.locator(".cm-content")).to_contain_text("def broken(:")
    assert dag_file.read_bytes() == before
    screenshot(page, "editor-syntax-error")

    # Someone else changes the file while alice edits: her save is refused with the diff.
    frame.locator(".cm-content").click()
    frame.locator(".cm-content").press("Control+End")
    frame.locator(".cm-content").press("Shift+Home")
    frame.locator(".cm-content").press_sequentially("# alice's change")
    theirs = before.decode().replace("task_id='noop'", "task_id='theirs'")
    dag_file.write_text(theirs)
    frame.locator("[data-testid=save]").click()
    expect(frame.locator("[data-testid=save-error]")).to_contain_text("changed by someone else")
    diff = frame.locator("[data-testid=diff]")
    expect(diff).to_contain_text("-    EmptyOperator(task_id='theirs')")
    expect(diff).to_contain_text("+# alice's change")
    expect(frame.locator(".cm-content")).to_contain_text("# alice's change")  # her text is kept
    assert dag_file.read_text() == theirs  # nothing written
    screenshot(page, "editor-lost-update")
