"""The projects page with many projects: Hopsworks requests per page (cold and warm, shared connection
and a user's own key) and its time next to the empty plugin page.

Runs before any other page of the stack has listed projects, so the api-server's membership cache is
cold; afterwards the projects are taken out of the fake again and the bench waits one membership TTL,
so the benchmarks after it see the usual handful of projects.
"""

from __future__ import annotations

import re
import time

from bench.common import Result, side_by_side
from bench.jobs_page import empty_page
from bench.stack import WebStack
from hopsworks_ui_plugin.fake_hopsworks import load_seed

FIRST_ID = 70001


def _seed_key(username: str) -> str:
    """A seed user's own API key with scopes JOB and PROJECT (what My Hopsworks key stores)."""
    return next(str(k["key"]) for k in load_seed("test")["api_keys"]
                if k["username"] == username and {"JOB", "PROJECT"} <= set(k.get("scopes", [])))


def _calls(stack: WebStack) -> list[str]:
    return [f"{r.method} {r.path.split('/hopsworks-api/api', 1)[-1]}" for r in stack.hopsworks.requests]


def run(stack: WebStack, repeat: int, n: int, ttl_s: float) -> list[Result]:
    hw = stack.hopsworks
    ids = hw.state.add_projects(n, FIRST_ID, prefix="many_", members={"alice": "Data scientist",
                                                                        "bob": "Data scientist"}, jobs=3)
    try:
        alice, bob = stack.login("alice"), stack.login("bob")
        url = f"{stack.url}/pluginsv2/hopsworks/projects/"

        def render(session=alice) -> str:  # type: ignore[no-untyped-def]
            response = session.get(url, timeout=120)
            assert response.status_code == 200, response.status_code
            listed = len(re.findall(r'<tr data-project="many_', response.text))
            assert listed == n, f"{listed} of {n} projects listed"
            return response.text

        hw.clear_requests()
        render()
        cold = _calls(stack)
        hw.clear_requests()
        render()
        warm = _calls(stack)
        page, empty = side_by_side(render, empty_page(stack, alice), repeat)

        # Bob stores his own Hopsworks key (My Hopsworks key): Hopsworks answers for him, in one request.
        own = _own_key_calls(stack, bob, _seed_key("bob"), render)
        # One project's count, as the page fetches it for each row on screen:
        hw.clear_requests()
        count = alice.get(f"{url}{ids[0]}/job-count", headers={"Accept": "application/json"}, timeout=60)
        assert count.status_code == 200 and count.json()["jobs"] == 3, count.text[:200]
        count_calls = _calls(stack)
    finally:
        hw.state.remove_projects(ids)
    time.sleep(ttl_s + 0.5)  # let the api-server's membership cache forget the removed projects
    per_project = len([c for c in cold if re.search(r"/project/\d+$", c)])
    results = [
        Result(f"projects page ({n} projects): Hopsworks job-count requests per page (was {n})",
               len([c for c in cold + warm if c.endswith("/jobs")]), "= 0", "",
               not [c for c in cold + warm if c.endswith("/jobs")], {"cold": cold[:5], "cold_total": len(cold)}),
        Result(f"projects page ({n} projects), shared connection, warm: Hopsworks requests", len(warm), "= 0", "",
               len(warm) == 0, {"calls": warm}),
        Result(f"projects page ({n} projects), shared connection, cold: Hopsworks requests (1 + team lookups, "
               f"once per membership TTL)", len(cold), "(report)", "", None, {"team_lookups": per_project}),
        Result(f"projects page ({n} projects) vs empty plugin page", round(page.median / empty.median, 3),
               "(report)", "x", None,
               {"ours_median_s": page.median, "baseline_median_s": empty.median}),
        Result("projects page: one row's job count (JSON): Hopsworks requests", len(count_calls), "= 1", "",
               len(count_calls) == 1, {"calls": count_calls}),
    ]
    results.insert(0, Result(f"projects page ({n} projects), user's own key: Hopsworks requests", len(own),
                             "= 1", "", own == ["GET /project"], {"calls": own}))
    return results


def _own_key_calls(stack: WebStack, session, key: str, render) -> list[str]:  # type: ignore[no-untyped-def]
    base = f"{stack.url}/pluginsv2/hopsworks/my-key/"
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', session.get(base, timeout=60).text)
    assert token, "no key form"
    saved = session.post(f"{base}save", data={"api_key": key, "csrf_token": token.group(1)}, timeout=60,
                         allow_redirects=False)
    assert saved.status_code in (302, 303), saved.status_code
    try:
        stack.hopsworks.clear_requests()
        render(session)
        return _calls(stack)
    finally:
        session.post(f"{base}delete", data={"csrf_token": token.group(1)}, timeout=60, allow_redirects=False)
