"""The JSON endpoints the live pages poll (issue 13): a job's executions, a project's jobs and the DAG
files' parse status, in-process against the fake Hopsworks; the pages carry the polling hook only while
something is not final."""

from __future__ import annotations

import html
import re
import time
from urllib.parse import quote

JOB = "etl"
PID = 119


def launch(user, job: str, args: str) -> int:
    token = user.csrf(f"projects/{PID}/jobs/{quote(job)}")
    response = user.post(f"projects/{PID}/launch/{quote(job)}", data={"csrf_token": token, "args": args})
    assert response.status_code == 302
    page = user.get(response.headers["Location"]).get_data(as_text=True)
    match = re.search(r"execution (\d+) \(", html.unescape(page))
    assert match, "no launch message"
    return int(match.group(1))


def executions_json(user, job: str = JOB, **params):
    return user.get(f"projects/{PID}/executions.json/{job}", query_string=params,
                    headers={"Accept": "application/json"})


def test_executions_json_follows_a_running_execution_with_one_hopsworks_request(web, hw):
    alice = web("alice")
    execution_id = launch(alice, JOB, "--duration 60")
    hw.clear_requests()
    got = executions_json(alice)
    assert got.status_code == 200
    assert len([r for r in hw.requests if "/jobs/" in r.path]) == 1
    data = got.get_json()
    item = next(i for i in data["items"] if i["key"] == execution_id)
    assert item["final"] is False and data["final"] is False
    assert item["state"] not in ("FINISHED", "FAILED", "KILLED")
    assert item["badge"] == "running"
    page = alice.get(f"projects/{PID}/jobs/{JOB}").get_data(as_text=True)
    assert f'data-hw-live="/hopsworks/projects/{PID}/executions.json/{JOB}"' in page
    assert f'data-live-key="{execution_id}"' in page


def test_executions_json_says_final_once_everything_ended(web, hw):
    # A job of its own: other tests leave long executions of the shared jobs running.
    (job,) = hw.state.add_jobs(PID, 1, prefix=f"live_final_{time.monotonic_ns()}_", type="PYTHON",
                                creator="alice")
    alice = web("alice")
    execution_id = launch(alice, job, "--duration 1")  # 0.1 s in the 10x fake
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        data = executions_json(alice, job).get_json()
        if data["final"]:
            break
        time.sleep(0.2)
    item = next(i for i in data["items"] if i["key"] == execution_id)
    assert data["final"] is True
    assert (item["state"], item["final_status"], item["badge"]) == ("FINISHED", "SUCCEEDED", "success")
    assert item["elapsed"] != "—"
    assert "data-hw-live=" not in alice.get(f"projects/{PID}/jobs/{job}").get_data(as_text=True)


def test_executions_json_refuses_a_non_member_and_a_missing_job(web, hw):
    carol = web("carol").get(f"projects/{PID}/executions.json/{JOB}", headers={"Accept": "application/json"})
    assert carol.status_code == 403 and carol.get_json()["message"]
    missing = web("alice").get(f"projects/{PID}/executions.json/no-such-job", headers={"Accept": "application/json"})
    assert missing.status_code == 404 and "no-such-job" in missing.get_json()["message"]


def test_jobs_json_gives_each_rows_latest_execution(web, hw):
    alice = web("alice")
    execution_id = launch(alice, JOB, "--duration 60")
    hw.clear_requests()
    got = alice.get(f"projects/{PID}/jobs.json", query_string={"q": JOB}, headers={"Accept": "application/json"})
    assert got.status_code == 200
    assert len([r for r in hw.requests if r.path.endswith("/jobs")]) == 1
    item = next(i for i in got.get_json()["items"] if i["key"] == JOB)
    assert item["id"] == execution_id and item["final"] is False
    page = alice.get(f"projects/{PID}/jobs", query_string={"q": JOB}).get_data(as_text=True)
    assert f'data-hw-live="/hopsworks/projects/{PID}/jobs.json?q={JOB}"' in page
