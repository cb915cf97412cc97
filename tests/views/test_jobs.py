"""Job browser pages in-process (the real ``/pluginsv2`` app, JWT login): projects, jobs, a job, logs,
launch and stop, against the fake Hopsworks over HTTP."""

from __future__ import annotations

import html
import re
import time
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from tests.support import connection_json, ensure_bulk_project, seed_key

SCRIPT_JOB = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def bulk_project(hopsworks):
    return ensure_bulk_project(hopsworks)


def body(response) -> str:
    return response.get_data(as_text=True)


def jobs_requests(hw, project_id: int):
    return [r for r in hw.requests if r.path.endswith(f"/project/{project_id}/jobs")]


def assert_clean(response) -> None:
    """An error page a user can read: no traceback, no API key."""
    text = body(response)
    assert "Traceback" not in text
    for user in ("airflow", "airflow_ui", "alice"):
        key = seed_key(user)
        assert key not in text and key.split(".")[1] not in text


def execution_id_from_flash(text: str) -> int:
    match = re.search(r"execution (\d+) \(", html.unescape(text))
    assert match, "no launch flash message on the page"
    return int(match.group(1))


def wait_state(hw, execution_id: int, wanted: tuple[str, ...], timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        snapshot = hw.state.get_execution(execution_id)
        if snapshot["state"] in wanted:
            return snapshot
        time.sleep(0.1)
    raise AssertionError(f"execution {execution_id} did not reach {wanted} within {timeout} s")


def wait_final(hw, execution_id: int, timeout: float = 30) -> dict:
    return wait_state(hw, execution_id, ("FINISHED", "FAILED", "KILLED"), timeout)


def launch(user, project_id: int, job: str, args: str = "") -> str:
    """Open the job page (for its CSRF token), post the launch form, follow the redirect."""
    token = user.csrf(f"projects/{project_id}/jobs/{quote(job)}")
    response = user.post(f"projects/{project_id}/launch/{quote(job)}", data={"csrf_token": token, "args": args})
    assert response.status_code == 302, body(response)[:500]
    page = user.get(response.headers["Location"])
    assert page.status_code == 200
    return body(page)


# ---------------------------------------------------------------------------------------- projects
def test_projects_page_lists_the_users_memberships_with_role_and_no_request_per_project(web, hw):
    page = web("alice").get("projects/")
    assert page.status_code == 200
    rows = re.findall(r'<tr data-project="([^"]+)">', body(page))
    assert sorted(rows) == ["demo_fs", "empty_proj"]  # not analytics (carol's), not the bulk project
    assert "Data owner" in body(page)
    assert 'href="/hopsworks/projects/119/jobs"' in body(page)
    assert 'data-count-url="/hopsworks/projects/119/job-count"' in body(page)
    assert [r for r in hw.requests if r.path.endswith("/jobs")] == []  # counts come later, row by row


def test_job_count_answers_json_with_one_cheap_request(web, hw):
    alice = web("alice")
    got = alice.get("projects/119/job-count", headers={"Accept": "application/json"})
    assert got.status_code == 200 and got.get_json() == {"project_id": 119, "jobs": len(hw.state.projects[119].jobs)}
    count_calls = [r for r in hw.requests if r.path.endswith("/jobs")]
    assert len(count_calls) == 1
    assert count_calls[0].query["limit"] == ["1"] and "executions" not in str(count_calls[0].query)
    empty = alice.get("projects/{}/job-count".format(_project_id(hw, "empty_proj")),
                      headers={"Accept": "application/json"})
    assert empty.get_json()["jobs"] == 0
    carols = alice.get("projects/{}/job-count".format(_project_id(hw, "analytics")),
                       headers={"Accept": "application/json"})
    assert carols.status_code == 403 and "not a member" in carols.get_json()["message"]


def _project_id(hw, name: str) -> int:
    return next(p.id for p in hw.state.projects.values() if p.name == name)


def _hopsworks_calls(hw) -> list[str]:
    return [r.path.split("/hopsworks-api/api", 1)[-1] for r in hw.requests]


def test_projects_page_with_200_projects_makes_no_request_per_project(web, hw):
    """The page's Hopsworks requests do not grow with the number of projects: with the user's own key
    exactly one (GET /project); with the shared connection the team lookups are made once per
    membership TTL (a warm page asks nothing), and never a job count."""
    from hopsworks_ui_plugin import access, user_keys
    from hopsworks_ui_plugin.hooks.hopsworks import forget_user_hook

    ids = hw.state.add_projects(200, first_id=60001, prefix="many_", members={"alice": "Data scientist"})
    try:
        alice = web("alice")
        cold = alice.get("projects/")
        assert cold.status_code == 200 and body(cold).count('<tr data-project="many_') == 200
        assert not [p for p in _hopsworks_calls(hw) if p.endswith("/jobs")]
        hw.clear_requests()
        warm = alice.get("projects/")
        assert warm.status_code == 200 and body(warm).count('<tr data-project="many_') == 200
        assert _hopsworks_calls(hw) == []

        user_keys.save("alice", seed_key("alice"), hopsworks_user="alice", platform_role="HOPS_USER",
                       role_certain=True)
        try:
            forget_user_hook("alice")
            access.MEMBERSHIPS.clear()
            hw.clear_requests()
            own = alice.get("projects/")
            assert own.status_code == 200 and body(own).count('<tr data-project="many_') == 200
            calls = [r.method + " " + p for r, p in zip(hw.requests, _hopsworks_calls(hw), strict=True)]
            assert calls == ["GET /project"]
        finally:
            user_keys.remove("alice")
            forget_user_hook("alice")
    finally:
        hw.state.remove_projects(ids)
        access.MEMBERSHIPS.clear()


def test_admin_sees_every_project_and_a_non_member_sees_none(web):
    admin = web("admin").get("projects/")
    assert admin.status_code == 200
    for name in ("demo_fs", "analytics", "empty_proj"):
        assert f'data-project="{name}"' in body(admin)
    assert "not a member (admin)" in body(admin)
    dave = web("dave").get("projects/")
    assert dave.status_code == 200 and 'data-testid="no-projects"' in body(dave)


def test_anonymous_visitors_go_to_the_login_page(web):
    page = web(None).get("projects/119/jobs")
    assert page.status_code == 302 and "/auth/login/" in page.headers["Location"]


# ---------------------------------------------------------------------------------------- jobs list
def test_jobs_page_shows_jobs_escaped_with_dag_snippets(web):
    page = body(web("alice").get("projects/119/jobs"))
    names = [html.unescape(n) for n in re.findall(r'<tr data-job="([^"]+)"', page)]
    assert names == sorted(["etl", "train", "broken", SCRIPT_JOB, "big_log"], key=str.lower)
    assert SCRIPT_JOB not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'href="/hopsworks/projects/119/jobs/%3Cscript%3Ealert(1)%3C/script%3E"' in page
    assert 'href="/hopsworks/projects/119/jobs/etl"' in page
    snippets = [html.unescape(s) for s in re.findall(r'data-testid="snippet">([^<]+)</textarea>', page)]
    imports = "from hopsworks_ui_plugin.operators.hopsworks import HopsworksLaunchOperator\n\n"
    assert imports + 'HopsworksLaunchOperator(task_id="launch_etl", project_name="demo_fs", job_name="etl")' in snippets
    assert (
        imports + 'HopsworksLaunchOperator(task_id="launch_script_alert_1_script", project_name="demo_fs", '
        'job_name="<script>alert(1)</script>")' in snippets
    )
    assert "PYSPARK" in page and "alice" in page and "2023-11-02 09:00:00 UTC" in page


def test_a_2000_job_page_costs_one_hopsworks_request(web, hw, bulk_project):
    admin = web("admin")
    first = admin.get(f"projects/{bulk_project}/jobs")
    assert first.status_code == 200, body(first)[:500]
    assert "2000 jobs" in body(first) and "Page 1 of 100" in body(first)
    assert len(re.findall(r"<tr data-job=", body(first))) == 20
    assert len(jobs_requests(hw, bulk_project)) == 1
    others = [r.path for r in hw.requests if not r.path.endswith(f"/project/{bulk_project}/jobs")]
    assert len(others) == 1 and others[0].endswith(f"/project/{bulk_project}"), others  # the team lookup

    hw.clear_requests()
    page = admin.get(f"projects/{bulk_project}/jobs?page=30&sort=name&order=desc&per_page=50")
    assert page.status_code == 200
    assert len(hw.requests) == 1, [r.path for r in hw.requests]
    (call,) = jobs_requests(hw, bulk_project)
    assert call.query["offset"] == [str(29 * 50)] and call.query["limit"] == ["50"]
    assert call.query["sort_by"] == ["name:desc"]
    names = re.findall(r'<tr data-job="([^"]+)"', body(page))
    assert names[0] == f"job_{2000 - 29 * 50:04d}" and len(names) == 50 and "Page 30 of 40" in body(page)


def test_filter_sort_and_paging_map_to_hopsworks_query(web, hw, bulk_project):
    admin = web("admin")
    admin.get(f"projects/{bulk_project}/jobs")  # warm the membership cache
    hw.clear_requests()
    page = admin.get(f"projects/{bulk_project}/jobs?q=job_01&sort=created&order=asc&per_page=10")
    assert page.status_code == 200
    (call,) = hw.requests
    assert call.query["filter_by"] == ["name:job_01"] and call.query["sort_by"] == ["date_created:asc"]
    text = body(page)
    assert "100 jobs matching" in text and "Page 1 of 10" in text
    next_link = html.unescape(re.search(r'rel="next" href="([^"]+)"', text).group(1))
    assert urlsplit(next_link).path == f"/hopsworks/projects/{bulk_project}/jobs"
    assert parse_qs(urlsplit(next_link).query) == {
        "page": ["2"], "per_page": ["10"], "sort": ["created"], "order": ["asc"], "q": ["job_01"]
    }
    header = html.unescape(re.search(r'href="([^"]+)" data-sort="type"', text).group(1))
    assert parse_qs(urlsplit(header).query) == {"per_page": ["10"], "sort": ["type"], "q": ["job_01"]}
    last = html.unescape(re.search(r'href="([^"]+)">Last »', text).group(1))
    assert parse_qs(urlsplit(last).query)["page"] == ["10"]


def test_sorting_by_a_column_reorders_the_jobs(web):
    page = body(web("alice").get("projects/119/jobs?sort=type&order=desc"))
    types = re.findall(r"<td><code>([A-Z]+)</code></td>", page)
    assert types == sorted(types, reverse=True) and types[0] == "SPARK"
    assert 'aria-sort="descending"' in page


def test_a_page_past_the_end_links_to_the_last_page(web):
    page = body(web("alice").get("projects/119/jobs?page=3&per_page=10"))
    assert "Page 3 is past the last page (1)." in page
    assert '<a href="/hopsworks/projects/119/jobs?per_page=10">Go to the last page</a>' in page


@pytest.mark.parametrize(
    "query, message",
    [("page=abc", "Invalid page"), ("per_page=7", "Invalid per_page"), ("sort=password", "Cannot sort jobs by"),
     ("order=sideways", "Invalid order"), ("q=" + "x" * 201, "limited to 200 characters")],
)
def test_bad_query_parameters_get_a_400_page(web, query, message):
    page = web("alice").get(f"projects/119/jobs?{query}")
    assert page.status_code == 400 and message in body(page)
    assert_clean(page)


# ---------------------------------------------------------------------------------------- refusals
def test_unknown_project_and_job_are_404_pages_naming_them(web):
    alice = web("alice")
    page = alice.get("projects/999/jobs")
    assert page.status_code == 404 and "There is no Hopsworks project with id 999" in body(page)
    assert 'href="/hopsworks/projects/">Back' in body(page)
    page = alice.get("projects/demo/jobs")
    assert page.status_code == 404 and "There is no Hopsworks project with id &#39;demo&#39;" in body(page)
    page = alice.get("projects/119/jobs/no_such_job")
    assert page.status_code == 404 and "has no job named &#39;no_such_job&#39;" in body(page)
    page = alice.get("projects/119/log/999999/etl")
    assert page.status_code == 404 and "has no execution 999999" in body(page)
    assert_clean(page)
    token = {"csrf_token": alice.csrf("projects/119/jobs/etl")}
    page = alice.post("projects/119/stop/999999/etl", data=token)
    assert page.status_code == 404 and "has no execution 999999" in body(page)
    page = alice.post("projects/119/launch/nope", data=token)
    assert page.status_code == 404 and "has no job named &#39;nope&#39;" in body(page)


def test_non_members_get_403_pages_that_say_why(web):
    page = web("dave").get("projects/119/jobs")
    assert page.status_code == 403
    assert "You (dave) are not a member of Hopsworks project &#39;demo_fs&#39;" in body(page)
    page = web("alice").get("projects/120/jobs/report")
    assert page.status_code == 403 and "not a member" in body(page)


def test_errors_answer_json_to_api_callers(web):
    page = web("dave").get("projects/119/jobs", headers={"Accept": "application/json"})
    assert page.status_code == 403 and page.get_json()["status"] == 403
    assert "not a member" in page.get_json()["message"]


def test_a_launch_by_a_non_member_is_refused_and_nothing_is_started(web, hw):
    carol = web("carol")  # member of analytics only; takes a valid CSRF token from her own job page
    token = carol.csrf("projects/120/jobs/report")
    hw.clear_requests()
    page = carol.post("projects/119/launch/etl", data={"csrf_token": token, "args": "x"})
    assert page.status_code == 403 and "not a member" in body(page)
    page = web("dave").post("projects/119/launch/etl", data={"args": "x"})
    assert page.status_code == 400  # no CSRF token
    assert [r for r in hw.requests if r.method != "GET"] == []


# ---------------------------------------------------------------------------------------- job, launch, logs
def test_job_page_shows_configuration_links_and_the_launch_form(web):
    page = body(web("alice").get("projects/119/jobs/etl"))
    text = html.unescape(page)
    assert "hdfs:///Projects/demo_fs/Resources/etl.py" in text
    assert "org.apache.spark.deploy.PythonRunner" in text and "<code>--date today</code>" in text
    assert "driver 2048 MB / 1 vCPU" in text
    assert "/p/119/jobs/named/etl" in text and "/p/119/jobs/named/etl/executions" in text
    assert 'data-testid="launch-form"' in page and 'name="csrf_token"' in page
    assert 'job_name="etl"' in text and seed_key("airflow_ui") not in page


def test_an_admin_who_is_not_a_member_may_operate(web):
    page = web("admin").get("projects/120/jobs/report")
    assert page.status_code == 200 and 'data-testid="launch-form"' in body(page)


def test_an_oversized_argument_string_is_refused(web, hw):
    alice = web("alice")
    token = alice.csrf("projects/119/jobs/etl")
    page = alice.post("projects/119/launch/etl", data={"csrf_token": token, "args": "x" * 5000})
    assert page.status_code == 400 and "The launch form was not accepted" in body(page)
    assert not [r for r in hw.requests if r.method == "POST"]


def test_the_script_job_page_shows_its_name_as_text(web):
    page = web("bob").get("projects/119/jobs/%3Cscript%3Ealert(1)%3C/script%3E")
    assert page.status_code == 200
    assert SCRIPT_JOB not in body(page) and "&lt;script&gt;alert(1)&lt;/script&gt;" in body(page)


def test_launch_with_arguments_flashes_and_lists_the_new_execution_first(web, hw):
    alice = web("alice")
    page = launch(alice, 119, "etl", "--date 2024-01-01")
    assert "Launched &#39;etl&#39;: execution" in page
    execution_id = execution_id_from_flash(page)
    first_row = re.search(r'<tr data-execution="(\d+)"[^>]*>(.*?)</tr>', page, re.S)
    assert first_row and int(first_row.group(1)) == execution_id and "--date 2024-01-01" in first_row.group(2)
    (post,) = [r for r in hw.requests if r.method == "POST"]
    assert post.body == "--date 2024-01-01" and post.path.endswith("/project/119/jobs/etl/executions")

    assert wait_final(hw, execution_id)["state"] == "FINISHED"
    page = body(alice.get("projects/119/jobs/etl"))
    row = re.search(rf'<tr data-execution="{execution_id}"[^>]*>(.*?)</tr>', page, re.S).group(1)
    assert ">FINISHED<" in row and "SUCCEEDED" in row and "hw-badge-success" in row
    log = alice.get(f"projects/119/log/{execution_id}/etl")
    assert log.status_code == 200
    assert "Arguments: --date 2024-01-01" in body(log) and "ended with state FINISHED" in body(log)


def test_default_arguments_are_used_when_the_field_is_empty(web, hw):
    page = launch(web("bob"), 119, "train", "")
    assert "the job&#39;s default arguments" in page
    (post,) = [r for r in hw.requests if r.method == "POST"]
    assert post.body == ""


def test_launching_the_script_job_keeps_its_name_escaped(web):
    page = launch(web("alice"), 119, SCRIPT_JOB, "<b>bold</b>")
    assert SCRIPT_JOB not in page and "<b>bold</b>" not in page
    assert "Launched &#39;&lt;script&gt;alert(1)&lt;/script&gt;&#39;" in page


def test_a_running_execution_can_be_stopped(web, hw):
    alice = web("alice")
    page = launch(alice, 119, "etl", "--duration 60")  # RUNNING from 1.2 s to 5.4 s in the 10x fake
    execution_id = execution_id_from_flash(page)
    assert 'data-testid="stop"' in page
    wait_state(hw, execution_id, ("RUNNING",))  # Hopsworks ignores a stop before the job has an application id
    stop_url = re.search(rf'action="([^"]*/stop/{execution_id}/etl)"', page).group(1)
    response = alice.post(stop_url, data={"csrf_token": alice.csrf("projects/119/jobs/etl")})
    assert response.status_code == 302
    page = body(alice.get(response.headers["Location"]))
    assert f"Asked Hopsworks to stop execution {execution_id}" in page
    assert any(r.method == "PUT" and r.path.endswith(f"/executions/{execution_id}/status") for r in hw.requests)
    assert wait_final(hw, execution_id)["state"] == "KILLED"  # Hopsworks stops it a moment later
    page = body(alice.get("projects/119/jobs/etl"))
    row = re.search(rf'<tr data-execution="{execution_id}"[^>]*>(.*?)</tr>', page, re.S).group(1)
    assert ">KILLED<" in row and "hw-badge-failed" in row and 'data-testid="stop"' not in row
    response = alice.post(stop_url, data={"csrf_token": alice.csrf("projects/119/jobs/etl")})
    assert f"Execution {execution_id} had already ended (KILLED)." in body(alice.get(response.headers["Location"]))


def test_a_stop_without_csrf_token_is_rejected(web, hw):
    alice = web("alice")
    execution_id = execution_id_from_flash(launch(alice, 119, "etl", "--duration 600"))
    response = alice.post(f"projects/119/stop/{execution_id}/etl")
    assert response.status_code == 400
    assert hw.state.get_execution(execution_id)["state"] != "KILLED"
    hw.state.stop_execution(hw.state.executions[execution_id])


@pytest.fixture()
def mid_size_log(hw):
    """big_log writes about 600 KB: over the page's 256 KiB cap, under the 1 MB Hopsworks still serves."""
    job = hw.state.projects[119].jobs["big_log"]
    repeat = job.stdout_repeat
    job.stdout_repeat = 8500
    yield len(job.stdout) + 1
    job.stdout_repeat = repeat


def test_a_big_log_is_cut_with_a_note_and_stderr_of_a_failure_is_shown(web, hw, mid_size_log):
    alice = web("alice")
    big = execution_id_from_flash(launch(alice, 119, "big_log"))
    broken = execution_id_from_flash(launch(alice, 119, "broken"))
    wait_final(hw, big), wait_final(hw, broken)
    page = alice.get(f"projects/119/log/{big}/big_log")
    assert page.status_code == 200
    assert "Showing the last 256 KiB of 572.8 KiB." in body(page) and 'data-testid="log-cut"' in body(page)
    assert len(page.get_data()) < 400 * 1024
    assert body(page).count("INFO big_log: this line is repeated") == 256 * 1024 // mid_size_log
    page = body(alice.get(f"projects/119/log/{broken}/broken"))
    assert 'data-testid="log-cut"' not in page
    assert "ValueError: input table is empty" in page and "hw-badge-failed" in page


def test_logs_of_a_running_execution_say_to_wait(web, hw):
    alice = web("alice")
    execution_id = execution_id_from_flash(launch(alice, 119, "train", "--duration 600"))
    page = alice.get(f"projects/119/log/{execution_id}/train")
    assert page.status_code == 200 and 'data-testid="not-final"' in body(page)
    assert not [r for r in hw.requests if "/log/" in r.path]
    hw.state.stop_execution(hw.state.executions[execution_id])


def test_executions_are_paginated(web, hw, bulk_project):
    state = hw.state
    project = state.projects[bulk_project]
    job = project.jobs["job_0001"]
    with state.lock:
        while len(state.executions_for(job)) < 12:
            state.start_execution(state.users["airflow"], project, job, "--n")
    admin = web("admin")
    first = body(admin.get(f"projects/{bulk_project}/jobs/job_0001"))
    assert "Page 1 of 2" in first and len(re.findall(r"<tr data-execution=", first)) == 10
    assert f'rel="next" href="/hopsworks/projects/{bulk_project}/jobs/job_0001?page=2"' in first
    second = body(admin.get(f"projects/{bulk_project}/jobs/job_0001?page=2"))
    assert len(re.findall(r"<tr data-execution=", second)) == 2 and "‹ Newer" in second
    assert f'href="/hopsworks/projects/{bulk_project}/jobs/job_0001?page=2" data-testid="refresh"' in second


# ---------------------------------------------------------------------------------------- faults
def test_hopsworks_errors_render_a_banner_not_a_traceback(web, hw):
    alice = web("alice")
    alice.get("projects/119/jobs")  # membership cached: only the jobs call fails
    hw.inject_fault(status=500, count=None, path_contains="/project/119/jobs")
    page = alice.get("projects/119/jobs")
    assert page.status_code == 502 and "Could not list the project&#39;s jobs" in body(page)
    assert "HTTP 500" in body(page) and 'class="hw-error"' in body(page)
    assert_clean(page)
    page = alice.get("projects/119/jobs/etl")
    assert page.status_code == 502 and "Could not load the job" in body(page)
    assert_clean(page)
    projects = alice.get("projects/")
    assert projects.status_code == 200 and "unavailable" in body(projects)
    hw.clear_faults()
    token = alice.csrf("projects/119/jobs/broken")
    hw.inject_fault(status=503, count=None, path_contains="/executions")
    page = alice.post("projects/119/launch/etl", data={"csrf_token": token})
    assert page.status_code == 502 and "Could not launch the job" in body(page)
    assert_clean(page)


def test_a_slow_hopsworks_gives_a_504_page(web, hw, monkeypatch):
    # The pages' connection of this test times out after 1 s (the session's: 5 s, times 3 tries).
    monkeypatch.setenv("AIRFLOW__HOPSWORKS__CONN_ID", "hopsworks_ui_1s")
    monkeypatch.setenv("AIRFLOW_CONN_HOPSWORKS_UI_1S", connection_json(hw.url, seed_key("airflow_ui"), timeout=1))
    alice = web("alice")
    alice.get("projects/119/jobs")
    hw.inject_fault(status=None, count=3, path_contains="/project/119/jobs", delay_s=1.5)
    started = time.monotonic()
    page = alice.get("projects/119/jobs")
    assert page.status_code == 504, body(page)[:300]
    assert "Hopsworks did not answer in time" in body(page) and "did not answer GET" in body(page)
    assert_clean(page)
    assert time.monotonic() - started < 6


# ---------------------------------------------------------------------------------------- stop until final, big logs
def test_a_stop_before_the_appid_shows_stopping_and_is_asked_again_until_killed(web, hw):
    """Hopsworks ignores a stop before the execution has an appId: the page says "stopping…" (no Stop
    button) and asks again on the next view, until Hopsworks reports the execution ended."""
    alice = web("alice")
    page = launch(alice, 119, "etl", "--duration 100")  # INITIALIZING (no appId) for 1 s here
    execution_id = execution_id_from_flash(page)
    stop_url = re.search(rf'action="([^"]*/stop/{execution_id}/etl)"', page).group(1)
    response = alice.post(stop_url, data={"csrf_token": alice.csrf("projects/119/jobs/etl")})
    assert hw.state.get_execution(execution_id)["appId"] is None  # the stop came too early: ignored
    page = body(alice.get(response.headers["Location"]))
    row = re.search(rf'<tr data-execution="{execution_id}"[^>]*>(.*?)</tr>', page, re.S).group(1)
    assert 'data-testid="stopping"' in row and "stopping…" in row and 'data-testid="stop"' not in row
    wait_state(hw, execution_id, ("SUBMITTED", "RUNNING"))  # now it has an appId
    alice.get("projects/119/jobs/etl")  # the view asks again
    assert wait_final(hw, execution_id, timeout=10)["state"] == "KILLED"
    row = re.search(rf'<tr data-execution="{execution_id}"[^>]*>(.*?)</tr>',
                    body(alice.get("projects/119/jobs/etl")), re.S).group(1)
    assert ">KILLED<" in row and "stopping…" not in row


def test_a_log_too_big_for_hopsworks_says_so_and_where_to_download_it(web, hw):
    """big_log writes about 3 MB; Hopsworks only serves logs over 1,000,000 bytes as a file."""
    alice = web("alice")
    execution_id = execution_id_from_flash(launch(alice, 119, "big_log"))
    wait_final(hw, execution_id)
    page = alice.get(f"projects/119/log/{execution_id}/big_log")
    assert page.status_code == 200
    text = body(page)
    notice = re.search(r'data-testid="log-too-big">(.*?)</p>', text, re.S).group(1)
    assert "over 1,000,000 bytes" in notice and "download" in notice
    app_id = hw.state.get_execution(execution_id)["appId"]
    assert f"/Projects/demo_fs/Logs/Python/{app_id}/stdout.log" in notice
    assert f'href="{hw.url}/p/119/jobs/named/big_log/executions"' in notice
    assert "Click on the download button" not in text


def test_the_job_page_lists_the_newest_executions_first(web, hw):
    """Hopsworks lists executions oldest first unless asked: with more than a page of them, the first
    page must hold the newest ten, newest first."""
    (job,) = hw.state.add_jobs(119, 1, prefix=f"many_runs_{time.monotonic_ns()}_", type="PYTHON", creator="alice")
    alice = web("alice")
    for _ in range(12):
        token = alice.csrf(f"projects/119/jobs/{job}")
        assert alice.post(f"projects/119/launch/{job}", data={"csrf_token": token, "args": ""}).status_code == 302
    page = alice.get(f"projects/119/jobs/{job}").get_data(as_text=True)
    shown = [int(i) for i in re.findall(r'<tr data-execution="(\d+)"', page)]
    assert len(shown) == 10 and shown == sorted(shown, reverse=True)
