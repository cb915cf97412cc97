"""The job browser's flows: projects, a project's jobs, a job with its executions, logs; launch and stop.

Every Hopsworks call goes through the hook, every "who may" through :mod:`hopsworks_ui_plugin.access`
(the caller passes the user's :class:`~hopsworks_ui_plugin.access.ProjectAccess`). A jobs page costs
exactly one Hopsworks request (plus a cached team lookup): paging, sorting and the name filter are
Hopsworks' own ``offset/limit/sort_by/filter_by``. Results are plain data for a page; refusals and
failures are raised as :mod:`hopsworks_ui_plugin.errors` errors.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from hopsworks_ui_plugin import formatting, settings, states
from hopsworks_ui_plugin.access import ProjectAccess, project_audit_scope, visible_projects
from hopsworks_ui_plugin.errors import BadInput, HopsworksError, NotFound
from hopsworks_ui_plugin.hooks.hopsworks import HOPSWORKS_LOG_LIMIT_BYTES, HopsworksHook

#: Column key in the page's ``sort`` -> Hopsworks ``sort_by`` field of ``GET /jobs``, and its natural first order.
JOB_SORTS = {
    "name": ("name", "asc"), "type": ("jobtype", "asc"), "creator": ("creator", "asc"),
    "created": ("date_created", "desc"), "state": ("state", "asc"), "submitted": ("submissiontime", "desc"),
    "duration": ("duration", "desc"),
}
PER_PAGE_CHOICES = (10, 20, 50, 100)
DEFAULT_PER_PAGE = 20
EXECUTIONS_PER_PAGE = 10
MAX_ARGS_LEN = 4000
MAX_FILTER_LEN = 200


# --- query arguments -----------------------------------------------------------------------------

def int_arg(args: Mapping[str, str], name: str, default: int, choices: tuple[int, ...] | None = None) -> int:
    """A whole number of 1 or more from the query arguments (one of ``choices`` if given)."""
    raw = (args.get(name) or "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1 or (choices and int(raw) not in choices):
        allowed = ", ".join(map(str, choices)) if choices else "a whole number of 1 or more"
        raise BadInput(f"Invalid {name} {raw!r}: expected {allowed}.")
    return int(raw)


@dataclass(frozen=True)
class JobQuery:
    """The jobs page's query: page, per_page, sort, order, q."""

    page: int = 1
    per_page: int = DEFAULT_PER_PAGE
    sort: str = "name"
    order: str = "asc"
    q: str = ""

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> JobQuery:
        sort = args.get("sort") or "name"
        if sort not in JOB_SORTS:
            raise BadInput(f"Cannot sort jobs by {sort!r}; use one of {', '.join(JOB_SORTS)}.")
        order = args.get("order") or JOB_SORTS[sort][1]
        if order not in ("asc", "desc"):
            raise BadInput(f"Invalid order {order!r}: use asc or desc.")
        q = (args.get("q") or "").strip()
        if len(q) > MAX_FILTER_LEN:
            raise BadInput(f"The name filter is limited to {MAX_FILTER_LEN} characters.")
        return cls(int_arg(args, "page", 1), int_arg(args, "per_page", DEFAULT_PER_PAGE, PER_PAGE_CHOICES),
                   sort, order, q)

    def params(self, **changes: Any) -> dict[str, Any]:
        """Query parameters for a link, with ``changes`` applied and defaults left out."""
        values = {"page": self.page, "per_page": self.per_page, "sort": self.sort, "order": self.order,
                  "q": self.q, **changes}
        natural_order = JOB_SORTS.get(str(values["sort"]), ("", "asc"))[1]
        defaults = {"page": 1, "per_page": DEFAULT_PER_PAGE, "sort": "name", "order": natural_order, "q": ""}
        return {k: v for k, v in values.items() if v != defaults[k]}

    def sort_params(self, column: str) -> dict[str, Any]:
        """Clicking a header: same column flips the order, another column starts at its natural order."""
        if column == self.sort:
            order = "desc" if self.order == "asc" else "asc"
        else:
            order = JOB_SORTS[column][1]
        return self.params(sort=column, order=order, page=1)


def page_count(total: int, per_page: int) -> int:
    return max(1, -(-total // per_page))


# --- Hopsworks records -> what a page shows ------------------------------------------------------

def _latest(job: dict[str, Any]) -> dict[str, Any] | None:
    items = (job.get("executions") or {}).get("items") or []
    return items[0] if items else None


def _person(user: dict[str, Any] | None) -> dict[str, str]:
    user = user or {}
    full = " ".join(p for p in (user.get("firstname"), user.get("lastname")) if p)
    return {"username": str(user.get("username") or ""), "full_name": full}


def _config_summary(config: dict[str, Any]) -> list[tuple[str, str]]:
    """The job configuration fields worth a glance, as (label, value) rows."""
    rows: list[tuple[str, str]] = []
    for key, label in (("appPath", "Application"), ("mainClass", "Main class"), ("imagePath", "Image"),
                       ("amQueue", "Queue")):
        if config.get(key) not in (None, ""):
            rows.append((label, str(config[key])))
    if config.get("command"):
        command = config["command"]
        rows.append(("Command", " ".join(map(str, command)) if isinstance(command, list) else str(command)))
    resources = []
    if config.get("amMemory"):
        resources.append(f"driver {config['amMemory']} MB / {config.get('amVCores', 1)} vCPU")
    if config.get("spark.executor.instances"):
        resources.append(
            f"{config['spark.executor.instances']} executor(s) × {config.get('spark.executor.cores', '?')} "
            f"core(s), {config.get('spark.executor.memory', '?')} MB"
        )
    if config.get("spark.dynamicAllocation.enabled"):
        resources.append("dynamic allocation")
    res = config.get("resourceConfig") or {}
    if isinstance(res, dict) and res:
        cores, memory, gpus = res.get("cores", "?"), res.get("memory", "?"), res.get("gpus", 0)
        resources.append(f"{cores} core(s), {memory} MB, {gpus} GPU(s)")
    if resources:
        rows.append(("Resources", "; ".join(resources)))
    return rows


@contextmanager
def _failing(what: str) -> Iterator[None]:
    """Say what the user asked for when Hopsworks fails: ``Could not load the job: <why>``."""
    try:
        yield
    except HopsworksError as err:
        raise HopsworksError(
            f"{what}: {err.message}", kind=err.kind, http_status=err.http_status, error_code=err.error_code,
            error_msg=err.error_msg, usr_msg=err.usr_msg,
        ) from err


# --- lookups that answer 404 for what does not exist ---------------------------------------------

def get_job(hook: HopsworksHook, grant: ProjectAccess, job_name: str) -> dict[str, Any]:
    """The job (with its creator); :class:`NotFound` naming project and job when there is none."""
    try:
        return hook.get_job(job_name, grant.project.id)
    except HopsworksError as err:
        if err.http_status == 404:
            raise NotFound(f"Project {grant.project.name!r} has no job named {job_name!r}.") from None
        raise


def get_execution(hook: HopsworksHook, grant: ProjectAccess, job_name: str, execution_id: int) -> dict[str, Any]:
    """One execution of the job; :class:`NotFound` naming the job or the execution when missing."""
    try:
        return hook.get_execution(job_name, execution_id, grant.project.id)
    except HopsworksError as err:
        if err.http_status not in (403, 404):  # 403 130026: the execution belongs to another job
            raise
    get_job(hook, grant, job_name)
    raise NotFound(f"Job {job_name!r} has no execution {execution_id}.")


# --- pages ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ProjectRow:
    """A project on the projects page and the user's role in it (None: an admin who is not a member)."""

    project: Any
    role: str | None


def project_rows(hook: HopsworksHook, username: str, admin: bool) -> list[ProjectRow]:
    """The projects the user may see, with their role: :func:`~hopsworks_ui_plugin.access.visible_projects`
    and nothing per project here, so the page costs the same with 5 projects or 500.

    Hopsworks requests: with the user's own key, one (``GET /project``, cached ``membership_ttl_s``).
    With the shared connection, ``GET /project`` plus one team lookup per project the first time in
    each ``membership_ttl_s`` window (Hopsworks has no bulk team listing for API keys), shared with
    every other page's membership check. Job counts are not fetched here: the page asks
    :func:`job_count` per project row once it is on screen.
    """
    with _failing("Could not list the Hopsworks projects"):
        return [ProjectRow(project, role) for project, role in visible_projects(hook, username, admin)]


def job_count(hook: HopsworksHook, grant: ProjectAccess) -> int:
    """How many jobs the project has: one ``GET /jobs?limit=1`` (no executions expanded)."""
    with _failing(f"Could not count the jobs of {grant.project.name!r}"):
        return int(hook.get_jobs(grant.project.id, limit=1, with_latest_execution=False)[0])


@dataclass(frozen=True, slots=True)
class JobRow:
    """A job on the jobs page, as shown: plain fields computed once here, so the page renders 50 rows
    without per-row lookups into Hopsworks' nested records. ``latest`` is the latest execution as
    :func:`live_state` (what the page's live updates send for the same row); None: never run."""

    name: str
    job_type: str
    creator: str
    creator_title: str
    created: str
    latest: dict[str, Any] | None
    submitted: str
    snippet: str


@dataclass(frozen=True)
class JobsPage:
    """One page of a project's jobs (:class:`JobRow`); ``live``: some latest execution is not final."""

    query: JobQuery
    total: int
    pages: int
    rows: list[JobRow] = field(default_factory=list)

    @property
    def live(self) -> bool:
        return any(row.latest is not None and not row.latest["final"] for row in self.rows)


def jobs_page(hook: HopsworksHook, grant: ProjectAccess, query: JobQuery) -> JobsPage:
    """One Hopsworks request: the page of jobs with each one's latest execution and creator."""
    sort_field, _ = JOB_SORTS[query.sort]
    with _failing("Could not list the project's jobs"):
        total, items = hook.get_jobs(
            grant.project.id, offset=(query.page - 1) * query.per_page, limit=query.per_page,
            sort_by=f"{sort_field}:{query.order}", name_filter=query.q or None,
        )
    now_ms = int(time.time() * 1000)
    return JobsPage(query, total, page_count(total, query.per_page), [_job_row(grant, job, now_ms) for job in items])


def _job_row(grant: ProjectAccess, job: dict[str, Any], now_ms: int) -> JobRow:
    name = str(job.get("name"))
    creator = _person(job.get("creator"))
    latest = _latest(job)
    return JobRow(
        name=name, job_type=str(job.get("jobType") or ""),
        creator=creator["username"] or creator["full_name"] or "—", creator_title=creator["full_name"],
        created=formatting.fmt_ts(job.get("creationTime")),
        latest=live_state(latest, name, now_ms) if latest else None,
        submitted=formatting.fmt_ts(latest.get("submissionTime")) if latest else "—",
        snippet=formatting.launch_snippet(grant.project.name, name),
    )


def job_page(hook: HopsworksHook, grant: ProjectAccess, job_name: str, page: int) -> dict[str, Any]:
    """A job: configuration, links, snippet, and one page of executions (newest first) as rows of
    ``{execution, user}``."""
    with _failing("Could not load the job"):
        job = get_job(hook, grant, job_name)
        total, executions = hook.get_executions(
            job_name, grant.project.id, offset=(page - 1) * EXECUTIONS_PER_PAGE, limit=EXECUTIONS_PER_PAGE
        )
    config = job.get("config") or {}
    return {
        "stopping": stopping(hook, grant, job_name, executions),
        "job": job, "creator": _person(job.get("creator")), "config": config,
        "config_rows": _config_summary(config), "config_json": json.dumps(config, indent=2, sort_keys=True),
        "executions": [{"execution": ex, "user": _person(ex.get("user"))} for ex in executions],
        "total": total, "page": page, "pages": page_count(total, EXECUTIONS_PER_PAGE),
        "snippet": formatting.launch_snippet(grant.project.name, job_name),
        "job_url": hook.job_url(job_name, grant.project.id),
        "executions_url": hook.execution_url(job_name, grant.project.id),
    }


# --- live state for pages that poll ---------------------------------------------------------------

def live_state(execution: dict[str, Any] | None, key: Any, now_ms: int | None = None) -> dict[str, Any]:
    """What a polling page updates in place for one row: state, final status, the badge's kind, elapsed
    time (``duration`` once running, else since submission) and whether nothing will change any more."""
    if execution is None:
        return {"key": key, "state": None, "final_status": None, "badge": "none", "final": True, "elapsed": "—"}
    state, final_status = execution.get("state"), execution.get("finalStatus")
    final = states.is_final(state)
    duration = execution.get("duration") or 0
    if not final and not duration and execution.get("submissionTime"):
        submitted = formatting.parse_ts(execution.get("submissionTime"))
        if submitted is not None:
            now = now_ms if now_ms is not None else int(time.time() * 1000)
            duration = max(0, now - int(submitted.timestamp() * 1000))
    return {"key": key, "id": execution.get("id"), "state": state, "final_status": final_status,
            "badge": states.badge_class(state, final_status), "final": final,
            "elapsed": formatting.fmt_duration(duration)}


def executions_live(hook: HopsworksHook, grant: ProjectAccess, job_name: str, page: int) -> dict[str, Any]:
    """The job page's executions (the same page of them) as :func:`live_state` rows keyed by id: one
    Hopsworks request (``GET .../executions``, no user expansion)."""
    with _failing("Could not load the executions"):
        try:
            _total, executions = hook.get_executions(
                job_name, grant.project.id, offset=(page - 1) * EXECUTIONS_PER_PAGE, limit=EXECUTIONS_PER_PAGE,
                expand_user=False,
            )
        except HopsworksError as err:
            if err.http_status == 404:
                get_job(hook, grant, job_name)
            raise
    items = [live_state(ex, ex.get("id")) for ex in executions]
    return {"items": items, "final": all(i["final"] for i in items)}


def jobs_live(hook: HopsworksHook, grant: ProjectAccess, query: JobQuery) -> dict[str, Any]:
    """The jobs page's rows (same query) with their latest execution as :func:`live_state` rows keyed by
    job name: the one Hopsworks request of :func:`jobs_page`."""
    result = jobs_page(hook, grant, query)
    items = [row.latest or live_state(None, row.name) for row in result.rows]
    return {"items": items, "final": all(i["final"] for i in items)}


@dataclass(frozen=True)
class LogTooBig:
    """A log Hopsworks does not serve through its REST API (over its 1,000,000-byte display limit):
    only downloadable, from ``path`` in the project's datasets."""

    path: str | None
    limit_bytes: int = HOPSWORKS_LOG_LIMIT_BYTES
    too_big: bool = True


def execution_logs(
    hook: HopsworksHook, grant: ProjectAccess, job_name: str, execution_id: int
) -> tuple[dict[str, Any], list[tuple[str, formatting.LogExcerpt | LogTooBig]]]:
    """The execution and, once it has ended, its stdout and stderr cut to ``[hopsworks] log_cap_bytes``
    (or :class:`LogTooBig` for a log Hopsworks only offers as a download)."""
    with _failing("Could not load the execution's logs"):
        execution = get_execution(hook, grant, job_name, execution_id)
        logs: list[tuple[str, formatting.LogExcerpt | LogTooBig]] = []
        if states.is_final(execution.get("state")):
            for kind, label in (("out", "stdout"), ("err", "stderr")):
                got = hook.get_execution_log_info(job_name, execution_id, kind, grant.project.id)
                if got.too_big:
                    logs.append((label, LogTooBig(got.path)))
                else:
                    logs.append((label, formatting.cap_log(got.text, settings.log_cap_bytes())))
    return execution, logs


# --- actions (the caller has checked that the user may operate) ----------------------------------

def launch(hook: HopsworksHook, grant: ProjectAccess, job_name: str, args: str) -> str:
    """Start an execution (empty ``args``: the job's default arguments); the message for the user."""
    args = (args or "").strip()
    if len(args) > MAX_ARGS_LEN:
        raise BadInput(f"The arguments are limited to {MAX_ARGS_LEN} characters.")
    with _failing("Could not launch the job"):
        try:
            execution = hook.start_execution(job_name, args or None, grant.project.id)
        except HopsworksError as err:
            if err.http_status == 404:
                get_job(hook, grant, job_name)
            raise
    _audit("hopsworks.launch", grant, job_name, execution.get("id"), with_arguments=bool(args))
    used = f"arguments {args!r}" if args else "the job's default arguments"
    return f"Launched {job_name!r}: execution {execution.get('id')} ({execution.get('state')}) with {used}."


def _audit(event: str, grant: ProjectAccess, job_name: str, execution_id: Any, **extra: Any) -> None:
    """The action's entry in Airflow's event log (:func:`hopsworks_ui_plugin.metadb.audit`); arguments
    themselves are not recorded (they may carry anything)."""
    from hopsworks_ui_plugin import metadb

    metadb.audit(event, grant.username, dag_id=project_audit_scope(grant.project),
                 extra={"project": grant.project.name, "project_id": grant.project.id, "job": job_name,
                        "execution_id": execution_id, **extra})


def stop(hook: HopsworksHook, grant: ProjectAccess, job_name: str, execution_id: int) -> tuple[bool, str]:
    """Ask Hopsworks to stop a running execution: ``(stopped, message)``; an ended one is left alone.

    One round of :meth:`HopsworksHook.stop_until_final` (the page does not wait): Hopsworks answers 202
    before the execution ends and ignores a stop before it has an ``appId``, so the stop is remembered
    (:func:`remember_stop`) and each later view of the job page shows "stopping…" and asks again until
    the execution is final or ``[hopsworks] stop_timeout_s`` passed.
    """
    with _failing("Could not stop the execution"):
        execution = get_execution(hook, grant, job_name, execution_id)
        if states.is_final(execution.get("state")):
            return False, f"Execution {execution_id} had already ended ({execution.get('state')})."
        result = hook.stop_until_final(job_name, execution_id, grant.project.id, timeout_s=0, execution=execution)
    _audit("hopsworks.stop", grant, job_name, execution_id)
    if result.final:
        return True, f"Execution {execution_id} of {job_name!r} is stopped ({result.execution.get('state')})."
    remember_stop(grant.project.id, execution_id)
    return True, (f"Asked Hopsworks to stop execution {execution_id} of {job_name!r}. It shows as stopping… "
                  "until Hopsworks reports it ended.")


# --- stops asked for on the pages ----------------------------------------------------------------
# Which executions a user pressed Stop on, and when: kept in this process (the api-server runs one
# worker unless [api] workers says otherwise; a view served by another worker shows the Stop button
# again, and pressing it asks again). Entries end once the execution is final or after stop_timeout_s.
_STOPS: dict[tuple[int, int], float] = {}
_STOPS_LOCK = threading.Lock()


def remember_stop(project_id: int, execution_id: int) -> None:
    with _STOPS_LOCK:
        _STOPS[(int(project_id), int(execution_id))] = time.monotonic()


def stopping(hook: HopsworksHook, grant: ProjectAccess, job_name: str, executions: list[dict[str, Any]]) -> set[int]:
    """The listed executions a Stop was asked for within ``stop_timeout_s`` that are not final yet.

    Each is asked once more (one stop request, no waiting), since Hopsworks ignores a stop that came
    before the execution had an ``appId``. A failing ask does not fail the page.
    """
    now, window = time.monotonic(), settings.stop_timeout_s()
    shown: set[int] = set()
    for execution in executions:
        key = (int(grant.project.id), int(execution.get("id") or 0))
        with _STOPS_LOCK:
            asked = _STOPS.get(key)
            if asked is None:
                continue
            if states.is_final(execution.get("state")) or now - asked > window:
                del _STOPS[key]
                continue
        try:
            result = hook.stop_until_final(job_name, key[1], grant.project.id, timeout_s=0, execution=execution)
        except HopsworksError:
            result = None
        if result is None or not result.final:
            shown.add(key[1])
    return shown
