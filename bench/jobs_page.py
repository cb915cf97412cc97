"""Jobs page of a 2,000-job project: one rendered page vs the one raw Hopsworks request behind it."""

from __future__ import annotations

import requests

from bench.common import Result, ratio, side_by_side
from bench.stack import WebStack


def run(stack: WebStack, repeat: int, jobs: int, per_page: int = 50) -> list[Result]:
    alice = stack.login("alice")
    page_url = f"{stack.url}/pluginsv2/hopsworks/projects/121/jobs"
    params = {"page": 2, "per_page": per_page, "sort": "name", "order": "asc"}
    raw = requests.Session()
    raw.headers["Authorization"] = f"ApiKey {stack.pages_key}"
    raw_url = f"{stack.hopsworks.api_url}/project/121/jobs"
    raw_params = [("offset", str(per_page)), ("limit", str(per_page)), ("sort_by", "name:asc"),
                  ("expand", "creator"), ("expand", "executions(offset=0;limit=1;sort_by=id:desc)")]

    def render() -> None:
        response = alice.get(page_url, params=params, timeout=60)
        assert response.status_code == 200 and "job_" in response.text, response.status_code

    def direct() -> None:
        response = raw.get(raw_url, params=raw_params, timeout=60)
        assert response.status_code == 200
        response.json()

    render()  # warm the membership cache
    stack.hopsworks.clear_requests()
    render()
    per_page_requests = len(stack.hopsworks.requests)
    page, baseline = side_by_side(render, direct, repeat)
    # The fake answers in a few milliseconds; a real Hopsworks computing a page of 2,000 jobs with their
    # latest executions takes tens of milliseconds. The same comparison with 50 ms added to each answer:
    stack.hopsworks.inject_fault(status=None, count=None, delay_s=0.05, path_contains="/jobs")
    try:
        slow_page, slow_baseline = side_by_side(render, direct, max(3, repeat // 2))
    finally:
        stack.hopsworks.clear_faults()
    return [
        ratio(f"jobs page ({jobs:,} jobs, {per_page}/page) vs raw Hopsworks request", page, baseline, 1.3,
              hopsworks_requests_per_page=per_page_requests),
        Result("jobs page: Hopsworks requests per rendered page", per_page_requests, "= 1", "",
               per_page_requests == 1),
        Result(f"jobs page vs raw request, Hopsworks answering in 50 ms ({jobs:,} jobs)",
               round(slow_page.median / slow_baseline.median, 3), "(report)", "x", None,
               {"ours_median_s": slow_page.median, "baseline_median_s": slow_baseline.median}),
    ]
