"""In a real browser: each user sees only their DAGs on the My DAGs page and in Airflow's own React
DAG list; the admin sees all.

Both run on the api-server with HopsworksAuthManager (the plugin's pages are served there too; the
My DAGs page stays owner-only under it). The page under the default FAB auth manager is covered
in-process by ``tests/views/test_my_dags.py``."""

from __future__ import annotations

import time

import pytest

from tests.support import AUTH_MANAGER_API_EXPECTED as API_EXPECTED
from tests.support import MDT_PREFIX as PREFIX
from tests.support import MY_DAGS_EXPECTED as PAGE_EXPECTED
from tests.support import browser_page_logged_in, screenshot
from tests.support import dag_model_row as dag_row


def rows_on_page(page) -> set[str]:
    return set(page.eval_on_selector_all("tr[data-dag-id]", "rows => rows.map(r => r.dataset.dagId)"))


def search_my_dags(page, server_url: str, text: str) -> None:
    """Open My DAGs and search through the page's own filter form."""
    page.goto(f"{server_url}/pluginsv2/hopsworks/my-dags/")
    page.fill("input[name=q]", text)
    page.click("form[data-testid=filters] button[type=submit]")
    page.wait_for_url(lambda url: "q=" in url)


@pytest.fixture(scope="module")
def user_page(browser, auth_server):
    """``user_page("alice")`` -> a Playwright page logged in on the auth-manager server (one per user)."""
    contexts: dict[str, tuple] = {}

    def get(username: str):
        if username not in contexts:
            contexts[username] = browser_page_logged_in(browser, auth_server.url, username)
        return contexts[username][1]

    yield get
    for context, _page in contexts.values():
        context.close()


@pytest.mark.parametrize("username", ["alice", "bob", "admin"])
def test_my_dags_page_in_the_browser(auth_server, user_page, username):
    page = user_page(username)
    search_my_dags(page, auth_server.url, PREFIX)
    assert rows_on_page(page) == PAGE_EXPECTED[username]
    if username in ("alice", "admin"):
        screenshot(page, f"mydags-{username}")
    # The DAG id links to the DAG in Airflow's own UI.
    first = sorted(PAGE_EXPECTED[username])[0]
    assert (
        page.get_attribute(f'tr[data-dag-id="{first}"] a[data-testid=dag-link]', "href") == f"/dags/{first}"
    )


def test_owner_toggles_pause_in_the_browser(auth_server, user_page):
    page = user_page("bob")
    search_my_dags(page, auth_server.url, "mdt_nospace")
    toggle = 'tr[data-dag-id="mdt_nospace"] [data-testid=pause-toggle]'
    start = dag_row("mdt_nospace").is_paused
    for expected in (not start, start):
        page.click(toggle)
        page.wait_for_load_state("load")
        assert dag_row("mdt_nospace").is_paused is expected
        label = page.get_attribute(toggle, "aria-label")
        assert label == ("Unpause mdt_nospace" if expected else "Pause mdt_nospace")
    assert "mdt_nospace is" in page.inner_text("body")  # the flash message


def react_dag_ids(page, expected: set[str], timeout_s: float = 30) -> set[str]:
    """The ``mdt_*`` DAG ids the React list shows once it has settled on the search result."""
    deadline = time.monotonic() + timeout_s
    seen: set[str] = set()
    while time.monotonic() < deadline:
        texts = page.eval_on_selector_all("[data-testid=dag-id]", "links => links.map(a => a.textContent)")
        seen = {t.strip() for t in texts if t.strip().startswith(PREFIX)}
        if seen == expected and all(t.strip().startswith(PREFIX) for t in texts):
            time.sleep(1)  # and it stays so (no late page of results)
            texts = page.eval_on_selector_all(
                "[data-testid=dag-id]", "links => links.map(a => a.textContent)"
            )
            return {t.strip() for t in texts if t.strip().startswith(PREFIX)}
        time.sleep(0.3)
    return seen


@pytest.mark.parametrize("username", ["alice", "bob", "admin"])
def test_airflow_react_dag_list_under_the_auth_manager(auth_server, user_page, username):
    page = user_page(username)
    page.goto(f"{auth_server.url}/dags")
    page.fill("input[placeholder^='Search Dags']", PREFIX)
    assert react_dag_ids(page, API_EXPECTED[username]) == API_EXPECTED[username]
    if username == "alice":
        screenshot(page, "airflow-dags-alice")
