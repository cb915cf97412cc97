"""HTTP layer of the fake Hopsworks: routing, API-key auth, error bodies, JSON rendering.

Only the endpoints an Airflow integration (and the login of the official ``hopsworks`` SDK)
needs are served, under ``/hopsworks-api/api``. The reference is ``hopsworks-rest.md`` (§1.3-1.5,
§2-5, §9). Stdlib only.

What it enforces like Hopsworks: API-key filter order (key -> user status -> platform role ->
scope, §1.2/§1.4: an AGENT key gets 403 320003 on ``GET /project``, ``/project/{id}``, job list and
job, logs and stop), the project-role filter, stop semantics (§1.5), FINISHED/FAILED for failed
YARN jobs, the log rules, one ``text/plain`` start handler in 4.x, LIKE name filters, single-name
``expand`` values.

Deliberate differences from hopsworks-rest.md, and why:

* Only ``ApiKey`` authentication; a ``Bearer`` JWT gets 401 "Authorization method not supported."
  on every route (the plugin only uses API keys; issuing JWTs would mean faking Hopsworks' login).
* Role sets of routes that §1.4 does not list are assumptions, not read from Hopsworks' source:
  ``/variables/*`` accept every role and need no scope (the SDK calls them with any key);
  ``/project/{id}/credentials`` and the dataset routes refuse AGENT like the other browsing routes;
  ``DELETE …/executions/{id}`` allows HOPS_ADMIN and HOPS_USER like stop.
* Datasets: only stat (``action=stat``, also the default), ``action=listing`` and
  ``download/with_auth`` exist; no upload, delete or permissions. A missing path is always
  404 110008 "File not found." (Hopsworks says 110011 "Dataset not found." for a missing top-level
  dataset); downloading a directory is 400. Logs of final executions appear as files at their
  ``stdoutPath``/``stderrPath``; other files come from the seed's ``datasets`` or
  ``state.add_dataset_path``.
* ``/project/{id}/credentials`` returns placeholder key/trust stores, not real JKS/PEM material:
  nothing in the fake speaks mutual TLS.
* ``/variables/{name}`` knows a handful of variables; any other name is 404 120004 (the real error
  code was not checked).
* Python and Docker runs get a YARN-style ``appId`` too (on Kubernetes they have none), so the
  "stop before an appId is a no-op" rule applies to them during INITIALIZING only. An accepted stop
  turns the execution KILLED/KILLED ``stop_delay_s`` later on the fake's clock (default 1 s); real
  timing depends on YARN/Kubernetes.
* A log file is missing only for runs that never got an ``appId`` or jobs seeded with
  ``"log_files": false``; ``retriable`` is then set for every non-Python job (Hopsworks sets it only
  when aggregation can be retried). ``POST …/log/{type}`` (retry aggregation) is not served.
* Starting with ``application/json`` is 415 in 4.x mode (there is no JSON handler before 5.x); in
  5.x mode (``version="5…"``) a start without Content-Type is 415 as documented.
* Dates are always ISO strings (no epoch-ms mode); ``Users`` objects carry only ``uid``,
  ``username``, ``email``, ``fname``, ``lname``.
* Not served: ``/projectMembers`` and ``/check`` (JWT-only), job PUT/DELETE, schedules, alerts,
  ``/users/apiKey``.
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import signal
import socket
import ssl
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from .state import (
    PLATFORM_ROLES,
    ApiError,
    Execution,
    FakeClock,
    HopsworksState,
    Job,
    Project,
    User,
    iso,
    load_seed,
    log_path,
    web_error,
)

API_PREFIX = "/hopsworks-api/api"
GENERIC_ERROR = {"errorCode": 120000, "errorMsg": "A generic error occurred."}
SERVICES = ["JOBS", "KAFKA", "JUPYTER", "HIVE", "SERVING", "FEATURESTORE", "AIRFLOW"]


@dataclass(frozen=True)
class RecordedRequest:
    """One request as seen by the server. The Authorization header value is never stored."""

    method: str
    path: str  # raw (percent-encoded) path, without the query string
    query: dict[str, list[str]]
    headers: dict[str, str]  # all headers except Authorization
    body: str
    status: int
    auth_scheme: str | None = None  # "ApiKey", "Bearer", ... (scheme only)
    username: str | None = None  # authenticated caller, if authentication succeeded


@dataclass
class _Fault:
    status: int | None
    remaining: int | None  # None = until clear_faults()
    path_contains: str
    delay_s: float
    body: Any


@dataclass
class _Ctx:
    base: str  # absolute ".../hopsworks-api/api"
    method: str
    segs: list[str]
    query: dict[str, list[str]]
    body: bytes
    content_type: str
    user: User | None = None
    extra: dict[str, Any] = field(default_factory=dict)


Result = tuple[int, Any, dict[str, str]]


# ------------------------------------------------------------------------------------------ rendering
def _q(name: str) -> str:
    return quote(name, safe="")


def _collection(href: str, count: int, items: list[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"href": href, "count": count}
    if items:
        out["items"] = items
    return out


def _user_json(u: User) -> dict[str, Any]:
    return {"uid": u.uid, "username": u.username, "email": u.email, "fname": u.fname, "lname": u.lname}


def _user_dto(base: str, u: User | None, expand: bool) -> dict[str, Any]:
    if u is None:
        return {}
    out: dict[str, Any] = {"href": f"{base}/users/{u.uid}"}
    if expand:
        out.update(firstname=u.fname, lastname=u.lname, email=u.email, username=u.username)
    return out


def _team_row(st: HopsworksState, proj: Project, username: str) -> dict[str, Any]:
    role, since = proj.members[username]
    user = st.users[username]
    return {"project": {"id": proj.id, "name": proj.name, "owner": _user_json(st.users[proj.owner]),
                        "created": iso(proj.created), "description": proj.description},
            "user": _user_json(user), "teamRole": role, "timestamp": iso(since),
            "projectTeamPK": {"projectId": proj.id, "teamMember": user.email}}


def _project_dto(st: HopsworksState, proj: Project) -> dict[str, Any]:
    return {"projectId": proj.id, "projectName": proj.name, "owner": st.users[proj.owner].email,
            "description": proj.description, "dockerImage": f"{proj.name.lower()}:1.0",
            "created": iso(proj.created), "services": SERVICES,
            "projectTeam": [_team_row(st, proj, m) for m in proj.members],
            "inodeid": 100000 + proj.id, "isPreinstalledDockerImage": True, "isOldDockerImage": False,
            "creationStatus": "DONE"}


def _job_config(proj: Project, job: Job) -> dict[str, Any]:
    common = {"appName": job.name, "defaultArgs": job.default_args, "jobType": job.job_type}
    res = f"hdfs:///Projects/{proj.name}/Resources/{job.name}"
    if job.job_type in ("SPARK", "PYSPARK"):
        py = job.job_type == "PYSPARK"
        return {"type": "sparkJobConfiguration", **common, "appPath": res + (".py" if py else ".jar"),
                "mainClass": "org.apache.spark.deploy.PythonRunner" if py else "io.hops.examples.Main",
                "amQueue": "default", "amMemory": 2048, "amVCores": 1, "spark.executor.instances": 1,
                "spark.executor.cores": 1, "spark.executor.memory": 4096,
                "spark.dynamicAllocation.enabled": True}
    if job.job_type == "PYTHON":
        resources = {"type": "dockerResourcesConfiguration", "cores": 1, "memory": 2048, "gpus": 0}
        return {"type": "pythonJobConfiguration", **common, "appPath": f"{res}.py",
                "resourceConfig": resources}
    if job.job_type == "DOCKER":
        return {"type": "dockerJobConfiguration", **common, "imagePath": "python:3.11", "command": ["python"]}
    if job.job_type == "FLINK":
        return {"type": "flinkJobConfiguration", **common, "amQueue": "default", "jobmanager.heap.size": 1024}
    return {"type": "yarnJobConfiguration", **common, "amQueue": "default"}


def _exec_dto(st: HopsworksState, base: str, proj: Project, job: Job, ex: Execution,
              expand_user: bool = False) -> dict[str, Any]:
    v = ex.view(st.now())
    out: dict[str, Any] = {"href": f"{base}/project/{proj.id}/jobs/{_q(job.name)}/executions/{ex.id}",
                           "id": ex.id, "submissionTime": iso(ex.submitted), "state": v.state,
                           "finalStatus": v.final_status}
    if v.final:
        out.update(stdoutPath=log_path(proj, job, ex, v, "out"), stderrPath=log_path(proj, job, ex, v, "err"))
    if v.app_id:
        out["appId"] = v.app_id
    out.update(hdfsUser=f"{proj.name}__{ex.username}", args=ex.args, progress=v.progress,
               user=_user_dto(base, st.users.get(ex.username), expand_user), filesToRemove=[],
               duration=v.duration_ms)
    return out


def _job_dto(st: HopsworksState, base: str, proj: Project, job: Job,
             expands: dict[str, dict[str, Any]]) -> dict[str, Any]:
    href = f"{base}/project/{proj.id}/jobs/{_q(job.name)}"
    out: dict[str, Any] = {"href": href, "id": job.id, "name": job.name, "creationTime": iso(job.created),
                           "config": _job_config(proj, job), "jobType": job.job_type,
                           "creator": _user_dto(base, st.users.get(job.creator), "creator" in expands)}
    if "executions" in expands:
        sub = expands["executions"]
        count, execs = st.list_executions(job, sub["offset"], sub["limit"], sub["sort_by"], sub["filter_by"])
        items = [_exec_dto(st, base, proj, job, e, "user" in sub["expand"]) for e in execs]
        out["executions"] = _collection(f"{href}/executions", count, items)
    else:
        out["executions"] = {"href": f"{href}/executions"}
    return out


# ------------------------------------------------------------------------------------------ query params
def _int_param(query: dict[str, list[str]], name: str) -> int:
    raw = query.get(name, ["0"])[-1].strip() or "0"
    try:
        return int(raw)
    except ValueError:
        raise web_error(404, f"Invalid {name}: {raw}") from None


def _list_params(query: dict[str, list[str]]) -> dict[str, Any]:
    sort = ",".join(s for s in query.get("sort_by", []) if s.strip()) or None
    return {"offset": _int_param(query, "offset"), "limit": _int_param(query, "limit"), "sort_by": sort,
            "filter_by": [f for f in query.get("filter_by", []) if f.strip()],
            "expand": _expands(query.get("expand", []), ("creator", "executions", "alerts", "user"))}


def _expands(values: list[str], allowed: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """Parse ``expand=executions(offset=0;limit=1;sort_by=submissiontime:desc)&expand=creator``.

    Each ``expand`` value is one name (with an optional parenthesised sub-query): Hopsworks converts
    the whole value to one expansion, so ``expand=creator,executions`` fails like an unknown name."""
    out: dict[str, dict[str, Any]] = {}
    for item in values:
        if not item.strip():
            continue
        m = re.fullmatch(r"\s*([A-Za-z_]+)\s*(?:\(([^)]*)\))?\s*", item)
        name = m.group(1).lower() if m else item
        if m is None or name not in allowed:
            raise web_error(404, f"Expand by need to set a valid expand parameter, but found: {name}")
        sub: dict[str, list[str]] = {}
        for part in (m.group(2) or "").split(";"):
            key, sep, val = part.partition("=")
            if sep:
                sub.setdefault(key.strip().lower(), []).append(val.strip())
        out[name] = _list_params(sub) if name != "alerts" else {}
    return out


# ------------------------------------------------------------------------------------------ handlers
def _projects(st: HopsworksState, c: _Ctx) -> Result:
    assert c.user is not None
    return 200, [_team_row(st, p, c.user.username) for p in st.projects_of(c.user)], {}


def _project(st: HopsworksState, c: _Ctx) -> Result:
    return 200, _project_dto(st, c.extra["project"]), {}


def _jobs(st: HopsworksState, c: _Ctx) -> Result:
    proj, lp = c.extra["project"], _list_params(c.query)
    count, jobs = st.list_jobs(proj, lp["offset"], lp["limit"], lp["sort_by"], lp["filter_by"])
    items = [_job_dto(st, c.base, proj, j, lp["expand"]) for j in jobs]
    return 200, _collection(f"{c.base}/project/{proj.id}/jobs", count, items), {}


def _job(st: HopsworksState, c: _Ctx) -> Result:
    exp = _list_params(c.query)["expand"]
    return 200, _job_dto(st, c.base, c.extra["project"], c.extra["job"], exp), {}


def _executions(st: HopsworksState, c: _Ctx) -> Result:
    proj, job, lp = c.extra["project"], c.extra["job"], _list_params(c.query)
    count, execs = st.list_executions(job, lp["offset"], lp["limit"], lp["sort_by"], lp["filter_by"])
    items = [_exec_dto(st, c.base, proj, job, e, "user" in lp["expand"]) for e in execs]
    return 200, _collection(f"{c.base}/project/{proj.id}/jobs/{_q(job.name)}/executions", count, items), {}


def _start(st: HopsworksState, c: _Ctx) -> Result:
    """4.x has one ``text/plain`` handler (any or no Content-Type reaches it); 5.x adds an
    ``application/json`` one, so a request without Content-Type matches neither (415)."""
    ctype = c.content_type.split(";")[0].strip().lower()
    five = st.major_version() >= 5
    if ctype == "text/plain" or (not five and ctype in ("", "application/octet-stream")):
        args: Any = c.body.decode("utf-8", errors="replace")
    elif ctype == "application/json" and five:
        try:
            doc = json.loads(c.body or b"{}")
        except ValueError:
            raise web_error(400, "HTTP 400 Bad Request") from None
        args = doc.get("args") if isinstance(doc, dict) else None
    else:
        raise web_error(415, "HTTP 415 Unsupported Media Type")
    assert c.user is not None
    proj, job = c.extra["project"], c.extra["job"]
    ex = st.start_execution(c.user, proj, job, str(args) if args and str(args).strip() else None)
    dto = _exec_dto(st, c.base, proj, job, ex)
    return 201, dto, {"Location": dto["href"]}


def _execution(st: HopsworksState, c: _Ctx) -> Result:
    proj, job, ex = c.extra["project"], c.extra["job"], c.extra["execution"]
    if c.method == "DELETE":
        st.delete_execution(ex)
        return 204, None, {}
    exp = "user" in _list_params(c.query)["expand"]
    return 200, _exec_dto(st, c.base, proj, job, ex, exp), {}


def _stop(st: HopsworksState, c: _Ctx) -> Result:
    proj, job, ex = c.extra["project"], c.extra["job"], c.extra["execution"]
    return 202, _exec_dto(st, c.base, proj, job, st.stop_execution(ex)), {}


def _log(st: HopsworksState, c: _Ctx) -> Result:
    proj, job, ex = c.extra["project"], c.extra["job"], c.extra["execution"]
    return 200, st.log(proj, job, ex, c.segs[-1]), {}


class RawBody(bytes):
    """A non-JSON response body (a downloaded file)."""


VARIABLES = {"enable_data_science_profile": "false", "enable_flyingduck": "false",
             "service_discovery_domain": "", "hopsworks_enterprise": "false"}


def _versions(st: HopsworksState, c: _Ctx) -> Result:
    return 200, [{"software": "hopsworks", "version": st.version}, {"software": "hive", "version": "3.0.0.13"},
                 {"software": "spark", "version": "3.1.1.3"}, {"software": "python", "version": "3.10"}], {}


def _variable(st: HopsworksState, c: _Ctx) -> Result:
    name = c.segs[-1]
    if name not in VARIABLES:
        raise ApiError(404, 120004, "Web application exception occurred", f"Variable {name} not found")
    return 200, {"successMessage": VARIABLES[name]}, {}


def _credentials(st: HopsworksState, c: _Ctx) -> Result:
    """Placeholder key/trust stores: the fake runs no TLS-authenticated services that would use them."""
    assert c.user is not None
    proj = c.extra["project"]
    owner = f"{proj.name}__{c.user.username}".encode()
    b64 = base64.b64encode
    return 200, {"kStore": b64(b"fake keystore of " + owner).decode(),
                 "tStore": b64(b"fake truststore of " + owner).decode(),
                 "password": "fake-material-password",
                 "caChain": "-----BEGIN CERTIFICATE-----\nZmFrZQ==\n-----END CERTIFICATE-----\n",
                 "clientCert": "-----BEGIN CERTIFICATE-----\nZmFrZQ==\n-----END CERTIFICATE-----\n",
                 "clientKey": "-----BEGIN PRIVATE KEY-----\nZmFrZQ==\n-----END PRIVATE KEY-----\n"}, {}


def _inode(st: HopsworksState, c: _Ctx, proj: Project, rel: str, is_dir: bool, content: str,
           mtime: float) -> dict[str, Any]:
    owner = st.users.get(proj.owner)
    path = f"/Projects/{proj.name}" + (f"/{rel}" if rel else "")
    return {"href": f"{c.base}/project/{proj.id}/dataset/{quote(rel)}",
            "attributes": {"name": rel.rsplit("/", 1)[-1] if rel else proj.name, "path": path,
                           "dir": is_dir, "owner": f"{owner.fname} {owner.lname}" if owner else proj.owner,
                           "group": proj.name, "permission": "rwxrwx--T" if is_dir else "rw-rw----",
                           "modificationTime": iso(mtime), "accessTime": iso(mtime),
                           "size": 0 if is_dir else len(content.encode("utf-8")), "underConstruction": False},
            "datasetType": "DATASET"}


def _dataset_entry(st: HopsworksState, proj: Project, raw: str) -> tuple[str, tuple[bool, str, float]]:
    rel = st.dataset_relpath(proj, raw)
    entry = st.dataset_entry(proj, rel) if rel is not None else None
    if rel is None or entry is None:
        raise ApiError(404, 110008, "File not found.", f"path: {raw}")
    return rel, entry


def _dataset(st: HopsworksState, c: _Ctx) -> Result:
    """``GET /project/{id}/dataset/<path>``: ``action=stat`` (the default) or ``action=listing``."""
    proj = c.extra["project"]
    action = (c.query.get("action", ["stat"])[-1] or "stat").lower()
    if action not in ("stat", "listing"):
        raise web_error(404, f"Unsupported action: {action}")
    rel, (is_dir, content, mtime) = _dataset_entry(st, proj, c.extra["path"])
    if action == "stat":
        return 200, _inode(st, c, proj, rel, is_dir, content, mtime), {}
    names = st.dataset_children(proj, rel) if is_dir else [rel.rsplit("/", 1)[-1]]
    parent = rel if is_dir else rel.rpartition("/")[0]
    items = []
    for name in names:
        child = f"{parent}/{name}" if parent else name
        child_entry = st.dataset_entry(proj, child)
        if child_entry is not None:
            items.append(_inode(st, c, proj, child, *child_entry))
    lp = _list_params(c.query)
    page = items[lp["offset"]:] if lp["offset"] > 0 else items
    page = page[:lp["limit"]] if lp["limit"] > 0 else page
    return 200, _collection(f"{c.base}/project/{proj.id}/dataset/{quote(rel)}", len(items), page), {}


def _download(st: HopsworksState, c: _Ctx) -> Result:
    """``GET /project/{id}/dataset/download/with_auth/<path>?type=DATASET``: the file's bytes."""
    proj = c.extra["project"]
    _rel, (is_dir, content, _mtime) = _dataset_entry(st, proj, c.extra["path"])
    if is_dir:
        raise ApiError(400, 110011, "Path is a directory.", f"path: {c.extra['path']}")
    return 200, RawBody(content.encode("utf-8")), {"Content-Disposition": "attachment"}


Handler = Callable[[HopsworksState, _Ctx], Result]
#: Platform roles allowed per route (``@ApiKeyRequired(allowedUserRoles=…)``, hopsworks-rest.md §1.4).
ALL_ROLES = frozenset(PLATFORM_ROLES)
NOT_AGENT = frozenset({"HOPS_ADMIN", "HOPS_USER", "HOPS_SERVICE_USER"})
USERS_ONLY = frozenset({"HOPS_ADMIN", "HOPS_USER"})
_EXEC = ["project", "{pid}", "jobs", "{job}", "executions"]
# (path pattern, {method: (handler, allowed roles)}, required API-key scope or None).
# "{pid}"/"{eid}" = int ids, "{path+}" = one or more segments (a dataset path), "{x}" = any one segment.
ROUTES: list[tuple[list[str], dict[str, tuple[Handler, frozenset[str]]], str | None]] = [
    (["project"], {"GET": (_projects, NOT_AGENT)}, "PROJECT"),
    (["project", "getProjectInfo", "{pname}"], {"GET": (_project, ALL_ROLES)}, "PROJECT"),
    (["project", "{pid}"], {"GET": (_project, NOT_AGENT)}, "PROJECT"),
    (["project", "{pid}", "credentials"], {"GET": (_credentials, NOT_AGENT)}, "PROJECT"),
    (["project", "{pid}", "dataset", "download", "with_auth", "{path+}"], {"GET": (_download, NOT_AGENT)},
     "DATASET_VIEW"),
    (["project", "{pid}", "dataset", "{path+}"], {"GET": (_dataset, NOT_AGENT)}, "DATASET_VIEW"),
    (["project", "{pid}", "jobs"], {"GET": (_jobs, NOT_AGENT)}, "JOB"),
    (["project", "{pid}", "jobs", "{job}"], {"GET": (_job, NOT_AGENT)}, "JOB"),
    (_EXEC, {"GET": (_executions, ALL_ROLES), "POST": (_start, ALL_ROLES)}, "JOB"),
    (_EXEC + ["{eid}"], {"GET": (_execution, ALL_ROLES), "DELETE": (_execution, USERS_ONLY)}, "JOB"),
    (_EXEC + ["{eid}", "status"], {"PUT": (_stop, USERS_ONLY)}, "JOB"),
    (_EXEC + ["{eid}", "log", "{kind}"], {"GET": (_log, NOT_AGENT)}, "JOB"),
    (["variables", "versions"], {"GET": (_versions, ALL_ROLES)}, None),
    (["variables", "{name}"], {"GET": (_variable, ALL_ROLES)}, None),
]


def _match(segs: list[str]) -> tuple[dict[str, tuple[Handler, frozenset[str]]], str | None, dict[str, Any]]:
    for pattern, methods, scope in ROUTES:
        greedy = pattern[-1] == "{path+}"
        if len(pattern) != len(segs) and not (greedy and len(segs) >= len(pattern)):
            continue
        params: dict[str, Any] = {}
        for pat, seg in zip(pattern, segs, strict=False):
            if pat in ("{pid}", "{eid}"):
                if not re.fullmatch(r"-?\d{1,18}", seg):
                    break
                params[pat[1:-1]] = int(seg)
            elif pat == "{kind}":  # a JAX-RS enum parameter: case-insensitive
                if seg.lower() not in ("out", "err"):
                    break
                params["kind"] = seg.lower()
            elif pat == "{path+}":
                params["path"] = "/".join(segs[len(pattern) - 1:])
            elif pat.startswith("{"):
                params[pat[1:-1]] = seg
            elif pat != seg:
                break
        else:
            return methods, scope, params
    raise web_error(404, "HTTP 404 Not Found")


def _authenticate(st: HopsworksState, header: str | None, scope: str | None, roles: frozenset[str]) -> User:
    """ApiKeyFilter: the key, then the user's status, then the platform role, then the scope."""
    if header is None:
        raise ApiError(401, 200003, "Authorization header not set.")
    if header.startswith("Bearer "):
        raise ApiError(401, 200003, "Authorization method not supported.")
    if not header.startswith("ApiKey "):
        raise ApiError(401, 200003, "Invalidated Api key.")
    key = header[len("ApiKey "):].strip()
    user = st.authenticate(key)
    if user.role not in roles:
        raise ApiError(403, 320003, "No valid role found for this invocation")
    if scope is not None and scope not in st.key_scopes(key):
        raise ApiError(403, 320004, "No valid scope found for this invocation")
    return user


def dispatch(st: HopsworksState, c: _Ctx, auth_header: str | None) -> Result:
    """Route, authenticate, apply the project-role filter, run the handler (may raise ApiError)."""
    methods, scope, params = _match(c.segs)
    if c.method not in methods:
        raise web_error(405, "HTTP 405 Method Not Allowed")
    handler, roles = methods[c.method]
    c.user = _authenticate(st, auth_header, scope, roles)
    with st.lock:
        if "pid" in params or "pname" in params:
            c.extra["project"] = st.project_for(c.user, params.get("pid"), params.get("pname"))
        if "job" in params:
            c.extra["job"] = st.job(c.extra["project"], params["job"])
        if "eid" in params:
            c.extra["execution"] = st.execution_of(c.extra["job"], params["eid"])
        if "path" in params:
            c.extra["path"] = params["path"]
        return handler(st, c)


# ------------------------------------------------------------------------------------------ HTTP server
def _scheme(auth: str | None) -> str | None:
    """Only the scheme of the Authorization header is recorded, and only a known one (a bare key is not)."""
    if auth is None:
        return None
    scheme = auth.split(" ", 1)[0]
    return scheme if scheme in ("ApiKey", "Bearer", "Basic", "Digest") else "other"


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    fake: FakeHopsworks

    def server_activate(self) -> None:
        self.open_connections: set[Any] = set()
        self.connections_lock = threading.Lock()
        super().server_activate()

    def get_request(self) -> tuple[Any, Any]:
        request, address = super().get_request()
        with self.connections_lock:
            self.open_connections.add(request)
        return request, address

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.open_connections.discard(request)
        super().shutdown_request(request)

    def drop_connections(self) -> None:
        """Cut every keep-alive connection, as a Hopsworks that goes down would."""
        with self.connections_lock:
            connections, self.open_connections = list(self.open_connections), set()
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that drop the connection or speak plain HTTP to HTTPS are not server bugs.
        if isinstance(sys.exc_info()[1], (ssl.SSLError, ConnectionError)) and not self.fake.verbose:
            return
        super().handle_error(request, client_address)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else keep-alive clients hit 40 ms delayed-ACK stalls
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.fake.verbose:
            sys.stderr.write(f"{self.address_string()} {format % args}\n")

    def _handle(self) -> None:
        fake = self.server.fake
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        split = urlsplit(self.path)
        query = parse_qs(split.query, keep_blank_values=True)
        auth = self.headers.get("Authorization")
        headers: dict[str, str] = {}
        status, payload = 500, dict(GENERIC_ERROR)
        extra: dict[str, str] = {}
        fault = fake._take_fault(self.path)
        if fault is not None and fault.delay_s > 0:
            time.sleep(fault.delay_s)
        ctx = _Ctx("", self.command, [], query, body, self.headers.get("Content-Type", ""))
        try:
            if fault is not None and fault.status is not None:
                status, payload = fault.status, fault.body if fault.body is not None else dict(GENERIC_ERROR)
            elif split.path != API_PREFIX and not split.path.startswith(API_PREFIX + "/"):
                raise web_error(404, "HTTP 404 Not Found")
            else:
                host = self.headers.get("Host") or f"{fake.host}:{fake.port}"
                ctx.base = f"{fake.scheme}://{host}{API_PREFIX}"
                ctx.segs = [unquote(s) for s in split.path[len(API_PREFIX):].strip("/").split("/") if s]
                status, payload, extra = dispatch(fake.state, ctx, auth)
        except ApiError as err:
            status, payload = err.status, err.body()
        except Exception:  # any bug becomes Hopsworks' generic 500
            traceback.print_exc(file=sys.stderr)
            status, payload = 500, dict(GENERIC_ERROR)
        if status == 401:
            headers["WWW-Authenticate"] = 'Bearer realm="Cauth Realm"'
        headers.update(extra)
        fake._record(RecordedRequest(
            self.command, split.path, query,
            {k: v for k, v in self.headers.items() if k.lower() != "authorization"},
            body.decode("utf-8", errors="replace"), status,
            _scheme(auth), ctx.user.username if ctx.user else None))
        self._send(status, payload, headers)

    def _send(self, status: int, payload: Any, headers: dict[str, str]) -> None:
        raw = isinstance(payload, RawBody)
        if payload is None or status == 204:
            data = b""
        else:
            data = bytes(payload) if raw else json.dumps(payload).encode("utf-8")
        self.send_response(status)
        if data:
            self.send_header("Content-Type", "application/octet-stream" if raw else "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _handle


class FakeHopsworks:
    """A fake Hopsworks REST server on a daemon thread. ``with FakeHopsworks(seed).start() as srv: ...``"""

    def __init__(self, seed: dict[str, Any] | None = None, clock: FakeClock | None = None,
                 verbose: bool = False, *, version: str | None = None,
                 stop_delay_s: float | None = None) -> None:
        """``version`` (default: the seed's, else 4.2.0) picks version-specific behaviour: from "5"
        on, starting an execution needs an explicit Content-Type. ``stop_delay_s``: seconds (on the
        state's clock) between an accepted stop and the KILLED state."""
        seed = dict(seed if seed is not None else load_seed("test"))
        if version is not None:
            seed["version"] = version
        if stop_delay_s is not None:
            seed["stop_delay_s"] = stop_delay_s
        self.state = HopsworksState(seed, clock)
        self.clock = clock
        self.verbose = verbose
        self.host, self.port, self.scheme = "127.0.0.1", 0, "http"
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._faults: list[_Fault] = []
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self, host: str = "127.0.0.1", port: int = 0,
              ssl_context: ssl.SSLContext | None = None) -> FakeHopsworks:
        httpd = _HTTPServer((host, port), _RequestHandler)
        httpd.fake = self
        if ssl_context is not None:
            # Handshake lazily in the request thread so a bad client cannot block the accept loop.
            httpd.socket = ssl_context.wrap_socket(httpd.socket, server_side=True,
                                                   do_handshake_on_connect=False)
            self.scheme = "https"
        self._httpd, self.host, self.port = httpd, host, int(httpd.server_address[1])
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"fake-hopsworks-{self.port}", daemon=True)
        self._thread.start()
        return self

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    @property
    def api_url(self) -> str:
        return self.url + API_PREFIX

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd.drop_connections()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeHopsworks:
        if self._httpd is None:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- request recording
    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot copy of the recorded requests (oldest first)."""
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    def _record(self, req: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(req)

    # ---- fault injection
    def inject_fault(self, status: int | None = 503, count: int | None = 1, path_contains: str = "",
                     delay_s: float = 0.0, body: Any = None) -> None:
        """Make the next ``count`` requests whose path+query contains ``path_contains`` (raw or decoded)
        sleep ``delay_s`` and answer ``status`` (None = answer normally). ``count=None``: until cleared."""
        if count is not None and count <= 0:
            return
        with self._lock:
            self._faults.append(_Fault(status, count, path_contains, delay_s, body))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def _take_fault(self, target: str) -> _Fault | None:
        with self._lock:
            for f in self._faults:
                if f.path_contains in target or f.path_contains in unquote(target):
                    if f.remaining is not None:
                        f.remaining -= 1
                        if f.remaining <= 0:
                            self._faults.remove(f)
                    return f
        return None


def main(argv: list[str] | None = None) -> int:
    """Console entry point: ``fake-hopsworks --seed demo --host 127.0.0.1 --port 0``."""
    ap = argparse.ArgumentParser(prog="fake-hopsworks", description="Run a fake Hopsworks REST API server.")
    ap.add_argument("--seed", default="demo", help='bundled seed name ("demo", "test") or JSON file path')
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0, help="0 = pick a free port")
    ap.add_argument("--port-file", help="write the port number to this file once listening")
    ap.add_argument("--certfile", help="serve HTTPS with this PEM certificate (and --keyfile)")
    ap.add_argument("--keyfile")
    ap.add_argument("--hopsworks-version", help="Hopsworks version to mimic (default: the seed's, else 4.2.0)")
    ap.add_argument("--verbose", action="store_true", help="log requests to stderr")
    args = ap.parse_args(argv)
    ctx = None
    if args.certfile:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.certfile, args.keyfile)
    srv = FakeHopsworks(load_seed(args.seed), verbose=args.verbose,
                        version=args.hopsworks_version).start(args.host, args.port, ctx)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    if args.port_file:
        tmp = Path(args.port_file + ".tmp")
        tmp.write_text(str(srv.port), encoding="utf-8")
        tmp.replace(args.port_file)  # atomic: readers never see an empty file
    print(f"Fake Hopsworks listening on {srv.url}", flush=True)
    while not stop.wait(0.2):
        pass
    srv.stop()
    return 0
