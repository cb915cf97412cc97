"""Tests of the fake Hopsworks server, over real HTTP, as a client would see it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests

from hopsworks_ui_plugin.fake_hopsworks import FakeClock, FakeHopsworks, load_seed

SEED = load_seed("test")
KEYS = {k["name"]: k["key"] for k in SEED["api_keys"]}
ALICE, BOB, CAROL = KEYS["alice-key"], KEYS["bob-key"], KEYS["carol-key"]
AGENT, UI = KEYS["airflow-service"], KEYS["airflow-ui"]  # the AGENT service user; the HOPS_USER pages account


class Client:
    """Tiny test client: ``c.get("/project", key=ALICE)`` against ``<url>/hopsworks-api/api``."""

    def __init__(self, srv: FakeHopsworks) -> None:
        self.api = srv.url + "/hopsworks-api/api"
        self.session = requests.Session()

    def call(self, method: str, path: str, key: str | None = ALICE, **kw: Any) -> requests.Response:
        headers = dict(kw.pop("headers", {}))
        if key is not None:
            headers["Authorization"] = f"ApiKey {key}"
        return self.session.request(method, self.api + path, headers=headers, timeout=5, **kw)

    def get(self, path: str, key: str | None = ALICE, **kw: Any) -> requests.Response:
        return self.call("GET", path, key, **kw)

    def start(self, job: str, args: str = "", key: str = ALICE, pid: int = 119) -> dict[str, Any]:
        r = self.call(
            "POST",
            f"/project/{pid}/jobs/{quote(job, safe='')}/executions",
            key,
            data=args,
            headers={"Content-Type": "text/plain"},
        )
        assert r.status_code == 201, r.text
        return dict(r.json())


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=1_700_000_000.0)


@pytest.fixture
def srv(clock: FakeClock) -> Iterator[FakeHopsworks]:
    with FakeHopsworks(seed=load_seed("test"), clock=clock).start() as server:
        yield server


@pytest.fixture
def c(srv: FakeHopsworks) -> Client:
    return Client(srv)


def names(r: requests.Response) -> list[str]:
    return [item["name"] for item in r.json().get("items", [])]


# ------------------------------------------------------------------------------------------------ auth
def test_missing_authorization_header(c: Client) -> None:
    r = c.get("/project", key=None)
    assert r.status_code == 401
    assert r.json() == {"errorCode": 200003, "errorMsg": "Authorization header not set."}
    assert r.headers["WWW-Authenticate"] == 'Bearer realm="Cauth Realm"'


@pytest.mark.parametrize(
    ("header", "status", "body"),
    [
        ("Basic YWxpY2U6cHc=", 401, {"errorCode": 200003, "errorMsg": "Invalidated Api key."}),
        (
            "Bearer eyJhbGciOi.x.y",
            401,
            {"errorCode": 200003, "errorMsg": "Authorization method not supported."},
        ),
        ("ApiKey nodotinthiskey", 401, {"errorCode": 320012, "errorMsg": "Invalid or incorrect API key."}),
        (
            f"ApiKey {ALICE[:17]}wrongsecret",
            401,
            {"errorCode": 320012, "errorMsg": "Invalid or incorrect API key."},
        ),
        (
            "ApiKey AAAAAAAAAAAAAAAA.secret",
            401,
            {"errorCode": 320013, "errorMsg": "API key not found in the database"},
        ),
        (
            f"ApiKey {KEYS['blocked-key']}",
            401,
            {"errorCode": 160007, "errorMsg": "Your account has been blocked. Contact the administrator."},
        ),
        (
            f"ApiKey {KEYS['alice-featurestore-only']}",
            403,
            {"errorCode": 320004, "errorMsg": "No valid scope found for this invocation"},
        ),
    ],
)
def test_auth_errors(c: Client, header: str, status: int, body: dict[str, Any]) -> None:
    for path in ("/project", "/project/119/jobs"):
        r = c.get(path, key=None, headers={"Authorization": header})
        assert (r.status_code, r.json()) == (status, body)
        assert ("WWW-Authenticate" in r.headers) == (status == 401)


# ------------------------------------------------------------------------------------------------ projects
def test_project_list_is_bare_array_of_team_rows(c: Client) -> None:
    rows = c.get("/project").json()
    assert [row["project"]["id"] for row in rows] == [119, 121]
    row = rows[0]
    assert set(row) == {"project", "user", "teamRole", "timestamp", "projectTeamPK"}
    assert row["project"]["name"] == "demo_fs" and row["project"]["owner"]["username"] == "alice"
    assert row["user"] == {
        "uid": 10000,
        "username": "alice",
        "email": "alice@example.com",
        "fname": "Alice",
        "lname": "Anders",
    }
    assert row["teamRole"] == "Data owner"
    assert row["projectTeamPK"] == {"projectId": 119, "teamMember": "alice@example.com"}
    assert row["project"]["created"] == "2023-11-01T09:00:00.000Z"
    bob_rows = c.get("/project", key=BOB).json()
    assert [(r["project"]["name"], r["teamRole"]) for r in bob_rows] == [("demo_fs", "Data scientist")]
    assert c.get("/project", key=KEYS["admin-key"]).json() == []  # admins only see their own memberships
    pages_account = c.get("/project", key=UI).json()
    assert [r["project"]["id"] for r in pages_account] == [119, 120, 121]


def test_project_info_and_membership_errors(c: Client) -> None:
    by_name = c.get("/project/getProjectInfo/demo_fs").json()
    by_id = c.get("/project/119").json()
    assert by_name == by_id
    assert (by_id["projectId"], by_id["projectName"], by_id["owner"]) == (119, "demo_fs", "alice@example.com")
    team = {row["user"]["username"]: row["teamRole"] for row in by_id["projectTeam"]}
    assert team == {"alice": "Data owner", "bob": "Data scientist", "victor": "Data scientist",
                    "airflow": "Data scientist", "airflow_ui": "Data scientist"}
    assert "JOBS" in by_id["services"]
    r = c.get("/project/999")
    assert (r.status_code, r.json()) == (404, {"errorCode": 150004, "errorMsg": "Project wasn't found."})
    assert c.get("/project/getProjectInfo/nope").json()["errorCode"] == 150004
    for key in (CAROL, KEYS["admin-key"]):
        r = c.get("/project/119/jobs", key=key)
        assert (r.status_code, r.json()) == (
            403,
            {"errorCode": 160000, "errorMsg": "No valid role found for this user"},
        )


def test_unknown_paths_and_methods(c: Client) -> None:
    r = c.get("/nope", key=None)
    assert r.status_code == 404 and r.json()["errorCode"] == 120004
    assert r.json()["errorMsg"] == "Web application exception occurred"
    outside = requests.get(c.api.replace("/hopsworks-api/api", "/hopsworks-api/other"), timeout=5)
    assert (outside.status_code, outside.json()["errorCode"]) == (404, 120004)
    r = c.call("DELETE", "/project/119/jobs")
    assert r.status_code == 405 and r.json()["errorCode"] == 120004


# ------------------------------------------------------------------------------------------------ jobs
def test_jobs_pagination_count_and_empty_collection(c: Client) -> None:
    r = c.get("/project/119/jobs")
    body = r.json()
    assert body["count"] == 5 and body["href"].endswith("/hopsworks-api/api/project/119/jobs")
    assert names(r) == ["etl", "train", "broken", "<script>alert(1)</script>", "big_log"]
    r = c.get("/project/119/jobs", params={"offset": 1, "limit": 2})
    assert r.json()["count"] == 5 and names(r) == ["train", "broken"]
    assert len(names(c.get("/project/119/jobs", params={"offset": 0, "limit": -1}))) == 5
    empty = c.get("/project/121/jobs").json()
    assert empty == {"href": empty["href"], "count": 0}  # no "items" key at all
    assert "items" not in c.get("/project/119/jobs", params={"filter_by": "name:zzz"}).json()


def test_jobs_sorting(c: Client) -> None:
    assert names(c.get("/project/119/jobs", params={"sort_by": "name:desc", "limit": 2})) == ["train", "etl"]
    r = c.get("/project/119/jobs", params={"sort_by": "jobtype,name:desc"})
    assert names(r) == [
        "etl",
        "train",
        "big_log",
        "<script>alert(1)</script>",
        "broken",
    ]  # PYSPARK<PYTHON<SPARK
    assert (
        names(c.get("/project/119/jobs", params={"sort_by": "date_created"}))[0] == "big_log"
    )  # default desc
    for bad in ("unsupported:desc", "name:sideways"):
        r = c.get("/project/119/jobs", params={"sort_by": bad})
        assert r.status_code == 404 and r.json()["errorCode"] == 120004
        assert bad in r.json()["usrMsg"]


def test_jobs_filtering(c: Client, clock: FakeClock) -> None:
    get = c.get
    assert names(get("/project/119/jobs", params={"filter_by": "name:ET"})) == ["etl"]
    r = get("/project/119/jobs", params={"filter_by": ["jobtype:python,spark", "name:b"]})
    assert names(r) == ["broken", "big_log"] and r.json()["count"] == 2
    assert names(get("/project/119/jobs", params={"filter_by": "jobtype_neq:PYTHON"})) == ["etl", "broken"]
    assert names(get("/project/119/jobs", params={"filter_by": "creator:bo"})) == [
        "train",
        "<script>alert(1)</script>",
    ]
    r = get("/project/119/jobs", params={"filter_by": "date_created_gt:2023-11-04T09:00:00.000Z"})
    assert names(r) == ["<script>alert(1)</script>", "big_log"]
    assert names(get("/project/119/jobs", params={"filter_by": "date_created_lt:2023-11-03"})) == ["etl"]
    c.start("etl")
    r = get("/project/119/jobs", params={"filter_by": "latest_execution_state:INITIALIZING,RUNNING"})
    assert names(r) == ["etl"]
    for bad in ("jobtype:BOGUS", "date_created_gt:yesterday", "latest_execution_state:SLEEPING"):
        r = get("/project/119/jobs", params={"filter_by": bad})
        assert (r.status_code, r.json()["errorCode"], r.json()["errorMsg"]) == (404, 310000, "Invalid query.")
    r = get("/project/119/jobs", params={"filter_by": "color:red"})
    assert (r.status_code, r.json()["errorCode"]) == (404, 120004)


def test_job_expansion_and_stubs(c: Client, clock: FakeClock) -> None:
    first = c.start("etl")
    clock.advance(10)
    second = c.start("etl", "--date tomorrow")
    job = c.get("/project/119/jobs/etl").json()
    assert set(job["creator"]) == {"href"} and job["creator"]["href"].endswith("/users/10000")
    assert job["executions"] == {"href": job["href"] + "/executions"}
    assert job["jobType"] == "PYSPARK" and job["config"]["defaultArgs"] == "--date today"
    assert job["creationTime"] == "2023-11-02T09:00:00.000Z"
    expand = ["creator", "executions(offset=0;limit=1;sort_by=submissiontime:desc)"]
    r = c.get("/project/119/jobs", params={"expand": expand, "filter_by": "name:etl"})
    job = r.json()["items"][0]
    assert job["creator"]["username"] == "alice" and job["creator"]["firstname"] == "Alice"
    assert job["executions"]["count"] == 2
    assert [e["id"] for e in job["executions"]["items"]] == [second["id"]]
    assert first["id"] < second["id"]
    assert (
        "items" not in c.get("/project/119/jobs/train", params={"expand": "executions"}).json()["executions"]
    )
    assert c.get("/project/119/jobs/etl", params={"expand": "colour"}).status_code == 404


def test_unknown_job_and_html_job_name(c: Client) -> None:
    r = c.get("/project/119/jobs/nightly")
    assert (r.status_code, r.json()) == (
        404,
        {"errorCode": 130009, "errorMsg": "Job not found.", "usrMsg": "jobId:nightly"},
    )
    name = "<script>alert(1)</script>"
    job = c.get(f"/project/119/jobs/{quote(name, safe='')}").json()
    assert job["name"] == name
    assert job["href"].endswith("/jobs/%3Cscript%3Ealert%281%29%3C%2Fscript%3E")
    assert c.start(name)["state"] == "INITIALIZING"


# ------------------------------------------------------------------------------------------------ executions
def test_execution_lifecycle_with_fake_clock(c: Client, srv: FakeHopsworks, clock: FakeClock) -> None:
    r = c.call("POST", "/project/119/jobs/etl/executions", headers={"Content-Type": "text/plain"})
    assert r.status_code == 201
    ex = r.json()
    assert r.headers["Location"] == ex["href"]
    assert ex["href"].endswith(f"/project/119/jobs/etl/executions/{ex['id']}")
    assert (ex["state"], ex["finalStatus"], ex["progress"], ex["duration"]) == (
        "INITIALIZING",
        "UNDEFINED",
        0,
        0,
    )
    assert ex["args"] == "--date today" and ex["hdfsUser"] == "demo_fs__alice"
    assert ex["submissionTime"] == "2023-11-14T22:13:20.000Z" and "appId" not in ex
    assert set(ex["user"]) == {"href"}
    url = f"/project/119/jobs/etl/executions/{ex['id']}"
    t = 0.0
    for at, expected in [
        (0.2, "INITIALIZING"),
        (0.6, "SUBMITTED"),
        (1.0, "RUNNING"),
        (3.0, "RUNNING"),
        (3.8, "AGGREGATING_LOGS"),
        (4.2, "FINISHED"),
    ]:  # duration 4 s
        clock.advance(at - t)
        t = at
        cur = c.get(url).json()
        assert cur["state"] == expected
        assert ("appId" in cur) == (at > 0.4)
        if expected == "RUNNING":
            assert cur["appId"] == f"application_1700000000000_{ex['id']:04d}"
            assert cur["duration"] > 0 and 0 < cur["progress"] < 1
    assert (cur["state"], cur["finalStatus"], cur["progress"]) == ("FINISHED", "SUCCEEDED", 1.0)
    assert cur["duration"] == 3200 and cur["stdoutPath"].endswith("/stdout.log")
    clock.advance(100)
    assert c.get(url).json()["duration"] == 3200  # frozen
    snap = srv.state.get_execution(ex["id"])
    assert (snap["state"], snap["finalStatus"]) == ("FINISHED", "SUCCEEDED")


@pytest.mark.parametrize(
    ("job", "args", "state"),
    [("etl", "--date x --fail", "FINISHED"), ("broken", "", "FINISHED"), ("train", "--fail", "FAILED")],
    ids=["pyspark", "spark", "python"],
)
def test_failing_executions(c: Client, clock: FakeClock, job: str, args: str, state: str) -> None:
    """YARN reports a Spark/PySpark/Flink application that failed by itself as FINISHED with final
    status FAILED; Kubernetes (Python, Docker) jobs end FAILED/FAILED."""
    ex = c.start(job, args)
    clock.advance(60)
    cur = c.get(f"/project/119/jobs/{job}/executions/{ex['id']}").json()
    assert (cur["state"], cur["finalStatus"]) == (state, "FAILED")
    err = c.get(f"/project/119/jobs/{job}/executions/{ex['id']}/log/err").json()
    assert "Traceback" in err["log"] and err["type"] == "ERR"


def test_stop_kills_running_execution_later(c: Client, clock: FakeClock) -> None:
    """Stop is accepted at once (202) but the state changes only once YARN/Kubernetes killed it."""
    ex = c.start("train")
    clock.advance(3)
    url = f"/project/119/jobs/train/executions/{ex['id']}/status"
    r = c.call("PUT", url, json={"state": "stopped"})
    assert r.status_code == 202
    assert (r.json()["state"], r.json()["finalStatus"]) == ("RUNNING", "UNDEFINED")
    clock.advance(0.5)
    assert c.get(url.removesuffix("/status")).json()["state"] == "RUNNING"
    clock.advance(0.6)  # stop_delay_s = 1.0 after the stop
    killed = c.get(url.removesuffix("/status")).json()
    assert (killed["state"], killed["finalStatus"]) == ("KILLED", "KILLED") and killed["duration"] > 0
    clock.advance(30)
    again = c.call("PUT", url)
    assert again.status_code == 202 and again.json() == killed  # unchanged, duration frozen
    done = c.start("etl")
    clock.advance(10)
    r = c.call("PUT", f"/project/119/jobs/etl/executions/{done['id']}/status")
    assert (r.status_code, r.json()["state"]) == (202, "FINISHED")


def test_logs_400_while_running_then_200(c: Client, clock: FakeClock) -> None:
    ex = c.start("etl", "--date 2024-03-02")
    url = f"/project/119/jobs/etl/executions/{ex['id']}/log"
    r = c.get(url + "/out")
    assert (r.status_code, r.json()) == (
        400,
        {"errorCode": 130010, "errorMsg": "Execution state is invalid.", "usrMsg": "Job still running."},
    )
    clock.advance(5)
    out = c.get(url + "/out").json()
    assert out["type"] == "OUT" and "etl" in out["log"] and "--date 2024-03-02" in out["log"]
    assert out["path"].startswith("/Projects/demo_fs/Logs/") and out["path"].endswith("stdout.log")
    assert c.get(url + "/err").json()["type"] == "ERR"
    assert c.get(url + "/OUT").json() == out  # the type segment is case-insensitive
    assert c.get(url + "/nope").status_code == 404


def test_too_big_log_is_only_downloadable(c: Client, clock: FakeClock) -> None:
    """Over 1,000,000 bytes the log endpoint answers a sentence; the file is in the dataset API."""
    ex = c.start("big_log")
    clock.advance(2)
    body = c.get(f"/project/119/jobs/big_log/executions/{ex['id']}/log/out").json()
    assert body["log"] == "Log is too big to display in browser. Click on the download button to get the log file."
    assert body["type"] == "OUT"
    cur = c.get(f"/project/119/jobs/big_log/executions/{ex['id']}").json()
    assert body["path"] == cur["stdoutPath"]
    full = c.get(f"/project/119/dataset/download/with_auth/{quote(cur['stdoutPath'], safe='')}", key=UI,
                 params={"type": "DATASET"})
    assert full.status_code == 200 and full.headers["Content-Type"] == "application/octet-stream"
    assert full.text.count("\n") == 50000 and len(full.content) > 3_000_000


def test_start_content_types_4x(c: Client) -> None:
    """Up to 4.x there is one text/plain handler: a start without Content-Type works (4.x SDK)."""
    path = "/project/119/jobs/etl/executions"
    r = c.call("POST", path, data=b"--x")
    assert "Content-Type" not in r.request.headers
    assert r.status_code == 201 and r.json()["args"] == "--x"
    r = c.call("POST", path)  # no body, no Content-Type: the job's default arguments
    assert r.status_code == 201 and r.json()["args"] == "--date today"
    r = c.call("POST", path, data="--plain", headers={"Content-Type": "text/plain; charset=utf-8"})
    assert r.json()["args"] == "--plain"
    r = c.call("POST", path, json={"args": "--from-json"})  # the JSON handler is 5.x only
    assert (r.status_code, r.json()["errorCode"]) == (415, 120004)


def test_start_content_types_5x(clock: FakeClock) -> None:
    with FakeHopsworks(seed=load_seed("test"), clock=clock, version="5.0.0").start() as five:
        c = Client(five)
        path = "/project/119/jobs/etl/executions"
        r = c.call("POST", path, data=b"--x")
        assert (r.status_code, r.json()["errorCode"]) == (415, 120004)
        r = c.call("POST", path, json={"args": "--from-json", "envVars": {"A": "1"}})
        assert r.status_code == 201 and r.json()["args"] == "--from-json"
        r = c.call("POST", path, data="--plain", headers={"Content-Type": "text/plain"})
        assert r.status_code == 201 and r.json()["args"] == "--plain"
        versions = c.get("/variables/versions").json()
        assert {"software": "hopsworks", "version": "5.0.0"} in versions


def test_execution_errors_and_delete(c: Client) -> None:
    etl, train = c.start("etl"), c.start("train")
    r = c.get("/project/119/jobs/etl/executions/9999")
    assert (r.status_code, r.json()["errorCode"], r.json()["errorMsg"]) == (
        404,
        130007,
        "Execution not found.",
    )
    r = c.get(f"/project/119/jobs/etl/executions/{train['id']}")
    assert (r.status_code, r.json()["errorCode"]) == (403, 130026)
    r = c.call("DELETE", f"/project/119/jobs/etl/executions/{etl['id']}")
    assert r.status_code == 204 and r.content == b""
    assert c.get(f"/project/119/jobs/etl/executions/{etl['id']}").status_code == 404


def test_execution_list_sort_filter(c: Client, clock: FakeClock) -> None:
    ids = []
    for args in ("--a", "--b --fail", "--c"):
        ids.append(c.start("etl", args)["id"])
        clock.advance(10)
    c.start("etl", "--running")
    path = "/project/119/jobs/etl/executions"
    r = c.get(path, params={"sort_by": "submissiontime:desc", "limit": 1})
    assert r.json()["count"] == 4 and r.json()["items"][0]["args"] == "--running"
    r = c.get(path, params={"filter_by": "state:finished"})
    assert [e["id"] for e in r.json()["items"]] == ids  # the failed PySpark run is FINISHED too
    r = c.get(path, params={"filter_by": ["state:finished", "finalstatus:succeeded"]})
    assert [e["id"] for e in r.json()["items"]] == [ids[0], ids[2]]
    r = c.get(
        path,
        params={"filter_by": ["finalstatus_neq:UNDEFINED", "submissiontime_gt:2023-11-14T22:13:20.000Z"]},
    )
    assert [e["id"] for e in r.json()["items"]] == ids[1:]
    r = c.get(path, params={"sort_by": "id:desc", "offset": 3})
    assert [e["id"] for e in r.json()["items"]] == [ids[0]]
    r = c.get(path, params={"filter_by": "state:SLEEPING"})
    assert (r.status_code, r.json()["errorCode"]) == (422, 120001)
    assert c.get(path, params={"sort_by": "bogus"}).json()["errorCode"] == 120004
    user = c.get(path, params={"expand": "user", "limit": 1}).json()["items"][0]["user"]
    assert user["username"] == "alice"


def test_airflow_service_user_runs_as_job_creator(c: Client) -> None:
    ex = c.start("train", key=AGENT)
    assert ex["hdfsUser"] == "demo_fs__bob"


def test_many_jobs(c: Client, srv: FakeHopsworks) -> None:
    created = srv.state.add_jobs(121, n=2000, prefix="job_")
    assert created[0] == "job_0001" and len(created) == 2000
    r = c.get("/project/121/jobs", params={"offset": 1990, "limit": 50, "sort_by": "name"})
    assert r.json()["count"] == 2000 and names(r)[-1] == "job_2000" and len(names(r)) == 10


# ------------------------------------------------------------------------------------------------ platform roles
AGENT_FORBIDDEN = [
    ("GET", "/project"),
    ("GET", "/project/119"),
    ("GET", "/project/119/jobs"),
    ("GET", "/project/119/jobs/etl"),
    ("GET", "/project/119/jobs/etl/executions/{eid}/log/out"),
    ("GET", "/project/119/jobs/etl/executions/{eid}/log/err"),
    ("PUT", "/project/119/jobs/etl/executions/{eid}/status"),
    ("GET", "/project/119/credentials"),
    ("GET", "/project/119/dataset/Resources"),
]
AGENT_ALLOWED = [
    ("GET", "/project/getProjectInfo/demo_fs"),
    ("GET", "/project/119/jobs/etl/executions"),
    ("GET", "/project/119/jobs/etl/executions/{eid}"),
    ("POST", "/project/119/jobs/etl/executions"),
    ("GET", "/variables/versions"),
]


@pytest.mark.parametrize(("method", "path"), AGENT_FORBIDDEN, ids=[f"{m} {p}" for m, p in AGENT_FORBIDDEN])
def test_agent_key_is_refused_where_hopsworks_refuses_it(c: Client, clock: FakeClock, method: str,
                                                         path: str) -> None:
    """Hopsworks' own Airflow service user is AGENT: 403 320003 (hopsworks-rest.md §1.4)."""
    eid = c.start("etl")["id"]
    clock.advance(60)
    r = c.call(method, path.format(eid=eid), key=AGENT)
    assert (r.status_code, r.json()) == (403, {"errorCode": 320003,
                                               "errorMsg": "No valid role found for this invocation"})
    assert "WWW-Authenticate" not in r.headers
    ok = c.call(method, path.format(eid=eid), key=UI if "dataset" in path else ALICE)
    assert ok.status_code in (200, 202), ok.text  # the same call with a HOPS_USER key works


@pytest.mark.parametrize(("method", "path"), AGENT_ALLOWED, ids=[f"{m} {p}" for m, p in AGENT_ALLOWED])
def test_agent_key_may_run_and_watch_executions(c: Client, method: str, path: str) -> None:
    eid = c.start("etl")["id"]
    r = c.call(method, path.format(eid=eid), key=AGENT,
                headers={"Content-Type": "text/plain"} if method == "POST" else {})
    assert r.status_code in (200, 201), r.text
    if path.startswith("/project/getProjectInfo"):
        team = {row["user"]["username"] for row in r.json()["projectTeam"]}
        assert {"alice", "bob"} <= team


def test_role_is_checked_before_scope_and_after_the_key(srv: FakeHopsworks, c: Client) -> None:
    srv.state.add_api_key("agentFeatureOnly.s3cret", "airflow", ["FEATURESTORE"])
    r = c.get("/project", key="agentFeatureOnly.s3cret")
    assert (r.status_code, r.json()["errorCode"]) == (403, 320003)  # the role, not the scope (320004)
    r = c.get("/project/getProjectInfo/demo_fs", key="agentFeatureOnly.s3cret")
    assert (r.status_code, r.json()["errorCode"]) == (403, 320004)  # allowed role, missing scope
    r = c.get("/project", key="agentFeatureOnly.wrong")
    assert (r.status_code, r.json()["errorCode"]) == (401, 320012)  # a bad key is refused first


def test_service_user_role_may_not_stop(srv: FakeHopsworks, c: Client, clock: FakeClock) -> None:
    with srv.state.lock:
        srv.state.users["bob"].role = "HOPS_SERVICE_USER"
    eid = c.start("etl")["id"]
    clock.advance(1)
    assert c.get(f"/project/119/jobs/etl/executions/{eid}/log/out", key=BOB).status_code == 400  # allowed
    r = c.call("PUT", f"/project/119/jobs/etl/executions/{eid}/status", key=BOB)
    assert (r.status_code, r.json()["errorCode"]) == (403, 320003)


def test_seed_roles() -> None:
    roles = {u["username"]: u.get("role", "HOPS_USER") for u in SEED["users"]}
    assert roles["airflow"] == "AGENT" and roles["airflow_ui"] == "HOPS_USER"
    assert roles["alice"] == roles["bob"] == "HOPS_USER" and roles["admin"] == "HOPS_ADMIN"
    demo = {u["username"]: u.get("role", "HOPS_USER") for u in load_seed("demo")["users"]}
    assert demo["airflow"] == "AGENT" and demo["airflow_ui"] == "HOPS_USER" and demo["dave"] == "HOPS_USER"
    with pytest.raises(ValueError, match="unknown platform role"):
        FakeHopsworks(seed={"users": [{"username": "x", "role": "ROOT"}]})


# ------------------------------------------------------------------------------------------------ stop, logs
def test_stop_before_app_id_is_a_no_op(c: Client, clock: FakeClock) -> None:
    ex = c.start("etl", "--duration 100")
    url = f"/project/119/jobs/etl/executions/{ex['id']}"
    r = c.call("PUT", url + "/status")
    assert r.status_code == 202 and (r.json()["state"], "appId" in r.json()) == ("INITIALIZING", False)
    clock.advance(50)
    assert c.get(url).json()["state"] == "RUNNING"  # the stop was ignored
    assert c.call("PUT", url + "/status").status_code == 202  # now it has an appId: accepted
    clock.advance(1.0)
    assert (c.get(url).json()["state"], c.get(url).json()["finalStatus"]) == ("KILLED", "KILLED")


def test_stop_that_loses_the_race_to_the_end_changes_nothing(srv: FakeHopsworks, c: Client,
                                                             clock: FakeClock) -> None:
    srv.state.stop_delay_s = 10
    ex = c.start("etl")  # 4 s
    clock.advance(3)
    c.call("PUT", f"/project/119/jobs/etl/executions/{ex['id']}/status")
    clock.advance(5)
    cur = c.get(f"/project/119/jobs/etl/executions/{ex['id']}").json()
    assert (cur["state"], cur["finalStatus"]) == ("FINISHED", "SUCCEEDED")


def test_log_rules(srv: FakeHopsworks, c: Client, clock: FakeClock) -> None:
    state = srv.state
    state.add_job(121, {"name": "quiet", "type": "PYTHON", "stdout": "", "duration_s": 1})
    state.add_job(121, {"name": "py_nofiles", "type": "PYTHON", "log_files": False, "duration_s": 1})
    state.add_job(121, {"name": "spark_nofiles", "type": "SPARK", "log_files": False, "duration_s": 1})
    ids = {job: c.start(job, pid=121)["id"] for job in ("quiet", "py_nofiles", "spark_nofiles")}
    clock.advance(5)

    def log(job: str, kind: str) -> dict[str, Any]:
        r = c.get(f"/project/121/jobs/{job}/executions/{ids[job]}/log/{kind}")
        assert r.status_code == 200
        return dict(r.json())

    quiet = log("quiet", "out")
    assert quiet["log"] == "No information." and quiet["path"].endswith("/stdout.log") and "retriable" not in quiet
    assert log("quiet", "ERR")["log"] == "No information."  # type segment is case-insensitive
    assert log("py_nofiles", "out") == {"type": "OUT", "log": "No log available."}
    assert log("spark_nofiles", "Err") == {"type": "ERR", "retriable": "RETRIABLE_ERR"}
    assert log("spark_nofiles", "out") == {"type": "OUT", "retriable": "RETRIEABLE_OUT"}
    stdout_path = c.get(f"/project/121/jobs/spark_nofiles/executions/{ids['spark_nofiles']}").json()["stdoutPath"]
    r = c.get(f"/project/121/dataset/{quote(stdout_path, safe='')}", key=UI)
    assert (r.status_code, r.json()["errorCode"]) == (404, 110008)


# ------------------------------------------------------------------------------------------------ queries
def test_name_filter_has_like_semantics(srv: FakeHopsworks, c: Client) -> None:
    srv.state.add_job(121, {"name": "load_a"})
    srv.state.add_job(121, {"name": "loadXa"})
    srv.state.add_job(121, {"name": "unload%"})
    jobs = "/project/121/jobs"
    assert names(c.get(jobs, params={"filter_by": "name:load_a"})) == ["load_a", "loadXa"]  # _ = any char
    assert names(c.get(jobs, params={"filter_by": "name:LOAD%A"})) == ["load_a", "loadXa"]  # % = any run
    assert names(c.get(jobs, params={"filter_by": "name:unl"})) == ["unload%"]
    assert names(c.get(jobs, params={"filter_by": "name:oad."})) == []  # not a regex


def test_comma_joined_expand_is_an_error(c: Client) -> None:
    for path in ("/project/119/jobs", "/project/119/jobs/etl"):
        r = c.get(path, params={"expand": "creator,executions"})
        assert (r.status_code, r.json()["errorCode"], r.json()["errorMsg"]) == (
            404, 120004, "Web application exception occurred")
        assert "creator,executions" in r.json()["usrMsg"]
    # commas inside a sub-query are fine, as are repeated expand parameters
    r = c.get("/project/119/jobs", params={"expand": ["creator", "executions(filter_by=state:RUNNING,ACCEPTED)"]})
    assert r.status_code == 200 and r.json()["items"][0]["creator"]["username"] == "alice"


# ------------------------------------------------------------------------------------------------ datasets, login
def test_dataset_stat_listing_and_download(srv: FakeHopsworks, c: Client, clock: FakeClock) -> None:
    r = c.get("/project/119/dataset/Resources/data.csv", key=UI, params={"action": "stat"})
    assert r.status_code == 200
    attrs = r.json()["attributes"]
    assert (attrs["name"], attrs["path"], attrs["dir"], attrs["size"]) == (
        "data.csv", "/Projects/demo_fs/Resources/data.csv", False, 8)
    assert attrs["owner"] == "Alice Anders"
    assert c.get("/project/119/dataset/Airflow", key=UI, params={"action": "stat"}).json()["attributes"]["dir"]
    r = c.get("/project/119/dataset/Airflow/new_dag.py", key=UI, params={"action": "stat"})
    assert (r.status_code, r.json()["errorCode"], r.json()["errorMsg"]) == (404, 110008, "File not found.")
    srv.state.add_dataset_path(119, "Airflow/new_dag.py", "print(1)\n")
    r = c.get("/project/119/dataset/Airflow/new_dag.py", key=UI, params={"action": "stat"})
    assert r.status_code == 200 and r.json()["attributes"]["size"] == 9
    srv.state.add_dataset_path(119, "/Projects/demo_fs/Jupyter/deep/nb.ipynb", "{}")
    listing = c.get("/project/119/dataset/Jupyter", key=UI, params={"action": "listing"}).json()
    assert listing["count"] == 1 and listing["items"][0]["attributes"]["dir"] is True
    r = c.get("/project/119/dataset/download/with_auth/Airflow/new_dag.py", key=UI, params={"type": "DATASET"})
    assert r.content == b"print(1)\n"
    srv.state.remove_dataset_path(119, "Airflow/new_dag.py")
    assert c.get("/project/119/dataset/Airflow/new_dag.py", key=UI).status_code == 404
    for bad in ("../../etc/passwd", quote("/Projects/analytics/x", safe="")):
        assert c.get(f"/project/119/dataset/{bad}", key=UI).status_code == 404
    r = c.get("/project/119/dataset/Resources", key=ALICE)  # alice's test key lacks DATASET_VIEW
    assert (r.status_code, r.json()["errorCode"]) == (403, 320004)
    srv.state.add_api_key("bobDatasetViewer.s3cret", "bob", ["DATASET_VIEW"])
    assert c.get("/project/120/dataset/Resources", key="bobDatasetViewer.s3cret").json()["errorCode"] == 160000
    # final executions' logs are files at their stdoutPath/stderrPath
    ex = c.start("etl", "--date x")
    url = f"/project/119/jobs/etl/executions/{ex['id']}"
    clock.advance(1)
    assert "stdoutPath" not in c.get(url).json()
    clock.advance(10)
    err_path = c.get(url).json()["stderrPath"]
    assert c.get(f"/project/119/dataset/{quote(err_path, safe='')}", key=UI).json()["attributes"]["size"] == 0
    out = c.get(f"/project/119/dataset/download/with_auth/{quote(c.get(url).json()['stdoutPath'], safe='')}",
                key=UI)
    assert "--date x" in out.text and out.text == c.get(url + "/log/out").json()["log"]


def test_sdk_login_endpoints(c: Client) -> None:
    versions = c.get("/variables/versions", key=AGENT).json()
    assert {"software": "hopsworks", "version": "4.2.0"} in versions
    assert c.get("/variables/enable_data_science_profile").json() == {"successMessage": "false"}
    assert c.get("/variables/nope").status_code == 404
    assert c.get("/variables/versions", key=None).status_code == 401
    creds = c.get("/project/119/credentials").json()
    assert {"kStore", "tStore", "password", "caChain", "clientCert", "clientKey"} <= set(creds)
    assert c.get("/project/120/credentials").json()["errorCode"] == 160000


# ------------------------------------------------------------------------------------------------ test hooks
def test_fault_injection(c: Client, srv: FakeHopsworks) -> None:
    srv.inject_fault(status=503, count=1, path_contains="/jobs")
    assert c.get("/project").status_code == 200  # path does not match
    r = c.get("/project/119/jobs")
    assert (r.status_code, r.json()) == (503, {"errorCode": 120000, "errorMsg": "A generic error occurred."})
    assert c.get("/project/119/jobs").status_code == 200
    srv.inject_fault(status=None, delay_s=0.2)
    t0 = time.monotonic()
    assert c.get("/project").status_code == 200 and time.monotonic() - t0 >= 0.2
    srv.inject_fault(status=500, count=None, body={"oops": True})
    assert c.get("/project").json() == {"oops": True} and c.get("/project").status_code == 500
    srv.clear_faults()
    assert c.get("/project").status_code == 200


def test_requests_are_recorded_without_the_key(c: Client, srv: FakeHopsworks) -> None:
    srv.clear_requests()
    c.start("etl", "--recorded")
    c.get("/project", key="AAAAAAAAAAAAAAAA.notarealsecret")
    c.get("/project", key=None, headers={"Authorization": BOB})  # bare key without scheme
    reqs = srv.requests
    assert [(q.method, q.status) for q in reqs] == [("POST", 201), ("GET", 401), ("GET", 401)]
    assert reqs[0].path == "/hopsworks-api/api/project/119/jobs/etl/executions"
    assert reqs[0].body == "--recorded" and reqs[0].username == "alice" and reqs[0].auth_scheme == "ApiKey"
    assert all("authorization" not in {h.lower() for h in q.headers} for q in reqs)
    dump = repr(reqs)
    assert ALICE.split(".")[1] not in dump and "notarealsecret" not in dump and BOB.split(".")[1] not in dump
    assert reqs[2].auth_scheme == "other"
    c.get("/project/119/jobs", params={"limit": 3, "filter_by": ["a:1", "b:2"]})
    assert srv.requests[-1].query == {"limit": ["3"], "filter_by": ["a:1", "b:2"]}
    srv.clear_requests()
    assert srv.requests == []


def test_state_and_dates_without_fake_clock() -> None:
    with FakeHopsworks(seed=load_seed("demo")).start() as srv:
        client = Client(srv)
        demo_alice = next(k["key"] for k in load_seed("demo")["api_keys"] if k["username"] == "alice")
        rows = client.get("/project", key=demo_alice).json()
        assert {r["project"]["name"] for r in rows} >= {"demo_fs", "analytics"}
        jobs = client.get("/project/119/jobs", key=demo_alice, params={"expand": "executions"}).json()
        assert 5 <= jobs["count"] <= 10
        assert any(j["executions"]["count"] > 0 for j in jobs["items"])


def test_console_command(tmp_path: Path) -> None:
    port_file = tmp_path / "port"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hopsworks_ui_plugin.fake_hopsworks",
            "--seed",
            "test",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--port-file",
            str(port_file),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        port = int(port_file.read_text())
        assert line == f"Fake Hopsworks listening on http://127.0.0.1:{port}"
        r = requests.get(
            f"http://127.0.0.1:{port}/hopsworks-api/api/project",
            headers={"Authorization": f"ApiKey {ALICE}"},
            timeout=5,
        )
        assert r.status_code == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_demo_seed_has_a_project_with_hundreds_of_jobs_to_page_sort_and_search() -> None:
    """Issue 13: the demo's project 'pipelines' has 300 generated jobs, varied enough that paging,
    sorting (by type, creator, latest state) and the name filter show something."""
    with FakeHopsworks(seed=load_seed("demo")).start() as srv:
        client = Client(srv)
        alice = next(k["key"] for k in load_seed("demo")["api_keys"] if k["username"] == "alice")
        projects = {r["project"]["name"]: r["project"]["id"] for r in client.get("/project", key=alice).json()}
        pid = projects["pipelines"]
        page = client.get(f"/project/{pid}/jobs", key=alice,
                          params={"limit": 20, "offset": 40, "sort_by": "name:asc", "expand": "executions"}).json()
        assert page["count"] == 300 and len(page["items"]) == 20
        assert page["items"][0]["name"] == "backfill_244"  # the 41st of the 50 backfill_* jobs (every 6th)
        everything = client.get(f"/project/{pid}/jobs", key=alice,
                                params={"limit": 300, "expand": ["executions", "creator"]}).json()
        assert {j["jobType"] for j in everything["items"]} == {"PYSPARK", "PYTHON", "SPARK", "DOCKER"}
        creators = {(j.get("creator") or {}).get("username") for j in everything["items"]}
        assert creators == {"bob", "alice", "dave"}
        ran = [j for j in everything["items"] if j["executions"]["count"] > 0]
        assert 100 <= len(ran) < 300
        train = client.get(f"/project/{pid}/jobs", key=alice, params={"filter_by": "name:train"}).json()
        assert train["count"] == 50
