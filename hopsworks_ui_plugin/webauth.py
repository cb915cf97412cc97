"""Who is looking at a plugin page.

On Airflow 3 the plugin's pages run in the FAB app mounted at ``/pluginsv2``, which cannot read
the ``/auth`` app's database-backed session. The UI login also sets the ``_token`` JWT cookie;
the configured auth manager turns it into a user. That works with every session backend and
every Airflow 3 auth manager. A flask-login user (``securecookie`` backend, Airflow 2) is used
when there is no token.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from flask import g, redirect, request

from hopsworks_ui_plugin.compat import conf_get, get_auth_manager, jwt_cookie_name

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])


def _user_from_token(token: str) -> Any:
    am = get_auth_manager()
    try:
        return asyncio.run(am.get_user_from_token(token))
    except RuntimeError:  # already inside an event loop (not the case under WSGI; be safe)
        loop = asyncio.new_event_loop()
        try:
            return loop.run_until_complete(am.get_user_from_token(token))
        finally:
            loop.close()


def current_user() -> Any | None:
    """The logged-in Airflow user of this request, or None."""
    if "hopsworks_user" in g:
        return g.hopsworks_user
    user = None
    token = request.cookies.get(jwt_cookie_name())
    if token:
        try:
            user = _user_from_token(token)
        except Exception as err:  # expired, revoked, signed with another secret
            log.info("Ignoring an invalid Airflow token cookie: %s", err.__class__.__name__)
    if user is None:
        flask_user = getattr(g, "user", None)
        if flask_user is not None and getattr(flask_user, "is_authenticated", False):
            if not getattr(flask_user, "is_anonymous", False):
                user = flask_user
    g.hopsworks_user = user
    return user


def username_of(user: Any) -> str:
    name = getattr(user, "username", None)
    if not name and hasattr(user, "get_name"):
        name = user.get_name()
    return str(name or "")


def is_admin(user: Any) -> bool:
    """An Airflow admin: a FAB role listed in ``[hopsworks] admin_roles`` (default "Admin"), or the
    SimpleAuthManager's ADMIN role."""
    if user is None:
        return False
    admin_roles = {r.strip() for r in str(conf_get("hopsworks", "admin_roles", "Admin")).split(",") if r.strip()}
    roles = getattr(user, "roles", None) or []
    if any(getattr(r, "name", r) in admin_roles for r in roles):
        return True
    return str(getattr(user, "role", "") or "").upper() == "ADMIN"


def login_url() -> str:
    next_url = request.url
    try:
        return str(get_auth_manager().get_url_login(next_url=next_url))
    except Exception:  # pragma: no cover - auth managers without a login URL
        return "/auth/login/"


def login_required(view: F) -> F:
    """Redirect anonymous visitors to Airflow's login page; remember the user in ``g``."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if current_user() is None:
            return redirect(login_url())
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
