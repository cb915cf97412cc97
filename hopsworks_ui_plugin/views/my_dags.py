"""My DAGs page: read the request, call :mod:`hopsworks_ui_plugin.core.my_dags`, render.

Who may pause, unpause or trigger a DAG is checked by ``dag_actor`` before a handler runs; errors
are raised and become pages through the one error handler of the base view.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import flash, redirect, request, url_for
from flask_appbuilder import expose
from flask_wtf import FlaskForm
from wtforms import HiddenField

from hopsworks_ui_plugin.core import my_dags as core
from hopsworks_ui_plugin.errors import BadInput
from hopsworks_ui_plugin.metadb import DagRef
from hopsworks_ui_plugin.views.base import (
    HopsworksBaseView,
    dag_actor,
    login_required,
    redirect_target,
    request_hook,
    request_is_admin,
    request_user,
    request_username,
)

EP = "HopsworksMyDagsView"


class DagActionForm(FlaskForm):
    """Pause/unpause and trigger: CSRF token plus where to go back to (the list with its filters)."""

    next = HiddenField()


def airflow_root() -> str:
    """Airflow's site root as the browser sees it: the ``/pluginsv2`` app's script root without
    ``/pluginsv2`` (keeps a base-URL path prefix such as ``/airflow``)."""
    root = request.script_root or ""
    if root.endswith("/pluginsv2"):
        root = root[: -len("/pluginsv2")]
    return root.rstrip("/")


def dag_url(dag_id: str) -> str:
    """The DAG's page in Airflow's own (React) UI."""
    return f"{airflow_root()}/dags/{quote(dag_id, safe='')}"


def list_url(params: core.ListParams, **changes: Any) -> str:
    """The list URL with the current query, some of it changed."""
    return url_for(f"{EP}.index", **params.args(**changes))


def _checked_form(what: str) -> DagActionForm:
    form = DagActionForm()
    if not form.validate_on_submit():
        raise BadInput("The form was not accepted (missing or expired CSRF token).", title=what)
    return form


def _next_url(form: DagActionForm, what: str) -> str:
    """Back to the list the form came from; never elsewhere (no open redirect). Called before the
    action: a bad ``next`` is a 400 and nothing is done."""
    return redirect_target(form.next.data, url_for(f"{EP}.index"), title=what)


class HopsworksMyDagsView(HopsworksBaseView):
    route_base = "/hopsworks/my-dags"

    @expose("/")
    @login_required
    def index(self) -> Any:
        username, admin = request_username(), request_is_admin()
        core.require_list_permission(request_user())
        params = core.parse_params(request.args.to_dict(), username, admin)
        view = core.list_page(params, username, admin, hook_factory=request_hook)
        return self.page(
            "hopsworks/my_dags.html",
            title="My DAGs",
            view=view,
            params=params,
            form=DagActionForm(next=list_url(params)),
            sort_labels=core.SORT_LABELS,
            page_sizes=core.PAGE_SIZES,
            dag_url=dag_url,
            url_for_page=lambda n: list_url(params, page=n if n != 1 else ""),
            url_for_sort=lambda column: url_for(f"{EP}.index", **params.sort_args(column)),
        )

    @expose("/<string:dag_id>/paused", methods=["POST"])
    @dag_actor("pause")
    def set_paused(self, dag: DagRef) -> Any:
        form = _checked_form("Pause DAG")
        back = _next_url(form, "Pause DAG")
        paused = core.parse_paused(request.form.get("paused"))
        flash(core.set_paused(dag, paused, request_username()), "info")
        return redirect(back)

    @expose("/<string:dag_id>/trigger", methods=["POST"])
    @dag_actor("trigger", run=True)
    def trigger(self, dag: DagRef) -> Any:
        form = _checked_form("Trigger DAG")
        back = _next_url(form, "Trigger DAG")
        conf, logical_date = core.parse_trigger_options(request.form.get("conf"), request.form.get("logical_date"))
        flash(core.trigger(dag, request_username(), conf=conf, logical_date=logical_date), "info")
        return redirect(back)
