"""The DAG file editor: any project DAG file in CodeMirror (``static/vendor/codemirror.bundle.js``).

Members may look (read-only editor); members who may change DAG files may save. A thin adapter over
:mod:`hopsworks_ui_plugin.core.editor`: a refused save shows the editor again with the user's text,
the reason, the error line (syntax errors) or the diff against the file's current version (409).
"""

from __future__ import annotations

from typing import Any

from flask import redirect, request, url_for
from flask_appbuilder import expose
from flask_wtf import FlaskForm
from wtforms import HiddenField, TextAreaField

from hopsworks_ui_plugin import access
from hopsworks_ui_plugin.access import ProjectAccess
from hopsworks_ui_plugin.core import editor as flows
from hopsworks_ui_plugin.errors import PluginError
from hopsworks_ui_plugin.views.base import (
    HopsworksBaseView,
    project_member,
    request_is_admin,
    request_user,
    request_username,
    stash_result,
    stashed_result,
)
from hopsworks_ui_plugin.views.dag_files import back_to_project_files, project_folder


class EditForm(FlaskForm):
    content = TextAreaField("Content")
    base_hash = HiddenField()


class HopsworksEditorView(HopsworksBaseView):
    route_base = "/hopsworks/dag-files"

    def error_response(self, err: PluginError) -> Any:
        return super().error_response(back_to_project_files(err))

    def _editor(self, grant: ProjectAccess, name: str, text: str, base_hash: str, http_status: int = 200,
                **extra: Any) -> Any:
        form = EditForm(formdata=None, content=text, base_hash=base_hash)
        # Saving needs the project role (can_operate) and the Airflow permission to replace DAG files.
        may_save = grant.can_operate and access.has_airflow_permission(request_user(), "replace")
        return self.page(
            "hopsworks/editor.html",
            http_status=http_status,
            title=f"Edit {name} – {grant.project.name}",
            access=grant,
            project=grant.project,
            name=name,
            form=form,
            may_save=may_save,
            **extra,
        )

    @expose("/<int:project_id>/files/<name>/edit")  # the address the builder links to for files it cannot open
    @expose("/<int:project_id>/edit/<name>")  # registered first: url_for builds this one
    @project_member()
    def edit(self, grant: ProjectAccess, name: str) -> Any:
        opened = flows.open_file(project_folder(grant), name)
        reason = request.args.get("reason", "")[:300] or None  # e.g. the builder's "why it opens here"
        saved = stashed_result("editor-save", request.args.get("result")) or {}  # after a save's redirect
        return self._editor(grant, name, opened.text, opened.content_hash, reason=reason,
                            notice=saved.get("notice"), warnings=saved.get("warnings") or [])

    @expose("/<int:project_id>/edit/<name>", methods=["POST"])
    @project_member(operate="replace")
    def save(self, grant: ProjectAccess, name: str) -> Any:
        directory = project_folder(grant)
        form = EditForm()
        text = form.content.data or ""
        # "Save mine over theirs" (offered with the diff after a refusal) names the version the user saw.
        base_hash = request.form.get("take_over") or form.base_hash.data or ""
        if not form.validate_on_submit():
            return self._editor(grant, name, text, base_hash, 400,
                                error="The form was not valid (its security token expired?); nothing was saved. "
                                      "Copy your text, open the file again and paste it.")
        try:
            saved = flows.save(directory, name, text, base_hash, request_username(), request_is_admin())
        except flows.StaleEdit as err:
            return self._editor(grant, name, text, base_hash, err.status, error=err.message, stale=err)
        except flows.RefusedEdit as err:
            return self._editor(grant, name, text, base_hash, err.status, error=err.message, error_line=err.line)
        except PluginError as err:
            if err.status == 404:
                raise
            return self._editor(grant, name, text, base_hash, err.status, error=err.message)
        # POST -> redirect -> GET: reloading the editor after a save repeats nothing.
        token = stash_result("editor-save", {"notice": saved.message, "warnings": list(saved.warnings)})
        return redirect(url_for("HopsworksEditorView.edit", project_id=grant.project.id, name=name, result=token), 303)
