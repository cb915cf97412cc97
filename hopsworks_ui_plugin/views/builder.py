"""The DAG builder page of a project: compose a DAG from the project's jobs, preview its code, save it.

A thin adapter over :mod:`hopsworks_ui_plugin.core.builder`: the permission decorators check
membership and the right to change DAG files first; handlers read the request, call the core and
render. Two JSON endpoints serve the page's script: ``check`` (live validation as the user types,
and the code preview) and ``jobs`` (the job picker's search).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import current_app, flash, g, jsonify, redirect, request, url_for
from flask_appbuilder import expose

from hopsworks_ui_plugin.access import ProjectAccess
from hopsworks_ui_plugin.core import builder as flows
from hopsworks_ui_plugin.core import dag_files as file_flows
from hopsworks_ui_plugin.core.jobs import int_arg, page_count
from hopsworks_ui_plugin.dag_builder.model import CONDITIONS, KINDS, PRESETS, WAIT_MODES, DagSpec
from hopsworks_ui_plugin.errors import BadInput, HopsworksError, PluginError
from hopsworks_ui_plugin.views.base import (
    HopsworksBaseView,
    project_member,
    request_hook,
    request_is_admin,
    request_username,
)
from hopsworks_ui_plugin.views.dag_files import project_folder

JOBS_PER_PAGE = 20


def builder_file_check(project_id: int, project_name: str, name: str) -> bool:
    """For the DAG files listing (a Jinja global): whether the builder made this file."""
    try:
        return flows.builder_made(file_flows.folder(project_id, project_name), name)
    except PluginError:
        return False


def editor_url(project_id: int, name: str) -> str:
    """The DAG file editor's page for the file when the plugin has one (a GET rule
    ``/hopsworks/dag-files/<project_id>/files/<name>/edit``), else the file's page."""
    for rule in current_app.url_map.iter_rules():
        if (rule.rule.endswith("/files/<name>/edit") and "/hopsworks/dag-files/" in rule.rule
                and "GET" in (rule.methods or ())):
            return url_for(rule.endpoint, project_id=project_id, name=name)
    return url_for("HopsworksDagFilesView.view_file", project_id=project_id, name=name)


class HopsworksBuilderView(HopsworksBaseView):
    route_base = "/hopsworks/dag-files"

    def create_blueprint(self, appbuilder: Any, endpoint: str | None = None, static_folder: str | None = None) -> Any:
        blueprint = super().create_blueprint(appbuilder, endpoint=endpoint, static_folder=static_folder)
        blueprint.add_app_template_global(builder_file_check, "hw_builder_made")
        return blueprint

    def error_response(self, err: PluginError) -> Any:
        if err.back is None and getattr(g, "hw_dag_files_project", None) is not None:
            err.back = url_for("HopsworksDagFilesView.project", project_id=g.hw_dag_files_project)
        return super().error_response(err)

    # -- helpers (static: FAB inspects view attributes at import time) ---------------------------

    def _form(self, grant: ProjectAccess, spec: DagSpec, http_status: int = 200, *, name: str | None = None,
              content_hash: str = "", problems: list[Any] | None = None, error: str | None = None) -> Any:
        project = grant.project
        save_url = (url_for("HopsworksBuilderView.save_file", project_id=project.id, name=name) if name
                    else url_for("HopsworksBuilderView.create", project_id=project.id))
        return self.page(
            "hopsworks/builder.html",
            http_status=http_status,
            title=f"{'Change ' + name if name else 'New DAG'} – {project.name}",
            access=grant,
            project=project,
            name=name,
            spec=spec.to_dict(),
            content_hash=content_hash,
            problems=[p.to_dict() for p in problems or []],
            error=error,
            save_url=save_url,
            check_url=url_for("HopsworksBuilderView.check", project_id=project.id),
            jobs_url=url_for("HopsworksBuilderView.jobs", project_id=project.id),
            presets=PRESETS,
            kinds=KINDS,
            wait_modes=WAIT_MODES,
            conditions=CONDITIONS,
        )

    def _refused(self, grant: ProjectAccess, spec: DagSpec, err: PluginError, name: str | None,
                 content_hash: str, check: flows.Check | None = None) -> Any:
        return self._form(grant, spec, err.status, name=name, content_hash=content_hash,
                          problems=check.problems if check else [], error=err.message)

    # -- pages ------------------------------------------------------------------------------------

    @expose("/<int:project_id>/builder/new")
    @project_member(operate="upload")
    def new(self, grant: ProjectAccess) -> Any:
        project_folder(grant)
        return self._form(grant, flows.blank_spec(grant, request_username()))

    @expose("/<int:project_id>/builder/files/<name>")
    @project_member(operate="replace")
    def open_file(self, grant: ProjectAccess, name: str) -> Any:
        opened = flows.open_file(project_folder(grant), grant.project.name, name)
        if opened.spec is None:
            return self.page("hopsworks/builder.html",
                             title=f"{name} – {grant.project.name}", access=grant, project=grant.project,
                             name=name, refusal=opened.reason, editor_url=editor_url(grant.project.id, name))
        return self._form(grant, opened.spec, name=name, content_hash=opened.content_hash)

    @expose("/<int:project_id>/builder/new", methods=["POST"])
    @project_member(operate="upload")
    def create(self, grant: ProjectAccess) -> Any:
        directory = project_folder(grant)
        username, admin = request_username(), request_is_admin()
        spec = flows.spec_from_form(request.form.get("spec"), grant, username, admin)
        try:
            saved = flows.create(request_hook(), grant, directory, spec, username, admin)
        except PluginError as err:
            if isinstance(err, HopsworksError):
                raise
            return self._refused(grant, spec, err, None, "", self._recheck(grant, directory, spec, None))
        return self._done(grant, saved)

    @expose("/<int:project_id>/builder/files/<name>", methods=["POST"])
    @project_member(operate="replace")
    def save_file(self, grant: ProjectAccess, name: str) -> Any:
        directory = project_folder(grant)
        username, admin = request_username(), request_is_admin()
        previous = flows.open_file(directory, grant.project.name, name)
        previous_owner = previous.spec.owner if previous.spec else None
        spec = flows.spec_from_form(request.form.get("spec"), grant, username, admin, previous_owner)
        content_hash = str(request.form.get("content_hash") or "")
        try:
            saved = flows.save(request_hook(), grant, directory, name, spec, content_hash, username, admin)
        except PluginError as err:
            if isinstance(err, HopsworksError):
                raise
            return self._refused(grant, spec, err, name, content_hash,
                                 self._recheck(grant, directory, spec, name) if err.status == 400 else None)
        return self._done(grant, saved)

    @staticmethod
    def _recheck(grant: ProjectAccess, directory: Path, spec: DagSpec, name: str | None) -> flows.Check | None:
        """The problems by field, for the form shown again after a refusal."""
        try:
            return flows.full_check(request_hook(), grant, directory, spec, own_file=name)
        except PluginError:
            return None

    def _done(self, grant: ProjectAccess, saved: flows.Saved) -> Any:
        flash(saved.message, "info")
        for warning in saved.warnings:
            flash(warning, "warning")
        return redirect(url_for("HopsworksDagFilesView.project", project_id=grant.project.id))

    # -- JSON for the page's script ---------------------------------------------------------------

    @expose("/<int:project_id>/builder/check", methods=["POST"])
    @project_member(operate="upload")
    def check(self, grant: ProjectAccess) -> Any:
        """``{"spec": {...}, "full": false, "name": null}`` -> the problems, the schedule preview and the
        edges; with ``full`` also the checks against Airflow and Hopsworks and the code."""
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise BadInput("Send the DAG as JSON.", title=flows.TITLE)
        spec = flows.spec_from_data(body.get("spec"), grant, request_username(), request_is_admin())
        if body.get("full"):
            name = body.get("name")
            own = str(name) if isinstance(name, str) and name else None
            directory = project_folder(grant)
            if own:
                file_flows.dag_files.check_name(own)
                previous = flows.open_file(directory, grant.project.name, own)
                if previous.spec is not None and request_is_admin():
                    spec.owner = previous.spec.owner
            result = flows.full_check(request_hook(), grant, directory, spec, own_file=own)
        else:
            result = flows.live_check(spec)
        return jsonify(result.to_dict())

    @expose("/<int:project_id>/builder/jobs")
    @project_member()
    def jobs(self, grant: ProjectAccess) -> Any:
        """The job picker: ``?q=<name filter>&page=<n>`` -> one page of the project's job names."""
        q = str(request.args.get("q") or "").strip()[:100]
        page = int_arg(request.args, "page", 1)
        total, items = request_hook().get_jobs(
            grant.project.id, offset=(page - 1) * JOBS_PER_PAGE, limit=JOBS_PER_PAGE, sort_by="name:asc",
            name_filter=q or None, with_latest_execution=False)
        jobs = [{"name": str(j.get("name")), "type": str(j.get("jobType") or "")} for j in items]
        return jsonify({"jobs": jobs, "total": total, "page": page, "pages": page_count(total, JOBS_PER_PAGE),
                        "q": q})
