"""Job browser pages on the real ``airflow api-server``: projects, jobs, a job, logs, launch and stop.

Every test logs in through Airflow's real login form and talks to the fake Hopsworks over HTTP.
"""

from __future__ import annotations

import html
import re
import time
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest

from hopsworks_ui_plugin.fake_hopsworks.state import Project
from tests.support import csrf_token, seed_key

SCRIPT_JOB = "<script>alert(1)</script>"
BULK_PROJECT_ID, BULK_PROJECT = 4119, "bulk_jobs"


@pytest.fixture(scope="module")
def sessions(user_sessions):
    return user_sessions


@pytest.fixture(scope="module")
def bulk_project(hopsworks):
    """A fresh project with 2,000 jobs; only the service user is in its team, so only admins see it."""
    state = hopsworks.state
    with state.lock:
        if BULK_PROJECT_ID not in state.projects:
            now = state.now()
            state.projects[BULK_PROJECT_ID] = Project(
                BULK_PROJECT_ID, BULK_PROJECT, "airflow", now, "2,000 jobs", {"airflow": ("Data owner", now)}
            )
            state.add_jobs(BULK_PROJECT_ID, 2000, prefix="job_")
    return BULK_PROJECT_ID


def jobs_requests(hw, project_id: int):
    return [r for r in hw.requests if r.path.endswith(f"/project/{project_id}/jobs")]


def assert_clean(page) -> None:
    """An error page a user can read: no traceback, no API key."""
    assert "Traceback" not in page.text
    for user in ("airflow", "alice"):
        key = seed_key(user)
        assert key not in page.text and key.split(".")[1] not in page.text


def execution_id_from_flash(text: str) -> int:
    match = re.search(r"execution (\d+) \(", html.unescape(text))
    assert match, "no launch flash message on the page"
    return int(match.group(1))


def wait_final(hw, execution_id: int, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        snapshot = hw.state.get_execution(execution_id)
        if snapshot["state"] in ("FINISHED", "FAILED", "KILLED"):
            return snapshot
        time.sleep(0.1)
    raise AssertionError(f"execution {execution_id} did not end within {timeout} s")


def launch(airflow_server, session, project_id: int, job: str, args: str = ""):
    """Open the job page (for its CSRF token), post the launch form, follow the redirect."""
    from urllib.parse import quote

    job_page = session.get(airflow_server.page(f"projects/{project_id}/jobs/{quote(job)}"))
    assert job_page.status_code == 200, job_page.text[:500]
    response = session.post(
        airflow_server.page(f"projects/{project_id}/launch/{quote(job)}"),
        data={"csrf_token": csrf_token(job_page.text), "args": args},
        allow_redirects=False,
    )
    assert response.status_code == 302, response.text[:500]
    return session.get(urljoin(response.url, response.headers["Location"]))


# ---------------------------------------------------------------------------------------- projects
def test_projects_page_lists_the_users_memberships_with_role_and_job_count(airflow_server, sessions, hw):
    page = sessions("alice").get(airflow_server.page("projects/"))
    assert page.status_code == 200, airflow_server.log_tail()
    rows = dict(re.findall(r'<tr data-project="([^"]+)">.*?data-testid="job-count">\s*(\d+)', page.text, re.S))
    assert rows == {"demo_fs": "5", "empty_proj": "0"}  # not analytics (carol's), not the bulk project
    assert "Data owner" in page.text
    assert 'href="/pluginsv2/hopsworks/projects/119/jobs"' in page.text
    count_calls = [r for r in hw.requests if r.path.endswith("/jobs")]
    assert len(count_calls) == 2  # one cheap count per project
    assert all(r.query["limit"] == ["1"] and "executions" not in str(r.query) for r in count_calls)


def test_admin_sees_every_project_and_a_non_member_sees_none(airflow_server, sessions):
    admin = sessions("admin").get(airflow_server.page("projects/"))
    assert admin.status_code == 200
    for name in ("demo_fs", "analytics", "empty_proj"):
        assert f'data-project="{name}"' in admin.text
    assert "not a member (admin)" in admin.text
    dave = sessions("dave").get(airflow_server.page("projects/"))
    assert dave.status_code == 200 and 'data-testid="no-projects"' in dave.text


# ---------------------------------------------------------------------------------------- jobs list
def test_jobs_page_shows_jobs_escaped_with_dag_snippets(airflow_server, sessions):
    page = sessions("alice").get(airflow_server.page("projects/119/jobs"))
    assert page.status_code == 200
    names = [html.unescape(n) for n in re.findall(r'<tr data-job="([^"]+)"', page.text)]
    assert names == sorted(["etl", "train", "broken", SCRIPT_JOB, "big_log"], key=str.lower)
    assert SCRIPT_JOB not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "/pluginsv2/hopsworks/projects/119/jobs/%3Cscript%3Ealert(1)%3C/script%3E" in page.text
    snippets = [html.unescape(s) for s in re.findall(r'hw-snippet" value="([^"]+)"', page.text)]
    assert 'HopsworksLaunchOperator(task_id="launch_etl", project_name="demo_fs", job_name="etl")' in snippets
    assert (
        'HopsworksLaunchOperator(task_id="launch_script_alert_1_script", project_name="demo_fs", '
        'job_name="<script>alert(1)</script>")' in snippets
    )
    assert "PYSPARK" in page.text and "alice" in page.text and "2023-11-02 09:00:00 UTC" in page.text


def test_a_2000_job_page_costs_one_hopsworks_request(airflow_server, sessions, hw, bulk_project):
    admin = sessions("admin")
    first = admin.get(airflow_server.page(f"projects/{bulk_project}/jobs"))
    assert first.status_code == 200, first.text[:500]
    assert "2000 jobs" in first.text and "Page 1 of 100" in first.text
    assert len(re.findall(r"<tr data-job=", first.text)) == 20
    cold = hw.requests
    assert len(jobs_requests(hw, bulk_project)) == 1
    others = [r.path for r in cold if not r.path.endswith(f"/project/{bulk_project}/jobs")]
    assert len(others) <= 1 and all(p.endswith(f"/project/{bulk_project}") for p in others), others

    hw.clear_requests()
    page = admin.get(airflow_server.page(f"projects/{bulk_project}/jobs?page=30&sort=name&order=desc&per_page=50"))
    assert page.status_code == 200
    assert len(hw.requests) == 1, [r.path for r in hw.requests]
    (call,) = jobs_requests(hw, bulk_project)
    assert call.query["offset"] == [str(29 * 50)] and call.query["limit"] == ["50"]
    assert call.query["sort_by"] == ["name:desc"]
    names = re.findall(r'<tr data-job="([^"]+)"', page.text)
    assert names[0] == f"job_{2000 - 29 * 50:04d}" and len(names) == 50 and "Page 30 of 40" in page.text


def test_filter_sort_and_paging_map_to_hopsworks_query(airflow_server, sessions, hw, bulk_project):
    admin = sessions("admin")
    admin.get(airflow_server.page(f"projects/{bulk_project}/jobs"))  # warm the membership cache
    hw.clear_requests()
    page = admin.get(airflow_server.page(f"projects/{bulk_project}/jobs?q=job_01&sort=created&order=asc&per_page=10"))
    assert page.status_code == 200
    (call,) = hw.requests
    assert call.query["filter_by"] == ["name:job_01"] and call.query["sort_by"] == ["date_created:asc"]
    assert "100 jobs matching" in page.text and "Page 1 of 10" in page.text
    next_link = html.unescape(re.search(r'rel="next" href="([^"]+)"', page.text).group(1))
    assert parse_qs(urlsplit(next_link).query) == {
        "page": ["2"], "per_page": ["10"], "sort": ["created"], "order": ["asc"], "q": ["job_01"]
    }
    header = html.unescape(re.search(r'href="([^"]+)"\s+data-sort="type"', page.text).group(1))
    assert parse_qs(urlsplit(header).query) == {"per_page": ["10"], "sort": ["type"], "q": ["job_01"]}


def test_sorting_by_a_column_reorders_the_jobs(airflow_server, sessions):
    page = sessions("alice").get(airflow_server.page("projects/119/jobs?sort=type&order=desc"))
    types = re.findall(r"<td><code>([A-Z]+)</code></td>", page.text)
    assert types == sorted(types, reverse=True) and types[0] == "SPARK"
    assert 'aria-sort="descending"' in page.text


@pytest.mark.parametrize(
    "query, message",
    [("page=abc", "Invalid page"), ("per_page=7", "Invalid per_page"), ("sort=password", "Cannot sort jobs by"),
     ("order=sideways", "Invalid order")],
)
def test_bad_query_parameters_get_a_400_page(airflow_server, sessions, query, message):
    page = sessions("alice").get(airflow_server.page(f"projects/119/jobs?{query}"))
    assert page.status_code == 400 and message in page.text
    assert_clean(page)


# ---------------------------------------------------------------------------------------- refusals
def test_unknown_project_and_job_are_404_pages_naming_them(airflow_server, sessions):
    alice = sessions("alice")
    page = alice.get(airflow_server.page("projects/999/jobs"))
    assert page.status_code == 404 and "There is no Hopsworks project with id 999" in page.text
    page = alice.get(airflow_server.page("projects/demo/jobs"))
    assert page.status_code == 404 and "There is no Hopsworks project with id &#39;demo&#39;" in page.text
    page = alice.get(airflow_server.page("projects/119/jobs/no_such_job"))
    assert page.status_code == 404 and "has no job named &#39;no_such_job&#39;" in page.text
    page = alice.get(airflow_server.page("projects/119/log/999999/etl"))
    assert page.status_code == 404 and "has no execution 999999" in page.text
    assert_clean(page)
    token = {"csrf_token": csrf_token(alice.get(airflow_server.page("projects/119/jobs/etl")).text)}
    page = alice.post(airflow_server.page("projects/119/stop/999999/etl"), data=token)
    assert page.status_code == 404 and "has no execution 999999" in page.text
    page = alice.post(airflow_server.page("projects/119/launch/nope"), data=token)
    assert page.status_code == 404 and "has no job named &#39;nope&#39;" in page.text


def test_non_members_get_403_pages_that_say_why(airflow_server, sessions):
    page = sessions("dave").get(airflow_server.page("projects/119/jobs"))
    assert page.status_code == 403 and "You (dave) are not a member of Hopsworks project &#39;demo_fs&#39;" in page.text
    page = sessions("alice").get(airflow_server.page("projects/120/jobs/report"))
    assert page.status_code == 403 and "not a member" in page.text


def test_a_launch_by_a_non_member_is_refused_and_nothing_is_started(airflow_server, sessions, hw):
    carol = sessions("carol")  # member of analytics only; takes a valid CSRF token from her own job page
    token = csrf_token(carol.get(airflow_server.page("projects/120/jobs/report")).text)
    hw.clear_requests()
    page = carol.post(airflow_server.page("projects/119/launch/etl"), data={"csrf_token": token, "args": "x"})
    assert page.status_code == 403 and "not a member" in page.text
    dave = sessions("dave")
    page = dave.post(airflow_server.page("projects/119/launch/etl"), data={"args": "x"})
    assert page.status_code == 400  # no CSRF token
    assert [r for r in hw.requests if r.method != "GET"] == []


# ---------------------------------------------------------------------------------------- job, launch, logs
def test_job_page_shows_configuration_links_and_the_launch_form(airflow_server, sessions):
    page = sessions("alice").get(airflow_server.page("projects/119/jobs/etl"))
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert "hdfs:///Projects/demo_fs/Resources/etl.py" in text
    assert "org.apache.spark.deploy.PythonRunner" in text and "<code>--date today</code>" in text
    assert "driver 2048 MB / 1 vCPU" in text
    assert "/p/119/jobs/named/etl" in text and "/p/119/jobs/named/etl/executions" in text
    assert 'data-testid="launch-form"' in page.text and 'name="csrf_token"' in page.text
    assert 'job_name="etl"' in text and seed_key("airflow") not in page.text


def test_an_admin_who_is_not_a_member_may_operate(airflow_server, sessions):
    page = sessions("admin").get(airflow_server.page("projects/120/jobs/report"))
    assert page.status_code == 200 and 'data-testid="launch-form"' in page.text


def test_an_oversized_argument_string_is_refused(airflow_server, sessions, hw):
    alice = sessions("alice")
    token = csrf_token(alice.get(airflow_server.page("projects/119/jobs/etl")).text)
    page = alice.post(airflow_server.page("projects/119/launch/etl"), data={"csrf_token": token, "args": "x" * 5000})
    assert page.status_code == 400 and "The launch form was not accepted" in page.text
    assert not [r for r in hw.requests if r.method == "POST"]


def test_the_script_job_page_shows_its_name_as_text(airflow_server, sessions):
    page = sessions("bob").get(airflow_server.page("projects/119/jobs/%3Cscript%3Ealert(1)%3C/script%3E"))
    assert page.status_code == 200
    assert SCRIPT_JOB not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


def test_launch_with_arguments_flashes_and_lists_the_new_execution_first(airflow_server, sessions, hw):
    alice = sessions("alice")
    page = launch(airflow_server, alice, 119, "etl", "--date 2024-01-01")
    assert "Launched &#39;etl&#39;: execution" in page.text
    execution_id = execution_id_from_flash(page.text)
    first_row = re.search(r'<tr data-execution="(\d+)">(.*?)</tr>', page.text, re.S)
    assert first_row and int(first_row.group(1)) == execution_id and "--date 2024-01-01" in first_row.group(2)
    (post,) = [r for r in hw.requests if r.method == "POST"]
    assert post.body == "--date 2024-01-01" and post.path.endswith("/project/119/jobs/etl/executions")

    assert wait_final(hw, execution_id)["state"] == "FINISHED"
    page = alice.get(airflow_server.page("projects/119/jobs/etl"))
    row = re.search(rf'<tr data-execution="{execution_id}">(.*?)</tr>', page.text, re.S).group(1)
    assert ">FINISHED<" in row and "SUCCEEDED" in row and "hw-badge-success" in row
    log = alice.get(airflow_server.page(f"projects/119/log/{execution_id}/etl"))
    assert log.status_code == 200
    assert "Arguments: --date 2024-01-01" in log.text and "ended with state FINISHED" in log.text


def test_default_arguments_are_used_when_the_field_is_empty(airflow_server, sessions, hw):
    page = launch(airflow_server, sessions("bob"), 119, "train", "")
    assert "the job&#39;s default arguments" in page.text
    (post,) = [r for r in hw.requests if r.method == "POST"]
    assert post.body == ""


def test_launching_the_script_job_keeps_its_name_escaped(airflow_server, sessions):
    page = launch(airflow_server, sessions("alice"), 119, SCRIPT_JOB, "<b>bold</b>")
    assert SCRIPT_JOB not in page.text and "<b>bold</b>" not in page.text
    assert "Launched &#39;&lt;script&gt;alert(1)&lt;/script&gt;&#39;" in page.text


def test_a_running_execution_can_be_stopped(airflow_server, sessions, hw):
    alice = sessions("alice")
    page = launch(airflow_server, alice, 119, "etl", "--duration 600")
    execution_id = execution_id_from_flash(page.text)
    assert 'data-testid="stop"' in page.text
    stop_url = re.search(rf'action="([^"]*/stop/{execution_id}/etl)"', page.text).group(1)
    response = alice.post(airflow_server.url + stop_url, data={"csrf_token": csrf_token(page.text)},
                          allow_redirects=False)
    assert response.status_code == 302
    page = alice.get(urljoin(response.url, response.headers["Location"]))
    assert f"Asked Hopsworks to stop execution {execution_id}" in page.text
    assert hw.state.get_execution(execution_id)["state"] == "KILLED"
    assert any(r.method == "PUT" and r.path.endswith(f"/executions/{execution_id}/status") for r in hw.requests)
    row = re.search(rf'<tr data-execution="{execution_id}">(.*?)</tr>', page.text, re.S).group(1)
    assert ">KILLED<" in row and "hw-badge-failed" in row and 'data-testid="stop"' not in row


def test_a_stop_without_csrf_token_is_rejected(airflow_server, sessions, hw):
    page = launch(airflow_server, sessions("alice"), 119, "etl", "--duration 600")
    execution_id = execution_id_from_flash(page.text)
    response = sessions("alice").post(airflow_server.page(f"projects/119/stop/{execution_id}/etl"))
    assert response.status_code == 400
    assert hw.state.get_execution(execution_id)["state"] != "KILLED"
    hw.state.stop_execution(hw.state.executions[execution_id])


def test_a_big_log_is_cut_with_a_note_and_stderr_of_a_failure_is_shown(airflow_server, sessions, hw):
    alice = sessions("alice")
    big = execution_id_from_flash(launch(airflow_server, alice, 119, "big_log").text)
    broken = execution_id_from_flash(launch(airflow_server, alice, 119, "broken").text)
    wait_final(hw, big), wait_final(hw, broken)
    page = alice.get(airflow_server.page(f"projects/119/log/{big}/big_log"))
    assert page.status_code == 200
    assert "Showing the last 256 KiB of 3.3 MiB." in page.text
    assert len(page.content) < 400 * 1024
    assert page.text.count("INFO big_log: this line is repeated") in range(3000, 4000)
    page = alice.get(airflow_server.page(f"projects/119/log/{broken}/broken"))
    assert 'data-testid="log-cut"' not in page.text
    assert "ValueError: input table is empty" in page.text and "hw-badge-failed" in page.text


def test_logs_of_a_running_execution_say_to_wait(airflow_server, sessions, hw):
    alice = sessions("alice")
    execution_id = execution_id_from_flash(launch(airflow_server, alice, 119, "train", "--duration 600").text)
    page = alice.get(airflow_server.page(f"projects/119/log/{execution_id}/train"))
    assert page.status_code == 200 and 'data-testid="not-final"' in page.text
    assert not [r for r in hw.requests if "/log/" in r.path]
    hw.state.stop_execution(hw.state.executions[execution_id])


def test_executions_are_paginated(airflow_server, sessions, hw, bulk_project):
    state = hw.state
    project = state.projects[bulk_project]
    job = project.jobs["job_0001"]
    with state.lock:
        while len(state.executions_for(job)) < 12:
            state.start_execution(state.users["airflow"], project, job, "--n")
    admin = sessions("admin")
    first = admin.get(airflow_server.page(f"projects/{bulk_project}/jobs/job_0001"))
    assert "Page 1 of 2" in first.text and len(re.findall(r"<tr data-execution=", first.text)) == 10
    second = admin.get(airflow_server.page(f"projects/{bulk_project}/jobs/job_0001?page=2"))
    assert len(re.findall(r"<tr data-execution=", second.text)) == 2 and "‹ Newer" in second.text


# ---------------------------------------------------------------------------------------- faults
def test_hopsworks_errors_render_a_banner_not_a_traceback(airflow_server, sessions, hw):
    alice = sessions("alice")
    alice.get(airflow_server.page("projects/119/jobs"))  # membership cached: only the jobs call fails
    hw.inject_fault(status=500, count=None, path_contains="/project/119/jobs")
    page = alice.get(airflow_server.page("projects/119/jobs"))
    assert page.status_code == 502 and "Could not list the project&#39;s jobs" in page.text
    assert "HTTP 500" in page.text and 'class="hw-error"' in page.text
    assert_clean(page)
    page = alice.get(airflow_server.page("projects/119/jobs/etl"))
    assert page.status_code == 502 and "Could not load the job" in page.text
    assert_clean(page)
    projects = alice.get(airflow_server.page("projects/"))
    assert projects.status_code == 200 and "unavailable" in projects.text
    hw.clear_faults()
    token = csrf_token(alice.get(airflow_server.page("projects/119/jobs/broken")).text)
    hw.inject_fault(status=503, count=None, path_contains="/executions")
    page = alice.post(airflow_server.page("projects/119/launch/etl"), data={"csrf_token": token})
    assert page.status_code == 502 and "Could not launch the job" in page.text
    assert_clean(page)


def test_a_slow_hopsworks_gives_a_504_page(airflow_server, sessions, hw):
    alice = sessions("alice")
    alice.get(airflow_server.page("projects/119/jobs"))
    hw.inject_fault(status=None, count=3, path_contains="/project/119/jobs", delay_s=5.5)
    started = time.monotonic()
    page = alice.get(airflow_server.page("projects/119/jobs"), timeout=60)
    assert page.status_code == 504, page.text[:300]
    assert "Hopsworks is not available" in page.text and "did not answer" in page.text
    assert_clean(page)
    assert time.monotonic() - started < 30


# ---------------------------------------------------------------------------------------- formatting
def test_display_helpers():
    from hopsworks_ui_plugin import formatting

    assert formatting.fmt_ts("2024-03-01T10:15:30.123Z") == "2024-03-01 10:15:30 UTC"
    assert formatting.fmt_ts(1709288130123) == "2024-03-01 10:15:30 UTC"  # epoch ms (newer Hopsworks)
    assert formatting.fmt_ts(None) == formatting.fmt_ts("garbage") == "—"
    assert [formatting.fmt_duration(ms) for ms in (0, 850, 4200, 185_000, 7_620_000, 97_200_000)] == [
        "—", "850 ms", "4.2 s", "3 min 05 s", "2 h 07 min", "1 d 3 h"
    ]
    log = "".join(f"line {i}\n" for i in range(1000))
    tail = formatting.cap_log(log, 100)
    assert tail.cut and tail.text.startswith("line ") and tail.text.endswith("line 999\n")
    assert tail.shown_bytes <= 100 and tail.note == f"Showing the last {tail.shown_bytes} B of 8.7 KiB."
    assert not formatting.cap_log("short", 100).cut
    assert formatting.cap_log("é" * 100, 51).text == "é" * 25  # never cuts a UTF-8 character in half
