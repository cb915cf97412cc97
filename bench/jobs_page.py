"""Jobs page of a 2,000-job project: one rendered page vs the raw Hopsworks request behind it, and vs
the floor (that request + an empty plugin page in the same Airflow: what any plugin page costs)."""

from __future__ import annotations

from typing import Any

import requests

from bench.common import Result, measure, ratio, side_by_side
from bench.stack import WebStack


def empty_page(stack: WebStack, session: requests.Session) -> Any:
    """``fn()`` rendering the floor plugin's empty FAB page (user from the JWT, Airflow's layout)."""
    url = f"{stack.floor_url}/empty"

    def fetch() -> None:
        response = session.get(url, timeout=60, allow_redirects=False)
        assert response.status_code == 200 and "<html" in response.text.lower(), response.status_code

    return fetch


def run(stack: WebStack, repeat: int, jobs: int, per_page: int = 50) -> list[Result]:
    alice = stack.login("alice")
    page_url = f"{stack.url}/pluginsv2/hopsworks/projects/121/jobs"
    params: dict[str, Any] = {"page": 2, "per_page": per_page, "sort": "name", "order": "asc"}
    raw = requests.Session()
    raw.headers["Authorization"] = f"ApiKey {stack.pages_key}"
    raw_url = f"{stack.hopsworks.api_url}/project/121/jobs"
    raw_params = [("offset", str(per_page)), ("limit", str(per_page)), ("sort_by", "name:asc"),
                  ("expand", "creator"), ("expand", "executions(offset=0;limit=1;sort_by=id:desc)")]
    empty = empty_page(stack, alice)

    def render() -> None:
        response = alice.get(page_url, params=params, timeout=60)
        assert response.status_code == 200 and "job_" in response.text, response.status_code

    def direct() -> None:
        response = raw.get(raw_url, params=raw_params, timeout=60)
        assert response.status_code == 200
        response.json()

    def floor() -> None:
        direct()
        empty()

    render()  # warm the membership cache
    stack.hopsworks.clear_requests()
    render()
    per_page_requests = len(stack.hopsworks.requests)
    page, baseline = side_by_side(render, direct, repeat)
    # The floor ratio sits close to its goal: twice the samples (interleaved) for a steadier median.
    page_f, floor_t = side_by_side(render, floor, 2 * repeat + 1)
    empty_t = measure(empty, repeat)
    # The fake answers in a few milliseconds; a real Hopsworks computing a page of 2,000 jobs with their
    # latest executions takes tens of milliseconds. The same comparisons with 50 ms added to each answer:
    stack.hopsworks.inject_fault(status=None, count=None, delay_s=0.05, path_contains="/jobs")
    try:
        slow_page, slow_baseline = side_by_side(render, direct, max(3, repeat // 2))
        slow_page_f, slow_floor = side_by_side(render, floor, max(3, repeat // 2))
    finally:
        stack.hopsworks.clear_faults()
    label = f"({jobs:,} jobs, {per_page}/page)"
    return [
        ratio(f"jobs page {label} vs raw Hopsworks request + empty plugin page", page_f, floor_t, 1.15,
              empty_page_median_s=empty_t.median),
        ratio(f"jobs page {label} vs raw Hopsworks request", page, baseline, 1.3, superseded=True,
              hopsworks_requests_per_page=per_page_requests),
        Result("jobs page: Hopsworks requests per rendered page", per_page_requests, "= 1", "",
               per_page_requests == 1),
        Result(f"jobs page {label}, Hopsworks answering in 50 ms, vs raw request + empty plugin page",
               round(slow_page_f.median / slow_floor.median, 3), "(report)", "x", None,
               {"ours_median_s": slow_page_f.median, "baseline_median_s": slow_floor.median}),
        Result(f"jobs page {label}, Hopsworks answering in 50 ms, vs raw request",
               round(slow_page.median / slow_baseline.median, 3), "(report)", "x", None,
               {"ours_median_s": slow_page.median, "baseline_median_s": slow_baseline.median}),
    ]
