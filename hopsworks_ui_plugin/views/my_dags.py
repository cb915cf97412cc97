"""My DAGs: the DAGs the logged-in user owns (admins: all, with an owner filter), with pause and
trigger actions.

The listing runs in the metadata DB (:mod:`hopsworks_ui_plugin.metadb`): one COUNT, one page
query, one last-run lookup. Ownership is :func:`hopsworks_ui_plugin.access.owns_dag` (exact
owner token, ignoring case and spaces). Unlike the opt-in auth manager, this page is owner-only:
membership of the project whose folder holds a DAG does not make it "mine".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from flask import flash, redirect, request, url_for
from flask_appbuilder import expose
from flask_wtf import FlaskForm
from wtforms import HiddenField

from hopsworks_ui_plugin import access, dag_files, metadb
from hopsworks_ui_plugin.errors import PluginError
from hopsworks_ui_plugin.hooks.hopsworks import HopsworksError, service_hook
from hopsworks_ui_plugin.version_compat import get_auth_manager
from hopsworks_ui_plugin.views.base import (
    HopsworksBaseView,
    login_required,
    request_is_admin,
    request_user,
    request_username,
)

PAGE_SIZES = (25, 50, 100, 200)
DEFAULT_PAGE_SIZE = 50
MAX_SEARCH = 250
SORT_LABELS = {"dag_id": "DAG id", "owners": "Owners", "last_run": "Last run", "next_run": "Next run"}
PAUSED_CHOICES = {"": None, "paused": True, "active": False}


class DagActionForm(FlaskForm):
    """Pause/unpause and trigger: CSRF token plus where to go back to (the list with its filters)."""

    next = HiddenField()


class BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class ProjectName:
    """A project as :func:`dag_files.project_of_file` needs it."""

    id: int
    name: str


def fmt_dt(value: datetime | None) -> str:
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def run_badge(state: str | None) -> str:
    return {"success": "success", "failed": "failed", "running": "running", "queued": "running"}.get(
        str(state or ""), "none"
    )


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


def _int_arg(name: str, default: int, minimum: int = 0) -> int:
    raw = request.args.get(name, "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(400, f"{name} must be a whole number, not {raw[:40]!r}.") from None
    if value < minimum:
        raise BadRequest(400, f"{name} must be at least {minimum}.")
    return value


class HopsworksMyDagsView(HopsworksBaseView):
    route_base = "/hopsworks/my-dags"

    # --- listing --------------------------------------------------------------------------

    @expose("/")
    @login_required
    def index(self) -> Any:
        username, admin = request_username(), request_is_admin()
        if not self._may_list_dags():
            return self.error_page(403, "My DAGs", "Your Airflow role does not allow reading DAGs.")
        try:
            params = self._params(username, admin)
        except BadRequest as err:
            return self.error_page(err.status, "My DAGs: bad request", err.message)

        projects, hopsworks_problem = self._all_projects()
        choices: list[Any] = []
        folders: tuple[str, ...] | None = None
        notices: list[str] = []
        if hopsworks_problem is None:
            try:
                choices = [p for p, _role in access.visible_projects(service_hook(), username, admin)]
            except HopsworksError as err:
                hopsworks_problem = str(err)
        if params["project"] is not None:
            if hopsworks_problem is not None:
                notices.append(
                    "The project filter was not applied: Hopsworks could not be asked which folder "
                    "belongs to the project."
                )
            else:
                try:
                    grant = access.project_access(service_hook(), username, admin, params["project"])
                    folders = (dag_files.project_folder_name(grant.project.id, grant.project.name),)
                except PluginError as err:
                    return self.error_page(err.status, "My DAGs", err.message)
                except ValueError as err:
                    return self.error_page(400, "My DAGs", str(err))
                except HopsworksError as err:
                    return self.hopsworks_error_page(err, "Looking up the project")

        query = metadb.DagQuery(
            owner=params["owner"],
            search=params["q"],
            folders=folders,
            paused=PAUSED_CHOICES[params["paused"]],
            sort=params["sort"],
            descending=params["dir"] == "desc",
            offset=(params["page"] - 1) * params["per_page"],
            limit=params["per_page"],
        )
        result = metadb.list_dags(query)
        pages = max(1, math.ceil(result.total / params["per_page"]))
        for row in result.rows:
            row.project = dag_files.project_of_file(row.fileloc, projects) if projects else None

        return self.page(
            "hopsworks/my_dags.html",
            title="My DAGs",
            result=result,
            params=params,
            pages=pages,
            project_choices=choices,
            owner_choices=metadb.owner_choices() if admin else [],
            hopsworks_problem=hopsworks_problem,
            notices=notices,
            form=DagActionForm(next=self._list_url(params)),
            sort_labels=SORT_LABELS,
            page_sizes=PAGE_SIZES,
            fmt_dt=fmt_dt,
            run_badge=run_badge,
            dag_url=dag_url,
            list_url=self._list_url,
        )

    def _params(self, username: str, admin: bool) -> dict[str, Any]:
        args = request.args
        q = args.get("q", "").strip()
        if len(q) > MAX_SEARCH:
            raise BadRequest(400, f"The search text is longer than {MAX_SEARCH} characters.")
        owner = args.get("owner", "").strip()
        if not admin:
            if owner and not access.owns_dag(owner, username):
                raise BadRequest(403, f"Only Airflow admins can list other users' DAGs (you are {username}).")
            owner = username
        sort = args.get("sort", "dag_id")
        if sort not in SORT_LABELS:
            raise BadRequest(400, f"Unknown sort {sort[:40]!r}; use one of: {', '.join(SORT_LABELS)}.")
        direction = args.get("dir", "asc")
        if direction not in ("asc", "desc"):
            raise BadRequest(400, "dir must be asc or desc.")
        paused = args.get("paused", "")
        if paused not in PAUSED_CHOICES:
            raise BadRequest(400, "paused must be empty, 'paused' or 'active'.")
        per_page = _int_arg("per_page", DEFAULT_PAGE_SIZE, 1)
        if per_page not in PAGE_SIZES:
            raise BadRequest(400, f"per_page must be one of {', '.join(map(str, PAGE_SIZES))}.")
        project_raw = args.get("project", "")
        project = _int_arg("project", 0, 1) if project_raw else None
        return {
            "q": q,
            "owner": owner or None,
            "owner_filter": owner if admin else "",
            "sort": sort,
            "dir": direction,
            "paused": paused,
            "page": _int_arg("page", 1, 1),
            "per_page": per_page,
            "project": project,
        }

    @staticmethod
    def _list_url(params: dict[str, Any], **changes: Any) -> str:
        """The list URL with the current filters, some changed (empty values dropped)."""
        args = {
            "q": params["q"],
            "owner": params["owner_filter"],
            "project": params["project"] or "",
            "paused": params["paused"],
            "sort": params["sort"],
            "dir": params["dir"],
            "per_page": params["per_page"] if params["per_page"] != DEFAULT_PAGE_SIZE else "",
            "page": params["page"] if params["page"] != 1 else "",
        }
        args.update(changes)
        return url_for("HopsworksMyDagsView.index", **{k: v for k, v in args.items() if v not in ("", None)})

    @staticmethod
    def _all_projects() -> tuple[list[ProjectName], str | None]:
        """Every project the service connection sees (for the project column), or a problem text."""
        try:
            listed = access.MEMBERSHIPS.project_list(service_hook())
        except HopsworksError as err:
            return [], str(err)
        except Exception as err:  # e.g. the connection is not configured
            return [], str(err) or err.__class__.__name__
        return [ProjectName(int(p["id"]), str(p["name"])) for p in listed if p.get("id") is not None], None

    def _may_list_dags(self) -> bool:
        try:
            return bool(get_auth_manager().is_authorized_dag(method="GET", user=request_user()))
        except Exception:  # pragma: no cover - auth managers that need details
            return True

    # --- actions --------------------------------------------------------------------------

    @expose("/<string:dag_id>/paused", methods=["POST"])
    @login_required
    def set_paused(self, dag_id: str) -> Any:
        form = DagActionForm()
        if not form.validate_on_submit():
            return self.error_page(
                400, "Pause DAG", "The form was not accepted (missing or expired CSRF token)."
            )
        wanted = request.form.get("paused", "")
        if wanted not in ("true", "false"):
            return self.error_page(400, "Pause DAG", "paused must be 'true' or 'false'.")
        paused = wanted == "true"
        verb = "pause" if paused else "unpause"
        refusal = self._refusal(dag_id, verb, method="PUT", run=False)
        if refusal is not None:
            return refusal
        try:
            metadb.set_paused(dag_id, paused, request_username())
        except PluginError as err:
            return self.error_page(err.status, f"Could not {verb} {dag_id}", err.message)
        flash(f"DAG {dag_id} is {'paused' if paused else 'active (unpaused)'}.", "info")
        return redirect(self._next_url(form))

    @expose("/<string:dag_id>/trigger", methods=["POST"])
    @login_required
    def trigger(self, dag_id: str) -> Any:
        form = DagActionForm()
        if not form.validate_on_submit():
            return self.error_page(
                400, "Trigger DAG", "The form was not accepted (missing or expired CSRF token)."
            )
        refusal = self._refusal(dag_id, "trigger", method="POST", run=True)
        if refusal is not None:
            return refusal
        try:
            run_id = metadb.trigger_run(dag_id, request_username())
        except PluginError as err:
            return self.error_page(err.status, f"Could not trigger {dag_id}", err.message)
        flash(f"Triggered DAG {dag_id}: run {run_id} is queued.", "info")
        return redirect(self._next_url(form))

    def _refusal(self, dag_id: str, verb: str, *, method: str, run: bool) -> Any | None:
        """None when the user may ``verb`` the DAG; else the 404/403 page saying why.

        Allowed: Airflow admins, and the DAG's owners — in both cases only if the configured auth
        manager also allows it (FAB role permissions; HopsworksAuthManager's rule)."""
        username, admin = request_username(), request_is_admin()
        ref = metadb.dag_ref(dag_id)
        if ref is None:
            return self.error_page(404, f"Cannot {verb} {dag_id}", f"There is no DAG {dag_id!r}.")
        if not admin and not access.owns_dag(ref.owners, username):
            return self.error_page(
                403,
                f"Cannot {verb} {dag_id}",
                f"DAG {dag_id!r} is owned by {ref.owners or 'nobody'!s}, not by you ({username}). Only a "
                "DAG's owners and Airflow admins can pause, unpause or trigger it here.",
            )
        from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails

        allowed = get_auth_manager().is_authorized_dag(
            method=method,
            access_entity=DagAccessEntity.RUN if run else None,
            details=DagDetails(id=dag_id),
            user=request_user(),
        )
        if not allowed:
            return self.error_page(
                403,
                f"Cannot {verb} {dag_id}",
                f"Your Airflow role does not allow you to {verb} DAG {dag_id!r}.",
            )
        return None

    @staticmethod
    def _next_url(form: DagActionForm) -> str:
        index = url_for("HopsworksMyDagsView.index")
        target = str(form.next.data or "")
        return target if target.startswith(index) and "\\" not in target else index
