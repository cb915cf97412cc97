"""Hopsworks job browser: projects, a project's jobs, a job with its executions and logs; launch/stop.

Every Hopsworks call goes through the hook, every "who may" through :mod:`hopsworks_ui_plugin.access`.
A jobs page costs exactly one Hopsworks request (plus a cached team lookup): pagination, sorting
and the name filter are Hopsworks' own ``offset/limit/sort_by/filter_by``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import flash, redirect, request, url_for
from flask_appbuilder import expose
from flask_wtf import FlaskForm
from wtforms import StringField, SubmitField
from wtforms.validators import Length, Optional

from hopsworks_ui_plugin import formatting, states
from hopsworks_ui_plugin.access import ProjectAccess, project_access, visible_projects
from hopsworks_ui_plugin.errors import Forbidden, NotFound, PluginError
from hopsworks_ui_plugin.hooks.hopsworks import HopsworksError, HopsworksHook, service_hook
from hopsworks_ui_plugin.views.base import (
    HopsworksBaseView,
    login_required,
    request_is_admin,
    request_username,
)

EP = "HopsworksProjectsView"
#: Column key in our URLs -> Hopsworks ``sort_by`` field of ``GET /jobs``, and its natural first order.
JOB_SORTS = {
    "name": ("name", "asc"), "type": ("jobtype", "asc"), "creator": ("creator", "asc"),
    "created": ("date_created", "desc"), "state": ("state", "asc"), "submitted": ("submissiontime", "desc"),
    "duration": ("duration", "desc"),
}
PER_PAGE_CHOICES = (10, 20, 50, 100)
EXECUTIONS_PER_PAGE = 10
LOG_CAP_BYTES = 256 * 1024
MAX_ARGS_LEN = 4000


class LaunchForm(FlaskForm):
    args = StringField(
        "Arguments", validators=[Optional(), Length(max=MAX_ARGS_LEN)],
        description="Empty: the job's default arguments.",
    )
    submit = SubmitField("Launch")


class StopForm(FlaskForm):
    submit = SubmitField("Stop")


class BadInput(ValueError):
    pass


def _int_arg(name: str, default: int, choices: tuple[int, ...] | None = None) -> int:
    raw = request.args.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1 or (choices and int(raw) not in choices):
        allowed = ", ".join(map(str, choices)) if choices else "a whole number of 1 or more"
        raise BadInput(f"Invalid {name} {raw!r}: expected {allowed}.")
    return int(raw)


@dataclass(frozen=True)
class JobQuery:
    """The jobs page's query string: page, per_page, sort, order, q."""

    page: int = 1
    per_page: int = 20
    sort: str = "name"
    order: str = "asc"
    q: str = ""

    @classmethod
    def from_request(cls) -> JobQuery:
        sort = request.args.get("sort", "name")
        if sort not in JOB_SORTS:
            raise BadInput(f"Cannot sort jobs by {sort!r}; use one of {', '.join(JOB_SORTS)}.")
        order = request.args.get("order", JOB_SORTS[sort][1])
        if order not in ("asc", "desc"):
            raise BadInput(f"Invalid order {order!r}: use asc or desc.")
        q = request.args.get("q", "").strip()
        if len(q) > 200:
            raise BadInput("The name filter is limited to 200 characters.")
        return cls(_int_arg("page", 1), _int_arg("per_page", 20, PER_PAGE_CHOICES), sort, order, q)

    def params(self, **changes: Any) -> dict[str, Any]:
        """Query parameters for a link, with ``changes`` applied and defaults left out."""
        values = {"page": self.page, "per_page": self.per_page, "sort": self.sort, "order": self.order,
                  "q": self.q, **changes}
        natural_order = JOB_SORTS.get(str(values["sort"]), ("", "asc"))[1]
        defaults = {"page": 1, "per_page": 20, "sort": "name", "order": natural_order, "q": ""}
        return {k: v for k, v in values.items() if v != defaults[k]}

    def sort_params(self, column: str) -> dict[str, Any]:
        """Clicking a header: same column flips the order, another column starts at its natural order."""
        if column == self.sort:
            order = "desc" if self.order == "asc" else "asc"
        else:
            order = JOB_SORTS[column][1]
        return self.params(sort=column, order=order, page=1)


def _pages(total: int, per_page: int) -> int:
    return max(1, -(-total // per_page))


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


def guarded(what: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Turn refusals, bad input and Hopsworks failures into pages with a status, never a traceback."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapper(self: HopsworksProjectsView, *args: Any, **kwargs: Any) -> Any:
            try:
                return view(self, *args, **kwargs)
            except PluginError as err:
                title = "Not allowed" if err.status == 403 else "Not found"
                return self.page("hopsworks/error.html", http_status=err.status, title=title, message=err.message,
                                 back_url=url_for(f"{EP}.index"))
            except BadInput as err:
                return self.error_page(400, "Bad request", str(err))
            except HopsworksError as err:
                return self.hopsworks_error_page(err, what)

        return wrapper

    return decorate


class HopsworksProjectsView(HopsworksBaseView):
    route_base = "/hopsworks/projects"

    def page(self, template: str, http_status: int = 200, **context: Any) -> tuple[str, int]:
        context.update(fmt_ts=formatting.fmt_ts, fmt_duration=formatting.fmt_duration, fmt_size=formatting.fmt_size,
                       badge_class=states.badge_class, is_final=states.is_final)
        return super().page(template, http_status, **context)

    def _access(self, hook: HopsworksHook, project_id: int) -> ProjectAccess:
        return project_access(hook, request_username(), request_is_admin(), project_id)

    def _job_or_404(self, hook: HopsworksHook, access: ProjectAccess, job_name: str) -> dict[str, Any]:
        try:
            return hook.get_job(job_name, access.project.id)
        except HopsworksError as err:
            if err.status == 404:
                raise NotFound(f"Project {access.project.name!r} has no job named {job_name!r}."
                ) from None
            raise

    def _execution_or_404(
        self, hook: HopsworksHook, access: ProjectAccess, job_name: str, execution_id: int
    ) -> dict[str, Any]:
        try:
            return hook.get_execution(job_name, execution_id, access.project.id)
        except HopsworksError as err:
            if err.status not in (403, 404):  # 403 130026: the execution belongs to another job
                raise
            self._job_or_404(hook, access, job_name)
            raise NotFound(f"Job {job_name!r} has no execution {execution_id}.") from None

    def _require_operator(self, access: ProjectAccess, action: str) -> None:
        if not access.can_operate:
            raise Forbidden(f"Only Data owners and Data scientists of project {access.project.name!r} may {action}; "
                f"your role is {access.role or 'none'}.",
            )

    @expose("/")
    @login_required
    @guarded("Could not list the Hopsworks projects")
    def index(self) -> Any:
        hook = service_hook()
        rows = []
        for project, role in visible_projects(hook, request_username(), request_is_admin()):
            try:
                jobs, problem = hook.get_jobs(project.id, limit=1, with_latest_execution=False)[0], ""
            except HopsworksError as err:
                jobs, problem = None, str(err)
            rows.append({"project": project, "role": role, "jobs": jobs, "problem": problem})
        return self.page("hopsworks/projects.html", title="Hopsworks projects", rows=rows)

    @expose("/<project_ref>/jobs")
    @expose("/<project_ref>/jobs/<path:job_name>")
    @login_required
    def unknown_project(self, project_ref: str, job_name: str = "") -> Any:
        return self.error_page(404, "Not found", f"There is no Hopsworks project with id {project_ref!r}.")

    @expose("/<int:project_id>/jobs")
    @login_required
    @guarded("Could not list the project's jobs")
    def jobs(self, project_id: int) -> Any:
        query = JobQuery.from_request()
        hook = service_hook()
        access = self._access(hook, project_id)
        field, _ = JOB_SORTS[query.sort]
        total, items = hook.get_jobs(
            project_id, offset=(query.page - 1) * query.per_page, limit=query.per_page,
            sort_by=f"{field}:{query.order}", name_filter=query.q or None,
        )
        jobs = [
            {"job": job, "creator": _person(job.get("creator")), "latest": _latest(job),
             "snippet": formatting.launch_snippet(access.project.name, str(job.get("name")))}
            for job in items
        ]
        return self.page(
            "hopsworks/jobs.html", title=f"Jobs of {access.project.name}", access=access, jobs=jobs,
            total=total, query=query, pages=_pages(total, query.per_page), per_page_choices=PER_PAGE_CHOICES,
            sort_columns=JOB_SORTS,
        )

    @expose("/<int:project_id>/jobs/<path:job_name>")
    @login_required
    @guarded("Could not load the job")
    def job(self, project_id: int, job_name: str) -> Any:
        page = _int_arg("page", 1)
        hook = service_hook()
        access = self._access(hook, project_id)
        job = self._job_or_404(hook, access, job_name)
        total, executions = hook.get_executions(
            job_name, project_id, offset=(page - 1) * EXECUTIONS_PER_PAGE, limit=EXECUTIONS_PER_PAGE
        )
        config = job.get("config") or {}
        return self.page(
            "hopsworks/job.html", title=f"{job_name} - {access.project.name}", access=access, job=job,
            job_name=job_name, creator=_person(job.get("creator")), config=config,
            config_rows=_config_summary(config), config_json=json.dumps(config, indent=2, sort_keys=True),
            executions=executions, total=total, page=page, pages=_pages(total, EXECUTIONS_PER_PAGE),
            form=LaunchForm(), stop_form=StopForm(), person=_person,
            snippet=formatting.launch_snippet(access.project.name, job_name),
            job_url=hook.job_url(job_name, project_id),
            executions_url=hook.execution_url(job_name, project_id),
        )

    @expose("/<int:project_id>/log/<int:execution_id>/<path:job_name>")
    @login_required
    @guarded("Could not load the execution's logs")
    def log(self, project_id: int, execution_id: int, job_name: str) -> Any:
        hook = service_hook()
        access = self._access(hook, project_id)
        execution = self._execution_or_404(hook, access, job_name, execution_id)
        logs = []
        if states.is_final(execution.get("state")):
            for kind, label in (("out", "stdout"), ("err", "stderr")):
                text = hook.get_execution_log(job_name, execution_id, kind, project_id)
                logs.append((label, formatting.cap_log(text, LOG_CAP_BYTES)))
        return self.page(
            "hopsworks/job_log.html", title=f"{job_name} #{execution_id} logs", access=access,
            job_name=job_name, execution=execution, logs=logs,
            executions_url=hook.execution_url(job_name, project_id),
        )

    @expose("/<int:project_id>/launch/<path:job_name>", methods=["POST"])
    @login_required
    @guarded("Could not launch the job")
    def launch(self, project_id: int, job_name: str) -> Any:
        hook = service_hook()
        access = self._access(hook, project_id)
        self._require_operator(access, "launch jobs")
        form = LaunchForm()
        if not form.validate_on_submit():
            problems = "; ".join(f"{k}: {', '.join(v)}" for k, v in form.errors.items())
            raise BadInput(f"The launch form was not accepted ({problems}).")
        args = (form.args.data or "").strip()
        try:
            execution = hook.start_execution(job_name, args or None, project_id)
        except HopsworksError as err:
            if err.status == 404:
                self._job_or_404(hook, access, job_name)
            raise
        used = f"arguments {args!r}" if args else "the job's default arguments"
        number, state = execution.get("id"), execution.get("state")
        flash(f"Launched {job_name!r}: execution {number} ({state}) with {used}.", "info")
        return redirect(url_for(f"{EP}.job", project_id=project_id, job_name=job_name))

    @expose("/<int:project_id>/stop/<int:execution_id>/<path:job_name>", methods=["POST"])
    @login_required
    @guarded("Could not stop the execution")
    def stop(self, project_id: int, execution_id: int, job_name: str) -> Any:
        hook = service_hook()
        access = self._access(hook, project_id)
        self._require_operator(access, "stop executions")
        if not StopForm().validate_on_submit():
            raise BadInput("The stop form was not accepted; reload the page and try again.")
        execution = self._execution_or_404(hook, access, job_name, execution_id)
        if states.is_final(execution.get("state")):
            flash(f"Execution {execution_id} had already ended ({execution.get('state')}).", "warning")
        else:
            hook.stop_execution(job_name, execution_id, project_id)
            flash(f"Asked Hopsworks to stop execution {execution_id} of {job_name!r}.", "info")
        return redirect(url_for(f"{EP}.job", project_id=project_id, job_name=job_name))
