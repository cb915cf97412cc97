"""In-memory model of the fake Hopsworks: users, API keys, projects, jobs, executions (no HTTP here).

Seed format (a JSON object; every field optional unless noted)::

    {"service_user": "airflow",          # added as "Data scientist" to every project
     "member_everywhere": ["airflow_ui"], # more users added as "Data scientist" to every project
     "version": "4.2.0",                 # Hopsworks version; >= 5 means two start handlers (415 w/o type)
     "stop_delay_s": 1.0,                # how long after an accepted stop the execution turns KILLED
     "users": [{"username": "alice",     # required
                "email": "alice@example.com", "fname": "Alice", "lname": "Doe", "uid": 10000,
                "role": "HOPS_USER|HOPS_ADMIN|HOPS_SERVICE_USER|AGENT",   # platform role (default HOPS_USER)
                "status": "active|blocked|deactivated"}],
     "api_keys": [{"key": "<16-char prefix>.<64-char secret>", "username": "alice",
                   "scopes": ["JOB", "PROJECT"], "name": "my-key"}],
     "projects": [{"id": 119, "name": "demo_fs", "owner": "alice", "description": "",
                   "created": "2024-03-01T10:15:30.000Z",
                   "members": {"bob": "Data scientist"},           # the owner is always "Data owner"
                   "datasets": {"Resources/data.csv": "a,b\n", "Airflow": null},  # files (text) / dirs (null)
                   "jobs": [{"name": "etl", "type": "PYSPARK", "creator": "alice",
                             "duration_s": 5, "outcome": "SUCCEEDED", "defaultArgs": "",
                             "stdout": "text", "stdout_repeat": 1, "stderr": "text",
                             "log_files": true,     # false: the runs leave no log files behind
                             "created": "<iso date>",
                             "history": [{"args": "", "outcome": "SUCCEEDED", "ago_s": 3600,
                                          "duration_s": 5, "user": "alice"}]}]}]}

Execution timeline (lazy, computed from the clock; submitted at t0, duration d = ``duration_s``):
``[t0, t0+0.1d)`` INITIALIZING, ``[0.1d, 0.2d)`` SUBMITTED, ``[0.2d, 0.9d)`` RUNNING,
``[0.9d, d)`` AGGREGATING_LOGS, then the outcome: SUCCEEDED -> FINISHED/SUCCEEDED; FAILED ->
FINISHED/FAILED for SPARK, PYSPARK and FLINK (what YARN reports for an application that failed
by itself) but FAILED/FAILED for PYTHON, DOCKER and YARN; KILLED -> KILLED/KILLED; other failure
states -> <state>/FAILED. INITIALIZATION_FAILED ends at t0+0.1d without appId. ``appId`` exists
from SUBMITTED on, ``duration`` (ms) counts from the start of RUNNING, ``progress`` goes 0 -> 1
during RUNNING. Per-execution overrides in the args string: ``--fail`` forces FAILED,
``--duration N`` sets d.

A stop is a no-op while the execution has no ``appId`` or once it is final; otherwise it is
accepted and the execution turns KILLED/KILLED ``stop_delay_s`` later (unless it ended first).

Each project has a small dataset tree (seed ``datasets``, :meth:`HopsworksState.add_dataset_path`);
every final execution's ``stdoutPath``/``stderrPath`` are files in it holding the full log.
"""

from __future__ import annotations

import hmac
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SEEDS_DIR = Path(__file__).parent / "seeds"
ALLOWED_PROJECT_ROLES = ("Data owner", "Data scientist")
JOB_TYPES = ("YARN", "FLINK", "SPARK", "PYSPARK", "ERASURE_CODING", "DOCKER", "PYTHON")
JOB_STATES = (
    "INITIALIZING", "INITIALIZATION_FAILED", "FINISHED", "RUNNING", "ACCEPTED", "FAILED", "KILLED", "NEW",
    "NEW_SAVING", "SUBMITTED", "AGGREGATING_LOGS", "FRAMEWORK_FAILURE", "STARTING_APP_MASTER",
    "APP_MASTER_START_FAILED", "GENERATING_SECURITY_MATERIAL", "CONVERTING_NOTEBOOK",
)
FINAL_STATUSES = ("UNDEFINED", "SUCCEEDED", "FAILED", "KILLED")
OUTCOME_STATE = {"SUCCEEDED": ("FINISHED", "SUCCEEDED"), "FINISHED": ("FINISHED", "SUCCEEDED"),
                 "KILLED": ("KILLED", "KILLED")}
INIT_END, SUBMIT_END, RUN_END = 0.1, 0.2, 0.9
#: Platform roles (user groups) of Hopsworks users.
PLATFORM_ROLES = ("HOPS_ADMIN", "HOPS_USER", "HOPS_SERVICE_USER", "AGENT")
#: Job types YARN runs; a failed run ends FINISHED with final status FAILED.
YARN_FINISHED_TYPES = ("SPARK", "PYSPARK", "FLINK")
#: Logs over this many bytes are not returned by the log endpoint (Settings L1649).
MAX_LOG_BYTES = 1_000_000
LOG_TOO_BIG = "Log is too big to display in browser. Click on the download button to get the log file."
DEFAULT_VERSION = "4.2.0"
DEFAULT_STOP_DELAY_S = 1.0
USER_STATUS_ERRORS = {"BLOCKED": (160007, "Your account has been blocked. Contact the administrator."),
                      "DEACTIVATED": (160005, "This account has been deactivated.")}
JOB_SORTS = {"id": False, "name": False, "date_created": True, "jobtype": False, "creator": False,
             "creator_first_name": False, "creator_last_name": False, "state": False,
             "finalstatus": False, "progress": False, "submissiontime": True, "duration": False}
EXEC_SORTS = {"id": False, "submissiontime": True, "user": False, "user_first_name": False,
              "user_last_name": False, "state": False, "finalstatus": False, "appid": True,
              "progress": False, "duration": False}
JOB_FILTERS = ("name", "jobtype", "jobtype_neq", "creator", "latest_execution", "latest_execution_state",
               "date_created", "date_created_gt", "date_created_lt")
EXEC_FILTERS = ("state", "state_neq", "finalstatus", "finalstatus_neq", "submissiontime",
                "submissiontime_gt", "submissiontime_lt")


class ApiError(Exception):
    """A Hopsworks REST error: HTTP status plus the JSON body fields."""

    def __init__(self, status: int, code: int, msg: str, usr_msg: str | None = None) -> None:
        super().__init__(f"{status} {code} {msg}")
        self.status, self.code, self.msg, self.usr_msg = status, code, msg, usr_msg

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"errorCode": self.code, "errorMsg": self.msg}
        if self.usr_msg is not None:
            out["usrMsg"] = self.usr_msg
        return out


def web_error(status: int, usr_msg: str | None = None) -> ApiError:
    return ApiError(status, 120004, "Web application exception occurred", usr_msg)


class FakeClock:
    """Manual clock: time only moves when ``advance`` is called."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = float(start)
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        with self._lock:
            self._now += seconds
            return self._now


def load_seed(name_or_path: str | Path) -> dict[str, Any]:
    """Load a bundled seed ("demo", "test") or a JSON file path."""
    path = Path(name_or_path)
    if not path.suffix and not path.exists():
        path = SEEDS_DIR / f"{name_or_path}.json"
    with open(path, encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data


def iso(ts: float) -> str:
    """Epoch seconds -> ``2024-03-01T10:15:30.123Z`` (Hopsworks' Jackson date pattern)."""
    ms = int(round(ts * 1000))
    return datetime.fromtimestamp(ms // 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{ms % 1000:03d}Z"


_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}(:?\d{2})?)?)?$")


def parse_date(text: str) -> float:
    """Parse the date formats Hopsworks accepts in filters; 404/310000 otherwise (naive = UTC)."""
    text = text.strip().replace(" ", "+")  # '+' in an unencoded query string arrives as a space
    if not _DATE_RE.match(text):
        raise ApiError(404, 310000, "Invalid query.", f"Invalid date: {text}")
    if re.search(r"[+-]\d{4}$", text):
        text = text[:-2] + ":" + text[-2:]
    elif re.search(r"T.*[+-]\d{2}$", text):
        text += ":00"
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp()


@dataclass
class User:
    uid: int
    username: str
    email: str
    fname: str
    lname: str
    role: str = "HOPS_USER"
    status: str = "ACTIVATED"


@dataclass
class ApiKey:
    prefix: str
    secret: str
    username: str
    scopes: frozenset[str]
    name: str = ""


@dataclass
class Job:
    id: int
    name: str
    project_id: int
    job_type: str
    creator: str
    created: float
    duration_s: float = 5.0
    outcome: str = "SUCCEEDED"
    default_args: str = ""
    stdout: str | None = None
    stdout_repeat: int = 1
    stderr: str | None = None
    log_files: bool = True


@dataclass
class Project:
    id: int
    name: str
    owner: str
    created: float
    description: str = ""
    members: dict[str, tuple[str, float]] = field(default_factory=dict)  # username -> (role, since)
    jobs: dict[str, Job] = field(default_factory=dict)
    files: dict[str, str | None] = field(default_factory=dict)  # relative path -> text (None: a directory)


@dataclass
class ExecView:
    """Computed state of an execution at one instant."""

    state: str
    final_status: str
    progress: float
    duration_ms: int
    app_id: str | None
    final: bool


@dataclass
class Execution:
    id: int
    job_id: int
    job_name: str
    project_id: int
    username: str
    args: str
    submitted: float
    duration_s: float
    outcome: str
    killed_at: float | None = None
    job_type: str = "PYSPARK"

    def view(self, now: float) -> ExecView:
        d, t = max(self.duration_s, 0.0), (now if self.killed_at is None else min(now, self.killed_at))
        el = t - self.submitted
        init_failed = self.outcome == "INITIALIZATION_FAILED"
        end = d * INIT_END if init_failed else d
        reached = el >= end
        app_id = None
        if el >= d * INIT_END and not init_failed:
            app_id = f"application_{int(self.submitted * 1000)}_{self.id:04d}"
        run_start, run_end = d * SUBMIT_END, d * RUN_END
        duration = 0 if init_failed or el < run_start else int(round((min(el, end) - run_start) * 1000))
        progress = 0.0 if el < run_start else min(1.0, (el - run_start) / max(run_end - run_start, 1e-9))
        if self.killed_at is not None and now >= self.killed_at and not reached:
            return ExecView("KILLED", "KILLED", round(progress, 4), duration, app_id, True)
        if reached:
            if self.outcome == "FAILED" and self.job_type in YARN_FINISHED_TYPES:
                state, final = "FINISHED", "FAILED"
            else:
                state, final = OUTCOME_STATE.get(self.outcome, (self.outcome, "FAILED"))
            return ExecView(state, final, 1.0, duration, app_id, True)
        if el < d * INIT_END:
            state = "INITIALIZING"
        elif el < run_start:
            state = "SUBMITTED"
        elif el < run_end:
            state = "RUNNING"
        else:
            state = "AGGREGATING_LOGS"
        return ExecView(state, "UNDEFINED", round(progress, 4), duration, app_id, False)


def _parse_sort(spec: str | None, fields: dict[str, bool]) -> list[tuple[str, bool]]:
    out: list[tuple[str, bool]] = []
    for part in (spec or "").split(","):
        if not part.strip():
            continue
        name, _, order = part.strip().partition(":")
        name, order = name.strip().lower(), order.strip().lower()
        if name not in fields or order not in ("", "asc", "desc"):
            raise web_error(404, f"Sort by need to set a valid sort parameter, but found: {part.strip()}")
        out.append((name, fields[name] if not order else order == "desc"))
    return out


def _parse_filters(raw: list[str], names: tuple[str, ...]) -> list[tuple[str, str]]:
    out = []
    for item in raw:
        name, sep, value = item.partition(":")
        if not sep or name.strip().lower() not in names:
            raise web_error(404, f"Filter by need to set a valid filter parameter, but found: {item}")
        out.append((name.strip().lower(), value.strip()))
    return out


def _enum_values(value: str, allowed: tuple[str, ...], exc: ApiError) -> set[str]:
    vals = {v.strip().upper() for v in value.split(",") if v.strip()}
    if not vals or not vals <= set(allowed):
        raise exc
    return vals


def _sorted(rows: list[Any], sorts: list[tuple[str, bool]], key: Callable[[Any, str], Any]) -> list[Any]:
    """Multi-key stable sort; NULLs first ascending / last descending like MySQL."""
    for name, desc in reversed(sorts):
        def k(row: Any, name: str = name) -> tuple[Any, ...]:
            v = key(row, name)
            return (0,) if v is None else (1, v.lower() if isinstance(v, str) else v)
        rows = sorted(rows, key=k, reverse=desc)
    return rows


def _page(rows: list[Any], offset: int, limit: int) -> list[Any]:
    rows = rows[offset:] if offset > 0 else rows
    return rows[:limit] if limit > 0 else rows


class HopsworksState:
    """The whole model. Every public method takes ``self.lock`` (re-entrant)."""

    def __init__(self, seed: dict[str, Any], clock: FakeClock | None = None) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self.users: dict[str, User] = {}
        self.keys: dict[str, ApiKey] = {}
        self.projects: dict[int, Project] = {}
        self.executions: dict[int, Execution] = {}
        self._next_job_id, self._next_exec_id = 1, 1
        self.service_user: str | None = seed.get("service_user")
        self.version = str(seed.get("version", DEFAULT_VERSION))
        self.stop_delay_s = float(seed.get("stop_delay_s", DEFAULT_STOP_DELAY_S))
        self._load(seed)

    def now(self) -> float:
        return self.clock.now() if self.clock is not None else time.time()

    def major_version(self) -> int:
        m = re.match(r"\s*(\d+)", self.version)
        return int(m.group(1)) if m else 4

    # ---------------------------------------------------------------- seeding
    def _load(self, seed: dict[str, Any]) -> None:
        now = self.now()
        for i, u in enumerate(seed.get("users", [])):
            name = u["username"]
            role = str(u.get("role", "HOPS_USER")).upper()
            if role not in PLATFORM_ROLES:
                raise ValueError(f"seed user {name!r}: unknown platform role {role!r}")
            self.users[name] = User(int(u.get("uid", 10000 + i)), name, u.get("email", f"{name}@example.com"),
                                    u.get("fname", name.capitalize()), u.get("lname", "User"),
                                    role, _status(u.get("status", "active")))
        everywhere = [self.service_user] if self.service_user else []
        everywhere += list(seed.get("member_everywhere", []))
        self.members_everywhere = list(everywhere)
        for k in seed.get("api_keys", []):
            self.add_api_key(k["key"], k["username"], k.get("scopes", ["JOB", "PROJECT"]), k.get("name", ""))
        for p in seed.get("projects", []):
            created = _date_or(p.get("created"), now - 30 * 86400)
            proj = Project(int(p["id"]), p["name"], p["owner"], created, p.get("description", ""))
            proj.members[p["owner"]] = ("Data owner", created)
            for user, role in p.get("members", {}).items():
                proj.members[user] = (role, created + 60)
            for extra in everywhere:
                if extra in self.users:
                    proj.members.setdefault(extra, ("Data scientist", created + 1))
            self.projects[proj.id] = proj
            for path, content in (p.get("datasets") or {}).items():
                self.add_dataset_path(proj.id, path, content)
            for j, job in enumerate(p.get("jobs", [])):
                self.add_job(proj.id, job, default_created=created + 3600 * (j + 1))
            if p.get("generated_jobs"):
                self._generate_jobs(proj, p["generated_jobs"], created)

    def _generate_jobs(self, proj: Project, gen: dict[str, Any], created: float) -> None:
        """A seed's ``"generated_jobs": {"count": N, "kinds": [...], "creators": [...]}``: N jobs named
        ``<kind>_<NNN>`` with types, creators, durations, outcomes and (every other job) a past run or
        two varied deterministically, so a demo project has enough jobs to page, sort and search."""
        kinds = gen.get("kinds") or ["job"]
        types = gen.get("types") or ["PYSPARK", "PYTHON", "SPARK", "DOCKER"]
        creators = gen.get("creators") or [proj.owner]
        count = int(gen.get("count", 0))
        width = len(str(count))
        for i in range(1, count + 1):
            history = []
            if i % 2 == 0:
                history.append({"ago_s": 3600 * (i % 97 + 2), "outcome": "FAILED" if i % 11 == 0 else "SUCCEEDED",
                                "duration_s": 20 + i % 300, "user": creators[i % len(creators)]})
            if i % 6 == 0:
                history.append({"ago_s": 600 + 37 * i, "outcome": "SUCCEEDED", "duration_s": 5 + i % 90})
            self.add_job(proj.id, {
                "name": f"{kinds[i % len(kinds)]}_{i:0{width}d}", "type": types[i % len(types)],
                "creator": creators[i % len(creators)], "duration_s": 5 + i % 40,
                "outcome": "FAILED" if i % 13 == 0 else "SUCCEEDED", "history": history,
            }, default_created=created + 600 * i)

    def add_api_key(self, key: str, username: str, scopes: list[str], name: str = "") -> None:
        prefix, _, secret = key.partition(".")
        with self.lock:
            self.keys[prefix] = ApiKey(prefix, secret, username, frozenset(s.upper() for s in scopes), name)

    def add_job(self, project_id: int, spec: dict[str, Any], default_created: float | None = None) -> Job:
        """Add a job from a seed-style dict (plus optional past executions under "history")."""
        with self.lock:
            proj = self.projects[project_id]
            created = _date_or(spec.get("created"), default_created or self.now())
            job = Job(self._next_job_id, spec["name"], project_id, spec.get("type", "PYSPARK").upper(),
                      spec.get("creator", proj.owner), created, float(spec.get("duration_s", 5)),
                      spec.get("outcome", "SUCCEEDED").upper(), spec.get("defaultArgs", ""),
                      spec.get("stdout"), int(spec.get("stdout_repeat", 1)), spec.get("stderr"),
                      bool(spec.get("log_files", True)))
            self._next_job_id += 1
            proj.jobs[job.name] = job
            for h in sorted(spec.get("history", []), key=lambda h: -float(h.get("ago_s", 3600))):
                ex = self._new_execution(job, h.get("user", job.creator), h.get("args", job.default_args),
                                         self.now() - float(h.get("ago_s", 3600)))
                ex.outcome = h.get("outcome", ex.outcome).upper()
                ex.duration_s = float(h.get("duration_s", ex.duration_s))
            return job

    def add_jobs(self, project_id: int, n: int, prefix: str = "job_", **spec: Any) -> list[str]:
        """Bulk-add ``n`` jobs named ``<prefix>0001``… (zero-padded to the width of n)."""
        width = len(str(n))
        names = [f"{prefix}{i:0{width}d}" for i in range(1, n + 1)]
        with self.lock:
            for name in names:
                self.add_job(project_id, {**spec, "name": name})
        return names

    def add_projects(self, n: int, first_id: int, prefix: str = "proj_",
                     members: dict[str, str] | None = None, jobs: int = 0) -> list[int]:
        """Bulk-add ``n`` projects with ids ``first_id``… named ``<prefix>0001``…, owned by the service
        user (or the first member), each with ``members`` (username -> role) and ``jobs`` jobs. Returns
        the ids (see :meth:`remove_projects`). The seed's service accounts join every one, as in the seed."""
        width = len(str(n))
        members = dict(members or {})
        owner = self.service_user or next(iter(members), "admin")
        now = self.now()
        ids = list(range(first_id, first_id + n))
        with self.lock:
            for i, pid in enumerate(ids, start=1):
                if pid in self.projects:
                    raise ValueError(f"project id {pid} exists already")
                proj = Project(pid, f"{prefix}{i:0{width}d}", owner, now - 86400)
                proj.members[owner] = ("Data owner", now - 86400)
                for user, role in members.items():
                    proj.members.setdefault(user, (role, now - 86000))
                for extra in self.members_everywhere:
                    if extra in self.users:
                        proj.members.setdefault(extra, ("Data scientist", now - 86000))
                self.projects[pid] = proj
                if jobs:
                    self.add_jobs(pid, jobs, prefix=f"{proj.name}_job_")
        return ids

    def remove_projects(self, ids: list[int]) -> None:
        """Take back projects added by :meth:`add_projects` (with their jobs)."""
        with self.lock:
            for pid in ids:
                self.projects.pop(pid, None)

    # ---------------------------------------------------------------- auth / lookup
    def authenticate(self, key: str) -> User:
        """Validate ``<prefix>.<secret>``; raise the exact Hopsworks 401 errors."""
        prefix, dot, secret = key.partition(".")
        if not dot or not prefix or not secret:
            raise ApiError(401, 320012, "Invalid or incorrect API key.")
        with self.lock:
            api_key = self.keys.get(prefix)
            if api_key is None:
                raise ApiError(401, 320013, "API key not found in the database")
            if not hmac.compare_digest(api_key.secret.encode(), secret.encode()):
                raise ApiError(401, 320012, "Invalid or incorrect API key.")
            user = self.users[api_key.username]
            if user.status in USER_STATUS_ERRORS:
                raise ApiError(401, *USER_STATUS_ERRORS[user.status])
            return user

    def key_scopes(self, key: str) -> frozenset[str]:
        with self.lock:
            return self.keys[key.partition(".")[0]].scopes

    def project_for(self, user: User, project_id: int | None = None, name: str | None = None) -> Project:
        """Project-role filter: 404 150004 unknown, 403 160000 non-member, 403 150068 wrong role."""
        with self.lock:
            proj = self.projects.get(project_id) if project_id is not None else next(
                (p for p in self.projects.values() if p.name == name), None)
            if proj is None:
                raise ApiError(404, 150004, "Project wasn't found.")
            if user.username not in proj.members:
                raise ApiError(403, 160000, "No valid role found for this user")
            if proj.members[user.username][0] not in ALLOWED_PROJECT_ROLES:
                raise ApiError(403, 150068, "Your project role does not allow to perform this action.")
            return proj

    def projects_of(self, user: User) -> list[Project]:
        with self.lock:
            return [p for _, p in sorted(self.projects.items()) if user.username in p.members]

    def job(self, proj: Project, name: str) -> Job:
        job = proj.jobs.get(name)
        if job is None:
            raise ApiError(404, 130009, "Job not found.", f"jobId:{name}")
        return job

    def execution_of(self, job: Job, execution_id: int) -> Execution:
        with self.lock:
            ex = self.executions.get(execution_id)
            if ex is None:
                raise ApiError(404, 130007, "Execution not found.")
            if ex.job_id != job.id:
                raise ApiError(403, 130026, "This execution does not belong to a job of this project. ")
            return ex

    def get_execution(self, execution_id: int) -> dict[str, Any]:
        """Snapshot for tests: id, job, project, user, args, state, finalStatus, progress, duration, appId."""
        with self.lock:
            ex = self.executions[execution_id]
            v = ex.view(self.now())
            return {"id": ex.id, "jobName": ex.job_name, "projectId": ex.project_id, "user": ex.username,
                    "args": ex.args, "submissionTime": ex.submitted, "state": v.state,
                    "finalStatus": v.final_status, "progress": v.progress, "duration": v.duration_ms,
                    "appId": v.app_id}

    def executions_for(self, job: Job) -> list[Execution]:
        with self.lock:
            return [e for e in self.executions.values() if e.job_id == job.id]

    def latest(self, job: Job) -> Execution | None:
        execs = self.executions_for(job)
        return max(execs, key=lambda e: e.id) if execs else None

    # ---------------------------------------------------------------- executions
    def _new_execution(self, job: Job, username: str, args: str, submitted: float) -> Execution:
        outcome = "FAILED" if re.search(r"(^|\s)--fail(\s|$)", args) else job.outcome
        m = re.search(r"(?:^|\s)--duration[= ](\d+(?:\.\d+)?)", args)
        ex = Execution(self._next_exec_id, job.id, job.name, job.project_id, username, args, submitted,
                       float(m.group(1)) if m else job.duration_s, outcome, job_type=job.job_type)
        self._next_exec_id += 1
        self.executions[ex.id] = ex
        return ex

    def start_execution(self, user: User, proj: Project, job: Job, args: str | None) -> Execution:
        """Start a run; the Airflow service user (role AGENT) runs jobs as the job creator (HW >= 3.5)."""
        with self.lock:
            run_as = job.creator if user.role == "AGENT" and job.creator in self.users else user.username
            return self._new_execution(job, run_as, args or job.default_args, self.now())

    def stop_execution(self, ex: Execution) -> Execution:
        """Hopsworks' stop: a no-op without an ``appId`` or once final; otherwise YARN/Kubernetes is
        asked to kill it and the state changes ``stop_delay_s`` later (the caller gets 202 at once)."""
        with self.lock:
            now = self.now()
            v = ex.view(now)
            if v.final or v.app_id is None:
                return ex
            when = now + self.stop_delay_s
            if ex.killed_at is None or ex.killed_at > when:
                ex.killed_at = when
            return ex

    def delete_execution(self, ex: Execution) -> None:
        with self.lock:
            self.executions.pop(ex.id, None)

    def log(self, proj: Project, job: Job, ex: Execution, kind: str) -> dict[str, str]:
        """JobLogDTO as ``AbstractExecutionController.getLog`` builds it (see hopsworks-rest.md §1.5)."""
        kind = kind.lower()
        with self.lock:
            v = ex.view(self.now())
            if not v.final:
                raise ApiError(400, 130010, "Execution state is invalid.", "Job still running.")
            out: dict[str, str] = {"type": kind.upper()}
            text = self.log_file(proj, job, ex, v, kind)
            if text is None:  # no log file
                if job.job_type == "PYTHON":
                    out["log"] = "No log available."
                else:
                    out["retriable"] = "RETRIEABLE_OUT" if kind == "out" else "RETRIABLE_ERR"
                return out
            out["path"] = log_path(proj, job, ex, v, kind)
            if len(text.encode("utf-8")) > MAX_LOG_BYTES:
                out["log"] = LOG_TOO_BIG
            else:
                out["log"] = text or "No information."
            return out

    def log_file(self, proj: Project, job: Job, ex: Execution, v: ExecView, kind: str) -> str | None:
        """The content of an execution's stdout/stderr file, or None when there is no such file."""
        if not v.final or not job.log_files or v.app_id is None:
            return None
        return _log_text(job, ex, v, kind)

    # ---------------------------------------------------------------- datasets
    def add_dataset_path(self, project_id: int, path: str, content: str | bytes | None = "") -> None:
        """Create a file (``content`` text; ``None`` makes a directory) and its parent directories.

        ``path`` is relative to the project root (``Airflow/dag.py``) or absolute
        (``/Projects/<name>/Airflow/dag.py``)."""
        with self.lock:
            proj = self.projects[project_id]
            rel = self.dataset_relpath(proj, path)
            if rel is None or not rel:
                raise ValueError(f"not a path inside project {proj.name!r}: {path!r}")
            parts = rel.split("/")
            for i in range(1, len(parts)):
                proj.files.setdefault("/".join(parts[:i]), None)
            text = content.decode("utf-8", errors="replace") if isinstance(content, bytes) else content
            proj.files[rel] = text

    def remove_dataset_path(self, project_id: int, path: str) -> None:
        with self.lock:
            proj = self.projects[project_id]
            rel = self.dataset_relpath(proj, path) or ""
            for key in [k for k in proj.files if k == rel or k.startswith(rel + "/")]:
                del proj.files[key]

    @staticmethod
    def dataset_relpath(proj: Project, path: str) -> str | None:
        """``/Projects/p/A/b`` or ``A/b`` -> ``A/b``; None for a path outside the project."""
        parts = [p for p in path.replace("\\", "/").split("/") if p not in ("", ".")]
        if ".." in parts:
            return None
        if path.startswith("/") or (parts[:1] == ["Projects"]):
            if parts[:2] != ["Projects", proj.name]:
                return None
            parts = parts[2:]
        return "/".join(parts)

    def dataset_entry(self, proj: Project, rel: str) -> tuple[bool, str, float] | None:
        """``(is_dir, content, modification time)`` of a dataset path, or None when it does not exist.

        Explicit files first, then the log files of the project's final executions."""
        with self.lock:
            if rel == "":
                return True, "", proj.created
            if rel in proj.files:
                content = proj.files[rel]
                return content is None, content or "", proj.created
            if any(k.startswith(rel + "/") for k in proj.files):
                return True, "", proj.created
            now = self.now()
            logs_dir = False
            for ex in self.executions.values():
                if ex.project_id != proj.id:
                    continue
                job = proj.jobs.get(ex.job_name)
                if job is None:
                    continue
                v = ex.view(now)
                for kind in ("out", "err"):
                    file_rel = self.dataset_relpath(proj, log_path(proj, job, ex, v, kind)) or ""
                    if not (file_rel == rel or file_rel.startswith(rel + "/")):
                        continue
                    text = self.log_file(proj, job, ex, v, kind)
                    if text is None:
                        continue
                    if file_rel == rel:
                        return False, text, ex.submitted + v.duration_ms / 1000
                    logs_dir = True
            return (True, "", proj.created) if logs_dir else None

    def dataset_children(self, proj: Project, rel: str) -> list[str]:
        """Names directly under a directory (explicit files and log files)."""
        with self.lock:
            prefix = rel + "/" if rel else ""
            names = {k[len(prefix):].split("/")[0] for k in proj.files if k.startswith(prefix) and k != rel}
            now = self.now()
            for ex in self.executions.values():
                job = proj.jobs.get(ex.job_name) if ex.project_id == proj.id else None
                if job is None:
                    continue
                v = ex.view(now)
                for kind in ("out", "err"):
                    file_rel = self.dataset_relpath(proj, log_path(proj, job, ex, v, kind)) or ""
                    if file_rel.startswith(prefix) and self.log_file(proj, job, ex, v, kind) is not None:
                        names.add(file_rel[len(prefix):].split("/")[0])
            return sorted(n for n in names if n)

    # ---------------------------------------------------------------- listings
    def list_jobs(self, proj: Project, offset: int = 0, limit: int = 0, sort_by: str | None = None,
                  filter_by: list[str] | None = None) -> tuple[int, list[Job]]:
        sorts = _parse_sort(sort_by, JOB_SORTS)
        filters = _parse_filters(filter_by or [], JOB_FILTERS)
        with self.lock:
            now = self.now()
            latest: dict[int, Execution] = {}
            for e in self.executions.values():  # one pass: latest execution = highest id per job
                if e.project_id == proj.id and (e.job_id not in latest or e.id > latest[e.job_id].id):
                    latest[e.job_id] = e
            rows = []
            for job in sorted(proj.jobs.values(), key=lambda j: j.id):
                ex = latest.get(job.id)
                rows.append((job, ex, ex.view(now) if ex else None, self.users.get(job.creator)))
            for name, value in filters:
                rows = [r for r in rows if _job_matches(r, name, value)]
            rows = _sorted(rows, sorts, _job_key)
            return len(rows), [r[0] for r in _page(rows, offset, limit)]

    def list_executions(self, job: Job, offset: int = 0, limit: int = 0, sort_by: str | None = None,
                        filter_by: list[str] | None = None) -> tuple[int, list[Execution]]:
        sorts = _parse_sort(sort_by, EXEC_SORTS)
        filters = _parse_filters(filter_by or [], EXEC_FILTERS)
        with self.lock:
            now = self.now()
            rows = [(e, e.view(now), self.users.get(e.username))
                    for e in sorted(self.executions_for(job), key=lambda e: e.id)]
            for name, value in filters:
                rows = [r for r in rows if _exec_matches(r, name, value)]
            rows = _sorted(rows, sorts, _exec_key)
            return len(rows), [r[0] for r in _page(rows, offset, limit)]


def log_path(proj: Project, job: Job, ex: Execution, v: ExecView, kind: str) -> str:
    folder = "Spark" if job.job_type in ("SPARK", "PYSPARK") else job.job_type.capitalize()
    name = "stdout.log" if kind == "out" else "stderr.log"
    return f"/Projects/{proj.name}/Logs/{folder}/{v.app_id or f'execution_{ex.id}'}/{name}"


def _status(value: str) -> str:
    v = value.upper()
    return {"ACTIVE": "ACTIVATED", "BLOCK": "BLOCKED", "DEACTIVATE": "DEACTIVATED"}.get(v, v)


def _date_or(value: Any, default: float) -> float:
    if value is None:
        return default
    return float(value) / 1000 if isinstance(value, (int, float)) else parse_date(str(value))


def _full_name(user: User | None) -> str | None:
    return f"{user.fname} {user.lname}" if user else None


JobRow = tuple[Job, Execution | None, ExecView | None, User | None]


def _job_key(row: JobRow, name: str) -> Any:
    job, ex, v, user = row
    latest = {"state": v and v.state, "finalstatus": v and v.final_status, "progress": v and v.progress,
              "submissiontime": ex and ex.submitted, "duration": v and v.duration_ms}
    if name in latest:
        return latest[name]
    return {"id": job.id, "name": job.name, "date_created": job.created, "jobtype": job.job_type,
            "creator": _full_name(user), "creator_first_name": user and user.fname,
            "creator_last_name": user and user.lname}[name]


def _job_matches(row: JobRow, name: str, value: str) -> bool:
    job, _ex, v, user = row
    bad = ApiError(404, 310000, "Invalid query.", f"{name}:{value}")
    if name in ("jobtype", "jobtype_neq"):
        types = _enum_values(value, JOB_TYPES, bad)
        return (job.job_type in types) == (name == "jobtype")
    if name == "latest_execution_state":
        return v is not None and v.state in _enum_values(value, JOB_STATES, bad)
    if name.startswith("date_created"):
        ts = parse_date(value)
        ms, job_ms = int(round(ts * 1000)), int(round(job.created * 1000))
        return {"date_created": job_ms == ms, "date_created_gt": job_ms > ms,
                "date_created_lt": job_ms < ms}[name]
    pattern = like_pattern(value)
    names = [user.username, user.fname, user.lname] if user else [job.creator]
    if name == "name":
        hay = [job.name]
    elif name == "creator":
        hay = names
    else:  # latest_execution: free text
        hay = names + [job.name, job.job_type] + ([v.state, v.final_status] if v else [])
    return any(pattern.search(h) for h in hay)


def like_pattern(value: str) -> re.Pattern[str]:
    """SQL ``LIKE '%value%'`` (MySQL's case-insensitive collation): ``_`` is any one character,
    ``%`` any run of characters (JobFacade L388 does not escape them)."""
    body = "".join(".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in value)
    return re.compile(body, re.IGNORECASE | re.DOTALL)


def _exec_key(row: tuple[Execution, ExecView, User | None], name: str) -> Any:
    ex, v, user = row
    return {"id": ex.id, "submissiontime": ex.submitted, "user": _full_name(user),
            "user_first_name": user and user.fname, "user_last_name": user and user.lname, "state": v.state,
            "finalstatus": v.final_status, "appid": v.app_id, "progress": v.progress,
            "duration": v.duration_ms}[name]


def _exec_matches(row: tuple[Execution, ExecView, User | None], name: str, value: str) -> bool:
    ex, v, _user = row
    if name.startswith("submissiontime"):
        ms, ex_ms = int(round(parse_date(value) * 1000)), int(round(ex.submitted * 1000))
        return {"submissiontime": ex_ms == ms, "submissiontime_gt": ex_ms > ms,
                "submissiontime_lt": ex_ms < ms}[name]
    bad = ApiError(422, 120001, "An argument was not provided or it was malformed.", f"{name}:{value}")
    if name.startswith("state"):
        return (v.state in _enum_values(value, JOB_STATES, bad)) == (name == "state")
    return (v.final_status in _enum_values(value, FINAL_STATUSES, bad)) == (name == "finalstatus")


def _log_text(job: Job, ex: Execution, v: ExecView, kind: str) -> str:
    if kind == "out":
        if job.stdout is not None:
            line = job.stdout if job.stdout.endswith("\n") or job.stdout_repeat <= 1 else job.stdout + "\n"
            return line * max(job.stdout_repeat, 1)
        return (f"Starting {job.job_type} job '{job.name}' (execution {ex.id}) as {ex.username}\n"
                f"Arguments: {ex.args}\nProcessing...\n"
                f"Job '{job.name}' ended with state {v.state} / {v.final_status}\n")
    if job.stderr is not None:
        return job.stderr
    if v.final_status == "FAILED":
        return (f"Traceback (most recent call last):\n  File \"{job.name}.py\", line 42, in <module>\n"
                f"    main()\nRuntimeError: job '{job.name}' failed (args: {ex.args})\n")
    return ""
