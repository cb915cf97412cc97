"""Project DAG files: list, upload, view, download and delete the DAG files of a Hopsworks project.

A thin adapter: the permission decorators check membership (and the right to change files) before
a handler runs, the handler reads the request, calls :mod:`hopsworks_ui_plugin.core.dag_files`
and renders. Refusals are raised and become error pages in :mod:`hopsworks_ui_plugin.views.base`.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlparse

from flask import Response, g, get_template_attribute, jsonify, redirect, request, url_for
from flask_appbuilder import expose
from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from werkzeug.datastructures import FileStorage
from wtforms import HiddenField

from hopsworks_ui_plugin.access import ProjectAccess
from hopsworks_ui_plugin.core import dag_files as flows
from hopsworks_ui_plugin.dag_files.records import RemovalReport
from hopsworks_ui_plugin.errors import PluginError
from hopsworks_ui_plugin.version_compat import conf_get
from hopsworks_ui_plugin.views.base import (
    HopsworksBaseView,
    login_required,
    project_member,
    request_hook,
    request_is_admin,
    request_username,
    stash_result,
    stashed_result,
)


class UploadForm(FlaskForm):
    files = MultipleFileField("DAG files (.py)")


class ConfirmForm(FlaskForm):
    """CSRF token plus an explicit ``overwrite=1`` for replacing, or a bare token for deleting."""

    overwrite = HiddenField(default="1")


def airflow_dag_url(dag_id: str) -> str:
    """The DAG's page in Airflow's own UI (outside ``/pluginsv2``)."""
    base = urlparse(str(conf_get("api", "base_url", "") or "")).path.rstrip("/")
    return f"{base}/dags/{quote(dag_id, safe='')}"


def back_to_project_files(err: PluginError) -> PluginError:
    """Refusals about a file lead back to the project's files (the handler set ``g.hw_dag_files_project``);
    membership refusals to the list of projects. Shared by the DAG-file pages and the editor."""
    if err.back is None:
        project_id = getattr(g, "hw_dag_files_project", None)
        err.back = (url_for("HopsworksDagFilesView.project", project_id=project_id) if project_id is not None
                    else url_for("HopsworksDagFilesView.index"))
    return err


def project_folder(grant: ProjectAccess) -> Path:
    """The project's DAG-file folder, remembered for this request so that a refusal about one of its files
    leads back to the project's files (:func:`back_to_project_files`). Shared by the DAG-file pages, the
    editor and the builder."""
    directory = flows.folder(grant.project.id, grant.project.name)
    g.hw_dag_files_project = grant.project.id
    return directory


class HopsworksDagFilesView(HopsworksBaseView):
    route_base = "/hopsworks/dag-files"

    def error_response(self, err: PluginError) -> Any:
        return super().error_response(back_to_project_files(err))

    # -- helpers (plain functions: FAB inspects view attributes at import time) ------------------

    def _listing(self, grant: ProjectAccess, directory: Path, http_status: int = 200, **extra: Any) -> Any:
        extra.setdefault("form", UploadForm())
        return self.page(
            "hopsworks/dag_files.html",
            http_status=http_status,
            title=f"DAG files of {grant.project.name}",
            access=grant,
            project=grant.project,
            listing=flows.listing(directory),
            dag_url=airflow_dag_url,
            **extra,
        )

    def _answer(self, grant: ProjectAccess, directory: Path, outcome: flows.UploadResult, **extra: Any) -> Any:
        """POST -> redirect -> GET: the outcome is kept in the session and shown by the project's page
        (``?result=<token>``, with the outcome's status), so reload and back repeat nothing."""
        token = stash_result("upload", asdict(outcome))
        return redirect(url_for("HopsworksDagFilesView.project", project_id=grant.project.id, result=token), 303)

    @staticmethod
    def _stashed(kind: str) -> dict[str, Any] | None:
        return stashed_result(kind, request.args.get("result"))

    # -- pages ------------------------------------------------------------------------------------

    @expose("/")
    @login_required
    def index(self) -> Any:
        projects = flows.project_rows(request_hook(), request_username(), request_is_admin())
        return self.page("hopsworks/dag_files_index.html", title="Project DAG files", projects=projects)

    @expose("/<int:project_id>/")
    @project_member()
    def project(self, grant: ProjectAccess) -> Any:
        directory = project_folder(grant)
        upload = self._stashed("upload")
        if upload is not None:
            results = [flows.FileResult(**r) for r in upload.pop("results", [])]
            outcome = flows.UploadResult(**upload, results=results)
            return self._listing(grant, directory, outcome.status, outcome=outcome, confirm_form=ConfirmForm())
        deleted = self._stashed("delete")
        if deleted is not None:
            return self._listing(grant, directory, deleted_name=deleted["name"],
                                 report=RemovalReport(**deleted["report"]))
        return self._listing(grant, directory)

    @expose("/<int:project_id>/status.json")
    @project_member()
    def parse_status(self, grant: ProjectAccess) -> Any:
        """Each file's DAGs (the cell's HTML) for the project's page to poll while a file is not parsed
        yet; ``final`` once every file has DAGs or an import error."""
        dag_list = get_template_attribute("hopsworks/dag_files_macros.html", "dag_list")
        import_errors = get_template_attribute("hopsworks/macros.html", "import_errors")
        items = [
            {"key": row.file.name, "final": bool(row.dags or row.errors),
             "dag_ids": [d.dag_id for d in row.dags], "import_errors": len(row.errors),
             "html": str(dag_list(row.dags, airflow_dag_url)) + str(import_errors(row.errors))}
            for row in flows.parse_status(project_folder(grant))
        ]
        return jsonify({"items": items, "final": all(i["final"] for i in items)})

    @expose("/<int:project_id>/upload", methods=["POST"])
    @project_member(operate="upload")
    def upload(self, grant: ProjectAccess) -> Any:
        directory = project_folder(grant)
        refused = flows.request_too_large(request.content_length)  # before the body is read
        if refused:
            return self._answer(grant, directory, refused)
        form = UploadForm()
        if not form.validate_on_submit():
            return self._answer(grant, directory, flows.UploadResult(
                400, error="The form was not valid; reload the page and try again."))
        files = [
            flows.IncomingFile(f.filename, f.stream, f.headers.get("Content-Disposition"))
            for f in request.files.getlist("files")
            if isinstance(f, FileStorage) and f.filename
        ]
        outcome = flows.upload(directory, files, request_username(), request_is_admin(), offer_override=True)
        return self._answer(grant, directory, outcome)

    @expose("/<int:project_id>/upload/replace", methods=["POST"])
    @project_member(operate="replace")
    def replace(self, grant: ProjectAccess) -> Any:
        """Second step of replacing existing files: ``overwrite=1`` plus the staged uploads."""
        directory = project_folder(grant)
        form = ConfirmForm()
        staged = request.form.getlist("staged")
        if not form.validate_on_submit() or not staged:
            flows.discard(directory, [s.partition(":")[0] for s in staged])  # refused: nothing stays staged
            return self._answer(grant, directory, flows.UploadResult(400, error="The confirmation was not valid."))
        confirm = request.form.get("action") != "cancel" and form.overwrite.data == "1"
        # An admin's override of the fail-closed checks: the ticked box that names what is overridden.
        override = request.form.get("action") == "override" and request.form.get("override") == "1"
        if request.form.get("action") == "override" and not override:
            flows.discard(directory, [s.partition(":")[0] for s in staged])
            return self._answer(grant, directory, flows.UploadResult(
                400, error="Nothing was saved: tick the box to confirm what you override, and upload again."))
        outcome = flows.replace(directory, staged, request_username(), request_is_admin(), confirm=confirm,
                                override=override)
        return self._answer(grant, directory, outcome)

    @expose("/<int:project_id>/files/<name>")
    @project_member()
    def view_file(self, grant: ProjectAccess, name: str) -> Any:
        shown = flows.view(project_folder(grant), name)
        return self.page(
            "hopsworks/dag_files_view.html",
            title=f"{name} – {grant.project.name}",
            access=grant,
            project=grant.project,
            name=name,
            file=shown,
            dag_url=airflow_dag_url,
        )

    @expose("/<int:project_id>/files/<name>/download")
    @project_member()
    def download(self, grant: ProjectAccess, name: str) -> Any:
        return Response(
            flows.download(project_folder(grant), name),
            mimetype="text/x-python",
            headers={
                "Content-Disposition": f'attachment; filename="{name}"',
                "X-Content-Type-Options": "nosniff",
                "Cache-Control": "no-store",
            },
        )

    @expose("/<int:project_id>/files/<name>/delete", methods=["GET", "POST"])
    @project_member(operate="delete")
    def delete(self, grant: ProjectAccess, name: str) -> Any:
        directory = project_folder(grant)
        preview = flows.delete_preview(directory, name)
        form = ConfirmForm()
        context: dict[str, Any] = {
            "title": f"Delete {name}",
            "access": grant,
            "project": grant.project,
            "name": name,
            "preview": preview,
            "form": form,
            "dag_url": airflow_dag_url,
        }
        if request.method == "GET":
            return self.page("hopsworks/dag_files_delete.html", **context)
        if not form.validate_on_submit():
            return self.page("hopsworks/dag_files_delete.html", http_status=400,
                             error="The confirmation was not valid; nothing was deleted.", **context)
        report = flows.delete(directory, name, [d.dag_id for d in preview.dags], username=request_username())
        token = stash_result("delete", {"name": name, "report": asdict(report)})
        return redirect(url_for("HopsworksDagFilesView.project", project_id=grant.project.id, result=token), 303)
