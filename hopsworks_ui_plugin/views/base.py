"""The FAB edge of the plugin: templates, the user, one error-to-page mapping, permission decorators.

Handlers stay thin: a permission decorator resolves and checks who may do what (the rules live in
:mod:`hopsworks_ui_plugin.access`) before the handler runs, the handler calls the core and renders,
and any :class:`~hopsworks_ui_plugin.errors.PluginError` it raises becomes a page (or JSON) with the
error's status, title and message, through the one error handler registered on every view's blueprint.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import g, jsonify, redirect, request
from flask_appbuilder import BaseView

from hopsworks_ui_plugin import access
from hopsworks_ui_plugin.errors import BadInput, Forbidden, PluginError
from hopsworks_ui_plugin.hooks.hopsworks import HopsworksHook, hook_for, service_hook
from hopsworks_ui_plugin.webauth import current_user, login_url

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])


def resource_dir(name: str) -> str:
    """``templates``/``static``: inside the package once installed from a wheel, at the repository
    root in a source checkout (the design card keeps them there)."""
    here = Path(__file__).resolve().parent.parent
    packaged = here / name
    return str(packaged if packaged.is_dir() else here.parent / name)


TEMPLATE_FOLDER = resource_dir("templates")
STATIC_FOLDER = resource_dir("static")


def request_user() -> Any:
    return current_user()


def request_username() -> str:
    return access.username_of(current_user())


def request_is_admin() -> bool:
    return access.is_admin(current_user())


def wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


def redirect_target(raw: str | None, within: str, *, title: str = "Bad request") -> str:
    """A redirect target read from a form (``next``), checked before the request does anything.

    Empty: ``within``. Otherwise it must be a plain path on this site below ``within`` (the page the
    form belongs to): control characters (CR/LF: header injection), backslashes, a scheme or host
    (``https://evil``, ``//evil``), ``.``/``..`` segments or any other path are refused with
    :class:`BadInput` (400), so a refused target never follows a half-done action.
    """
    target = str(raw or "")
    if not target:
        return within
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in target) or "\\" in target:
        raise BadInput("The return address (next) holds control characters or backslashes; nothing was "
                       "done.", title=title)
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or target.startswith("//") or not target.startswith("/"):
        raise BadInput("The return address (next) points to another site; nothing was done.", title=title)
    segments = parts.path.split("/")
    if not target.startswith(within) or "." in segments or ".." in segments:
        raise BadInput(f"The return address (next) must be a page below {within}; nothing was done.", title=title)
    return target


def request_hook() -> HopsworksHook:
    """The hook this request calls Hopsworks with, chosen once per request: the user's own key (My
    Hopsworks key) when they stored one, so Hopsworks decides what they see; else the shared
    connection (``[hopsworks] conn_id``), and the page says so (``hw_shared_key``)."""
    if "hw_hook" not in g:
        own = hook_for(request_username())
        g.hw_hook = own if own is not None else service_hook()
        g.hw_own_key = own is not None
    return g.hw_hook  # type: ignore[no-any-return]


def browsing_with_shared_key() -> bool:
    """This request called (or chose to call) Hopsworks with the shared connection, not the user's own key."""
    return g.get("hw_own_key") is False


# --- POST -> redirect -> GET: a POST's outcome carried to the page it redirects to ----------------

#: How many outcomes a session keeps (the newest); older result tokens show the plain page.
KEPT_RESULTS = 5


def stash_result(kind: str, data: dict[str, Any]) -> str:
    """Keep ``data`` (JSON types only) in the user's session under a new random token, for the GET
    page a POST redirects to (``?result=<token>``): reloading that page shows the same outcome and
    repeats nothing. Only the newest :data:`KEPT_RESULTS` stay."""
    import secrets

    from flask import session

    token = secrets.token_urlsafe(12)
    kept = [r for r in session.get("hw_results", []) if isinstance(r, dict)][-(KEPT_RESULTS - 1):]
    session["hw_results"] = [*kept, {"token": token, "kind": kind, "data": data}]
    return token


def stashed_result(kind: str, token: str | None) -> dict[str, Any] | None:
    """The outcome :func:`stash_result` kept under ``token`` for this kind of page, or None."""
    from flask import session

    if not token:
        return None
    for entry in session.get("hw_results", []):
        if isinstance(entry, dict) and entry.get("token") == token and entry.get("kind") == kind:
            return entry.get("data")  # type: ignore[no-any-return]
    return None


# --- permission decorators: resolve and check before the handler runs ---------------------------


def login_required(view: F) -> F:
    """Anonymous visitors go to Airflow's login page; users whose Airflow role may not read DAGs get
    a 403 (every page of the plugin is about projects, jobs and DAGs: ``access.ACTIONS["browse"]``)."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        user = current_user()
        if user is None:
            return redirect(login_url())
        access.require_airflow_permission(user, "browse")
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def admin_only(view: F) -> F:
    """Airflow admins only (``[hopsworks] admin_roles``); others get a 403 page."""

    @functools.wraps(view)
    @login_required
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not request_is_admin():
            raise Forbidden("This page is for Airflow admins.", title="Admins only")
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def project_member(*, operate: str | None = None) -> Callable[[F], F]:
    """The user must see project ``project_id`` (a member, or an admin); the handler gets
    ``grant=`` (:class:`~hopsworks_ui_plugin.access.ProjectAccess`) instead of ``project_id``.

    ``operate="launch"`` (an action of :data:`hopsworks_ui_plugin.access.ACTIONS`) also requires the
    Airflow permission that action needs (checked first: nothing is asked of Hopsworks for a role that
    may not do it) and the right to change things in the project, and names the action in the refusal.
    """
    if operate is not None and operate not in access.ACTIONS:
        raise ValueError(f"project_member(operate={operate!r}): not an action of access.ACTIONS")

    def decorate(view: F) -> F:
        @functools.wraps(view)
        @login_required
        def wrapper(*args: Any, project_id: int, **kwargs: Any) -> Any:
            if operate:
                access.require_airflow_permission(request_user(), operate)
            grant = access.project_access(request_hook(), request_username(), request_is_admin(), project_id)
            if operate:
                access.require_operator(grant, access.action_words(operate))
            return view(*args, grant=grant, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def dag_actor(action: str, *, run: bool = False) -> Callable[[F], F]:
    """The user may do ``action`` (``"pause"``, ``"trigger"``: :data:`hopsworks_ui_plugin.access.ACTIONS`)
    to DAG ``dag_id``: their Airflow role has the action's permission (checked first, 403 naming it),
    the DAG exists (404), they are an owner or an admin and the auth manager agrees for this DAG (403).
    The handler gets ``dag=`` (:class:`~hopsworks_ui_plugin.metadb.DagRef`) instead of ``dag_id``.
    ``run`` is implied by the action's permission (kept for callers that pass it)."""
    if action not in access.ACTIONS:
        raise ValueError(f"dag_actor({action!r}): not an action of access.ACTIONS")

    def decorate(view: F) -> F:
        @functools.wraps(view)
        @login_required
        def wrapper(*args: Any, dag_id: str, **kwargs: Any) -> Any:
            from hopsworks_ui_plugin.core.my_dags import dag_for_action

            access.require_airflow_permission(request_user(), action)
            return view(*args, dag=dag_for_action(dag_id, request_user(), action), **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


# --- the base view -------------------------------------------------------------------------------


class HopsworksBaseView(BaseView):
    """Base of every plugin page: our templates with the user in context, and every
    :class:`PluginError` answered as a page with its status, never a traceback."""

    template_folder = TEMPLATE_FOLDER
    default_view = "index"

    def create_blueprint(self, appbuilder: Any, endpoint: str | None = None, static_folder: str | None = None) -> Any:
        blueprint = super().create_blueprint(appbuilder, endpoint=endpoint, static_folder=static_folder)
        blueprint.register_error_handler(PluginError, self.error_response)
        return blueprint

    def page(self, template: str, http_status: int = 200, **context: Any) -> tuple[str, int]:
        context.setdefault("hw_user", request_username())
        context.setdefault("hw_admin", request_is_admin())
        context.setdefault("hw_shared_key", browsing_with_shared_key())
        return self.render_template(template, **context), http_status

    def error_response(self, err: PluginError) -> Any:
        """The one mapping from errors to answers: JSON for API callers, else the error page. Hopsworks'
        403 320003 to the shared connection (an AGENT key) becomes the clear "needs a browsing key" refusal."""
        if browsing_with_shared_key():
            from hopsworks_ui_plugin.core.keys import shared_key_refusal

            err = shared_key_refusal(err) or err
        if err.status >= 500:
            log.warning("%s %s: %s", request.method, request.path, err)
        if wants_json():
            return jsonify({"status": err.status, "title": err.title, "message": err.message}), err.status
        return self.page("hopsworks/error.html", http_status=err.status, title=err.title, message=err.message,
                         back_url=err.back)

    # TRANSITIONAL (removed when the views raise PluginError instead of building error pages).
    def error_page(self, status: int, title: str, message: str) -> Any:
        return self.error_response(PluginError(message, status=status, title=title))

    def hopsworks_error_page(self, err: PluginError, what: str) -> Any:
        return self.error_response(err)
