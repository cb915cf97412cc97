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


def body(response) -> str:
    return response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("user", "path"),
    [("alice", "projects/119/jobs"), ("alice", "projects/119/jobs/etl"), ("admin", "projects/"),
     ("alice", "dag-files/119/")],
)
def test_pages_explain_that_hopsworks_is_down(web, hopsworks_down, user, path):
    page = web(user).get(path)  # (the web fixture starts each test with empty membership caches)
    assert page.status_code == 502, (page.status_code, body(page)[-1500:])
    assert "Hopsworks is not available" in body(page) and "Could not reach Hopsworks at" in body(page)
    assert "Traceback" not in body(page) and "ApiKey" not in body(page)


def test_a_page_whose_membership_is_cached_still_needs_hopsworks_for_the_jobs(web, hw):
    alice = web("alice")
    assert alice.get("projects/119/jobs").status_code == 200  # caches alice's membership
    port = hw.port
    hw.stop()
    try:
        page = alice.get("projects/119/jobs")
    finally:
        hw.start(port=port)
    assert page.status_code == 502 and "Could not list the project&#39;s jobs: Could not reach Hopsworks" in body(page)


def test_connection_page_says_hopsworks_is_unreachable(web, hopsworks_down):
    page = web("admin").get("connection/")
    assert page.status_code == 200
    assert "not working" in body(page) and "Could not reach Hopsworks at" in body(page)


def test_my_dags_needs_no_hopsworks(web, hopsworks_down):
    """Ownership comes from Airflow's DB: the page works while Hopsworks is down."""
    page = web("alice").get("my-dags/")
    assert page.status_code == 200 and "My DAGs" in body(page)


def test_pages_recover_when_hopsworks_is_back(web, hopsworks_down):
    port = hopsworks_down.port
    hopsworks_down.start(port=port)
    page = web("alice").get("projects/119/jobs")
    assert page.status_code == 200 and "etl" in body(page)
    hopsworks_down.stop()
