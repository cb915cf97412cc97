"""Hopsworks job browser pages: read the request, call :mod:`hopsworks_ui_plugin.core.jobs`, render.

Who may look is checked by ``project_member`` (who may launch/stop by ``project_member(operate=...)``)
before a handler runs; errors are raised and become pages through the one error handler of the base view.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode

from flask import flash, jsonify, redirect, request, url_for
from flask_appbuilder import expose
from flask_wtf import FlaskForm
from wtforms import StringField, SubmitField
from wtforms.validators import Length, Optional

from hopsworks_ui_plugin.access import ProjectAccess
from hopsworks_ui_plugin.core import jobs as core
from hopsworks_ui_plugin.errors import BadInput, NotFound, PluginError
from hopsworks_ui_plugin.views.base import (
    HopsworksBaseView,
    login_required,
    project_member,
    request_hook,
    request_is_admin,
    request_username,
)

EP = "HopsworksProjectsView"
#: Characters a ``<path:...>`` route argument keeps unquoted in its URL (as the URL converter writes it).
_PATH_SAFE = "!$&'()*+,/:;=@"


class LaunchForm(FlaskForm):
    args = StringField(
        "Arguments", validators=[Optional(), Length(max=core.MAX_ARGS_LEN)],
        description="Empty: the job's default arguments.",
    )
    submit = SubmitField("Launch")


class StopForm(FlaskForm):
    submit = SubmitField("Stop")


def _url_with(base: str, params: dict[str, Any]) -> str:
    return f"{base}?{urlencode(params)}" if params else base


def _job_link(project_id: int) -> Callable[[str], str]:
    """``job_link(name)`` -> the job page's URL: one ``url_for`` per page, not one per row."""
    base = url_for(f"{EP}.job", project_id=project_id, job_name="_")[:-1]
    return lambda job_name: base + quote(str(job_name), safe=_PATH_SAFE)


class HopsworksProjectsView(HopsworksBaseView):
    route_base = "/hopsworks/projects"

    def error_response(self, err: PluginError) -> Any:
        """Refusals (403/404) of the job browser lead back to the projects page."""
        if err.back is None and err.status in (403, 404):
            err.back = url_for(f"{EP}.index")
        return super().error_response(err)

    @expose("/")
    @login_required
    def index(self) -> Any:
        rows = core.project_rows(request_hook(), request_username(), request_is_admin())
        return self.page("hopsworks/projects.html", title="Hopsworks projects", rows=rows)

    @expose("/<int:project_id>/job-count")
    @project_member()
    def job_count(self, grant: ProjectAccess) -> Any:
        """``{"project_id", "jobs"}``: the projects page fetches each visible row's count from here, so
        the page itself costs no Hopsworks request per project. Errors answer JSON to JSON callers."""
        return jsonify({"project_id": grant.project.id, "jobs": core.job_count(request_hook(), grant)})

    @expose("/<project_ref>/jobs")
    @expose("/<project_ref>/jobs/<path:job_name>")
    @login_required
    def unknown_project(self, project_ref: str, job_name: str = "") -> Any:
        raise NotFound(f"There is no Hopsworks project with id {project_ref!r}.")

    @expose("/<int:project_id>/jobs")
    @project_member()
    def jobs(self, grant: ProjectAccess) -> Any:
        query = core.JobQuery.from_args(request.args)
        result = core.jobs_page(request_hook(), grant, query)
        base = url_for(f"{EP}.jobs", project_id=grant.project.id)

        def jobs_url(**changes: Any) -> str:
            return _url_with(base, query.params(**changes))

        return self.page(
            "hopsworks/jobs.html", title=f"Jobs of {grant.project.name}", access=grant, result=result,
            query=query, per_page_choices=core.PER_PAGE_CHOICES, jobs_base=base, jobs_url=jobs_url,
            page_url=lambda n: jobs_url(page=n), sort_url=lambda column: _url_with(base, query.sort_params(column)),
            job_link=_job_link(grant.project.id),
        )

    @expose("/<int:project_id>/jobs.json")
    @project_member()
    def jobs_live(self, grant: ProjectAccess) -> Any:
        """The jobs page's latest executions (same query arguments) for the page to poll while any runs."""
        query = core.JobQuery.from_args(request.args)
        return jsonify(core.jobs_live(request_hook(), grant, query))

    @expose("/<int:project_id>/executions.json/<path:job_name>")
    @project_member()
    def executions_live(self, grant: ProjectAccess, job_name: str) -> Any:
        """The job page's executions (state, final status, elapsed) for the page to poll while any runs."""
        page = core.int_arg(request.args, "page", 1)
        return jsonify(core.executions_live(request_hook(), grant, job_name, page))

    @expose("/<int:project_id>/jobs/<path:job_name>")
    @project_member()
    def job(self, grant: ProjectAccess, job_name: str) -> Any:
        page = core.int_arg(request.args, "page", 1)
        hook = request_hook()
        job_link = url_for(f"{EP}.job", project_id=grant.project.id, job_name=job_name)
        return self.page(
            "hopsworks/job.html", title=f"{job_name} - {grant.project.name}", access=grant, job_name=job_name,
            form=LaunchForm(), stop_form=StopForm(), job_link=job_link,
            page_url=lambda n: _url_with(job_link, {"page": n} if n > 1 else {}),
            **core.job_page(hook, grant, job_name, page),
        )

    @expose("/<int:project_id>/log/<int:execution_id>/<path:job_name>")
    @project_member()
    def log(self, grant: ProjectAccess, execution_id: int, job_name: str) -> Any:
        hook = request_hook()
        execution, logs = core.execution_logs(hook, grant, job_name, execution_id)
        return self.page(
            "hopsworks/job_log.html", title=f"{job_name} #{execution_id} logs", access=grant,
            job_name=job_name, execution=execution, logs=logs,
            executions_url=hook.execution_url(job_name, grant.project.id),
        )

    @expose("/<int:project_id>/launch/<path:job_name>", methods=["POST"])
    @project_member(operate="launch")
    def launch(self, grant: ProjectAccess, job_name: str) -> Any:
        form = LaunchForm()
        if not form.validate_on_submit():
            problems = "; ".join(f"{k}: {', '.join(v)}" for k, v in form.errors.items())
            raise BadInput(f"The launch form was not accepted ({problems}).")
        flash(core.launch(request_hook(), grant, job_name, form.args.data or ""), "info")
        return redirect(url_for(f"{EP}.job", project_id=grant.project.id, job_name=job_name))

    @expose("/<int:project_id>/stop/<int:execution_id>/<path:job_name>", methods=["POST"])
    @project_member(operate="stop")
    def stop(self, grant: ProjectAccess, execution_id: int, job_name: str) -> Any:
        if not StopForm().validate_on_submit():
            raise BadInput("The stop form was not accepted; reload the page and try again.")
        stopped, message = core.stop(request_hook(), grant, job_name, execution_id)
        flash(message, "info" if stopped else "warning")
        return redirect(url_for(f"{EP}.job", project_id=grant.project.id, job_name=job_name))
