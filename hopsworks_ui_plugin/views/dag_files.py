"""Project DAG files: list, upload, view, download and delete the DAG files of a Hopsworks project.

The view stays thin: who may do what comes from :mod:`hopsworks_ui_plugin.access` (checked in
every handler before any file is touched, including hand-typed URLs), every file operation from
:mod:`hopsworks_ui_plugin.dag_files`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, urlparse

from flask import Response, request, url_for
from flask_appbuilder import expose
from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from werkzeug.datastructures import FileStorage
from wtforms import HiddenField

from hopsworks_ui_plugin import dag_files
from hopsworks_ui_plugin.access import ProjectAccess, project_access, visible_projects
from hopsworks_ui_plugin.dag_files import DagFileError
from hopsworks_ui_plugin.errors import PluginError
from hopsworks_ui_plugin.hooks.hopsworks import HopsworksError, service_hook
from hopsworks_ui_plugin.version_compat import conf_get, conf_getboolean
from hopsworks_ui_plugin.views.base import (
    HopsworksBaseView,
    login_required,
    request_is_admin,
    request_username,
)

F = TypeVar("F", bound=Callable[..., Any])


class UploadForm(FlaskForm):
    files = MultipleFileField("DAG files (.py)")


class ConfirmForm(FlaskForm):
    """CSRF token plus an explicit ``overwrite=1`` for replacing, or a bare token for deleting."""

    overwrite = HiddenField(default="1")


@dataclass
class FileResult:
    """What happened to one uploaded file."""

    name: str
    outcome: str  # valid (checked, not yet written) | written | replaced | confirm | skipped | rejected
    message: str = ""
    status: int = 200
    size: int = 0
    owners: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    token: str = ""


class _Refused(Exception):
    def __init__(self, status: int, title: str, message: str, back: str | None = None) -> None:
        super().__init__(message)
        self.status, self.title, self.message, self.back = status, title, message, back


def fmt_mtime(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def airflow_dag_url(dag_id: str) -> str:
    """The DAG's page in Airflow's own UI (outside ``/pluginsv2``)."""
    base = urlparse(str(conf_get("api", "base_url", "") or "")).path.rstrip("/")
    return f"{base}/dags/{quote(dag_id, safe='')}"


def _guarded(view: F) -> F:
    """Turn refusals into pages with a 4xx status and a message (never a traceback)."""

    @functools.wraps(view)
    def wrapper(self: HopsworksDagFilesView, *args: Any, **kwargs: Any) -> Any:
        try:
            return view(self, *args, **kwargs)
        except _Refused as err:
            return self.page("hopsworks/error.html", http_status=err.status, title=err.title,
                             message=err.message, back_url=err.back)
        except PluginError as err:
            title = "Not a member of this project" if err.status == 403 else "Project not found"
            return self.page("hopsworks/error.html", http_status=err.status, title=title, message=err.message,
                             back_url=url_for("HopsworksDagFilesView.index"))
        except HopsworksError as err:
            return self.hopsworks_error_page(err, "Checking your project membership")
        except DagFileError as err:
            back = None
            if "project_id" in kwargs:
                back = url_for("HopsworksDagFilesView.project", project_id=kwargs["project_id"])
            return self.page("hopsworks/error.html", http_status=err.status, title="DAG file",
                             message=err.message, back_url=back)

    return wrapper  # type: ignore[return-value]


class HopsworksDagFilesView(HopsworksBaseView):
    route_base = "/hopsworks/dag-files"

    # -- helpers (plain functions: FAB inspects view attributes at import time) ------------------

    def _project(self, project_id: int, operate: bool = False) -> tuple[ProjectAccess, Path]:
        """Membership first (403/404), then the project's folder."""
        username = request_username()
        access = project_access(service_hook(), username, request_is_admin(), project_id)
        if operate and not access.can_operate:
            raise _Refused(
                403,
                "Not allowed",
                f"You ({username}) may view but not change the DAG files of project {access.project.name!r}.",
                url_for("HopsworksDagFilesView.project", project_id=project_id),
            )
        try:
            directory = dag_files.project_dir(access.project.id, access.project.name)
        except ValueError as err:
            raise _Refused(
                409,
                "No DAG folder for this project",
                f"{err}. An admin can set [hopsworks] dag_folder_scheme = sha256 in airflow.cfg.",
            ) from None
        return access, directory

    def _listing(self, access: ProjectAccess, directory: Path, http_status: int = 200, **extra: Any) -> Any:
        files, skipped = dag_files.list_files(directory)
        dags = dag_files.dags_by_file(directory)
        errors = dag_files.import_errors_by_file(directory)
        rows = [
            {
                "file": f,
                "size": dag_files.human_size(f.size),
                "mtime": fmt_mtime(f.mtime),
                "dags": dags.get(f.name, []),
                "errors": errors.get(f.name, []),
            }
            for f in files
        ]
        orphans = sorted(set(dags) - {f.name for f in files})
        extra.setdefault("form", UploadForm())
        return self.page(
            "hopsworks/dag_files.html",
            http_status=http_status,
            title=f"DAG files of {access.project.name}",
            access=access,
            project=access.project,
            folder=directory.name,
            rows=rows,
            skipped=skipped,
            orphans={name: dags[name] for name in orphans},
            max_size=dag_files.human_size(dag_files.max_file_bytes()),
            max_files=dag_files.max_files_per_upload(),
            paused_at_creation=conf_getboolean("core", "dags_are_paused_at_creation", True),
            dag_url=airflow_dag_url,
            **extra,
        )

    def _check(self, storage: FileStorage, seen: set[str]) -> tuple[FileResult, bytes]:
        """Validate one uploaded file completely (nothing is written here)."""
        name = storage.filename or ""
        problem = dag_files.upload_name_problem(name, storage.headers.get("Content-Disposition"))
        if problem:
            return FileResult(name, "rejected", problem, 400), b""
        if name in seen:
            return FileResult(name, "rejected", f"{name} appears twice in this upload.", 400), b""
        seen.add(name)
        try:
            data = dag_files.read_capped(storage.stream, dag_files.max_file_bytes(), name)
            checked = dag_files.check_source(name, data)
        except DagFileError as err:
            return FileResult(name, "rejected", err.message, err.status), b""
        refusal, warnings = dag_files.owner_verdict(checked, request_username(), request_is_admin())
        owners = sorted(checked.owners.owners)
        if refusal:
            return FileResult(name, "rejected", refusal, 403, len(data), owners, warnings), b""
        return FileResult(name, "valid", "", 200, len(data), owners, warnings), data

    @staticmethod
    def _store(result: FileResult, data: bytes, directory: Path) -> None:
        """Write a validated file, or stage it for confirmation when the name is taken."""
        name = result.name
        try:
            if dag_files.exists(directory, name):
                raise DagFileError(409, "exists")
            dag_files.write_atomic(directory, name, data, replace=False)
            result.outcome = "written"
            result.message = f"{name} was saved ({dag_files.human_size(len(data))})."
        except DagFileError as err:
            if err.status != 409:
                result.outcome, result.status, result.message = "rejected", err.status, err.message
                return
            result.token = dag_files.stage(directory, data)
            result.outcome, result.status = "confirm", 409
            result.message = f"{name} already exists. Replace it with the uploaded file?"

    @staticmethod
    def _status(results: list[FileResult]) -> int:
        for result in results:
            if result.outcome == "rejected":
                return result.status
        return 409 if any(r.outcome == "confirm" for r in results) else 200

    # -- pages ------------------------------------------------------------------------------------

    @expose("/")
    @login_required
    @_guarded
    def index(self) -> Any:
        username, admin = request_username(), request_is_admin()
        projects = []
        for project, role in visible_projects(service_hook(), username, admin):
            try:
                directory = dag_files.project_dir(project.id, project.name)
                count: int | None = len(dag_files.list_files(directory)[0])
                folder = directory.name
            except (ValueError, DagFileError):
                count, folder = None, None
            projects.append({"project": project, "role": role, "count": count, "folder": folder})
        return self.page("hopsworks/dag_files_index.html", title="Project DAG files", projects=projects)

    @expose("/<int:project_id>/")
    @login_required
    @_guarded
    def project(self, project_id: int) -> Any:
        access, directory = self._project(project_id)
        return self._listing(access, directory)

    @expose("/<int:project_id>/upload", methods=["POST"])
    @login_required
    @_guarded
    def upload(self, project_id: int) -> Any:
        access, directory = self._project(project_id, operate=True)
        limit = dag_files.max_upload_request_bytes()
        if request.content_length is not None and request.content_length > limit:
            return self._listing(
                access, directory, 413,
                upload_error=f"The upload is too large ({dag_files.human_size(request.content_length)}); "
                f"at most {dag_files.max_files_per_upload()} files of "
                f"{dag_files.human_size(dag_files.max_file_bytes())} each. Nothing was saved.",
            )
        form = UploadForm()
        if not form.validate_on_submit():
            return self._listing(access, directory, 400, form=form,
                                 upload_error="The form was not valid; reload the page and try again.")
        uploads = [f for f in request.files.getlist("files") if isinstance(f, FileStorage) and f.filename]
        if not uploads:
            return self._listing(access, directory, 400, form=form,
                                 upload_error="Choose one or more .py files to upload.")
        if len(uploads) > dag_files.max_files_per_upload():
            return self._listing(
                access, directory, 413, form=form,
                upload_error=f"Too many files ({len(uploads)}); at most {dag_files.max_files_per_upload()} "
                "per upload. Nothing was saved.",
            )
        seen: set[str] = set()
        checked = [self._check(storage, seen) for storage in uploads]
        results = [result for result, _data in checked]
        if any(r.outcome == "rejected" for r in results):
            # All or nothing: one bad file and nothing of this upload is written.
            for result in results:
                if result.outcome == "valid":
                    result.outcome = "skipped"
                    result.message = f"{result.name} passed the checks but was not saved, because another file " \
                        "of this upload was refused. Upload it again on its own, or fix the other file."
            return self._listing(access, directory, self._status(results), results=results,
                                 upload_error="Nothing was saved: fix the refused file and upload again.")
        for result, data in checked:
            self._store(result, data, directory)
        return self._listing(access, directory, self._status(results), results=results,
                             confirm_form=ConfirmForm())

    @expose("/<int:project_id>/upload/replace", methods=["POST"])
    @login_required
    @_guarded
    def replace(self, project_id: int) -> Any:
        """Second step of replacing existing files: ``overwrite=1`` plus the staged uploads."""
        access, directory = self._project(project_id, operate=True)
        form = ConfirmForm()
        staged = request.form.getlist("staged")
        if not form.validate_on_submit() or not staged:
            return self._listing(access, directory, 400, upload_error="The confirmation was not valid.")
        pairs = [(token, name) for token, _, name in (s.partition(":") for s in staged)]
        if request.form.get("action") == "cancel" or form.overwrite.data != "1":
            for token, _name in pairs:
                try:
                    dag_files.discard_staged(directory, token)
                except DagFileError:
                    continue
            return self._listing(access, directory, 200, notice="Nothing was replaced.")
        results = []
        for token, name in pairs[: dag_files.max_files_per_upload()]:
            problem = dag_files.name_problem(name)
            if problem:
                results.append(FileResult(name, "rejected", problem, 400))
                continue
            try:
                # Everything is checked again: the confirmation itself is not trusted.
                checked = dag_files.check_source(name, dag_files.read_staged(directory, token))
                refusal, warnings = dag_files.owner_verdict(
                    checked, request_username(), request_is_admin()
                )
                if refusal:
                    dag_files.discard_staged(directory, token)
                    results.append(FileResult(name, "rejected", refusal, 403))
                    continue
                replaced = dag_files.commit_staged(directory, token, name)
            except DagFileError as err:
                results.append(FileResult(name, "rejected", err.message, err.status))
                continue
            verb = "replaced" if replaced else "saved"
            results.append(
                FileResult(name, "replaced" if replaced else "written",
                           f"{name} was {verb} ({dag_files.human_size(checked.size)}).", 200, checked.size,
                           sorted(checked.owners.owners), warnings)
            )
        return self._listing(access, directory, self._status(results), results=results)

    @expose("/<int:project_id>/files/<name>")
    @login_required
    @_guarded
    def view_file(self, project_id: int, name: str) -> Any:
        access, directory = self._project(project_id)
        data = dag_files.read_file(directory, name)
        info = dag_files.file_info(directory, name)
        shown_limit = 2 * dag_files.max_file_bytes()
        truncated = len(data) > shown_limit
        data = data[:shown_limit]
        try:
            text, decoded = data.decode("utf-8"), True
        except UnicodeDecodeError:
            text, decoded = data.decode("utf-8", errors="replace"), truncated
        return self.page(
            "hopsworks/dag_files_view.html",
            title=f"{name} – {access.project.name}",
            access=access,
            project=access.project,
            name=name,
            size=dag_files.human_size(info.size),
            mtime=fmt_mtime(info.mtime),
            lines=text.splitlines() or [""],
            decoded=decoded,
            truncated=dag_files.human_size(shown_limit) if truncated else None,
            dags=dag_files.dag_records(directory, name),
            errors=dag_files.import_errors(directory, name),
            dag_url=airflow_dag_url,
        )

    @expose("/<int:project_id>/files/<name>/download")
    @login_required
    @_guarded
    def download(self, project_id: int, name: str) -> Any:
        _access, directory = self._project(project_id)
        data = dag_files.read_file(directory, name)
        # ``name`` passed the allow-list (ASCII letters, digits, _ . -), so it is safe in the header.
        return Response(
            data,
            mimetype="text/x-python",
            headers={
                "Content-Disposition": f'attachment; filename="{name}"',
                "X-Content-Type-Options": "nosniff",
                "Cache-Control": "no-store",
            },
        )

    @expose("/<int:project_id>/files/<name>/delete", methods=["GET", "POST"])
    @login_required
    @_guarded
    def delete(self, project_id: int, name: str) -> Any:
        access, directory = self._project(project_id, operate=True)
        info = dag_files.file_info(directory, name)
        dags = dag_files.dag_records(directory, name)
        form = ConfirmForm()
        context: dict[str, Any] = {
            "title": f"Delete {name}",
            "access": access,
            "project": access.project,
            "name": name,
            "size": dag_files.human_size(info.size),
            "mtime": fmt_mtime(info.mtime),
            "dags": dags,
            "form": form,
            "dag_url": airflow_dag_url,
        }
        if request.method == "GET":
            return self.page("hopsworks/dag_files_delete.html", **context)
        if not form.validate_on_submit():
            return self.page("hopsworks/dag_files_delete.html", http_status=400,
                             error="The confirmation was not valid; nothing was deleted.", **context)
        dag_files.delete_file(directory, name)
        report = dag_files.remove_dag_records(directory, name, [d.dag_id for d in dags])
        return self.page("hopsworks/dag_files_delete.html", done=True, report=report, **context)
