"""Hopsworks not running at all: every page still renders, with a clear message, and recovers."""

from __future__ import annotations

import pytest


@pytest.fixture()
def hopsworks_down(hw):
    """Stop the fake Hopsworks (connections are refused), then bring it back on the same port."""
    port = hw.port
    hw.stop()
    try:
        yield hw
    finally:
        hw.start(port=port)


# Pages whose membership answers may still be in the api-server's 30 s cache render (200) from it;
# a page that needs Hopsworks itself answers 502 with the banner.
@pytest.mark.parametrize(
    ("user", "path", "statuses"),
    [
        ("alice", "projects/119/jobs", {502}),
        ("alice", "projects/119/jobs/etl", {502}),
        ("admin", "projects/", {200, 502}),
        ("alice", "dag-files/119/", {200, 502}),
    ],
)
def test_pages_explain_that_hopsworks_is_down(airflow_server, user_sessions, hopsworks_down, user, path, statuses):
    page = user_sessions(user).get(airflow_server.page(path), timeout=60)
    assert page.status_code in statuses, (page.status_code, page.text[-1500:])
    if page.status_code == 502:
        assert "Hopsworks is not available" in page.text and "Could not reach Hopsworks at" in page.text
    assert "Traceback" not in page.text and "ApiKey" not in page.text


def test_connection_page_says_hopsworks_is_unreachable(airflow_server, user_sessions, hopsworks_down):
    page = user_sessions("admin").get(airflow_server.page("connection/"), timeout=60)
    assert page.status_code == 200
    assert "not working" in page.text and "Could not reach Hopsworks at" in page.text


def test_my_dags_needs_no_hopsworks(airflow_server, user_sessions, hopsworks_down):
    """Ownership comes from Airflow's DB: the page works while Hopsworks is down."""
    page = user_sessions("alice").get(airflow_server.page("my-dags/"), timeout=60)
    assert page.status_code == 200 and "My DAGs" in page.text  # (a DAG's import error may show a traceback)


def test_pages_recover_when_hopsworks_is_back(airflow_server, user_sessions, hw):
    page = user_sessions("alice").get(airflow_server.page("projects/119/jobs"), timeout=60)
    assert page.status_code == 200 and "etl" in page.text
