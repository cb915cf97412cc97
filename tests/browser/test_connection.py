"""The Connection page in a real browser against the real api-server."""

from __future__ import annotations

from tests.support import screenshot


def test_connection_page_in_a_browser(browser_login, airflow_server):
    page = browser_login("admin")
    page.goto(airflow_server.page("connection/"))
    assert page.locator("[data-testid=conn-status]").inner_text() == "answers"
    assert page.locator("text=You have a plugin that is using a FAB view").count() == 0
    screenshot(page, "connection")
