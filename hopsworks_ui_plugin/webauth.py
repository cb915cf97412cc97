"""Who is looking at a plugin page.

On Airflow 3 the plugin's pages run in the FAB app mounted at ``/pluginsv2``, which cannot read
the ``/auth`` app's database-backed session. The UI login also sets the ``_token`` JWT cookie;
the configured auth manager turns it into a user. That works with every session backend and
every Airflow 3 auth manager. A flask-login user (``securecookie`` backend, Airflow 2) is used
when there is no token.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from flask import g, request

from hopsworks_ui_plugin.version_compat import get_auth_manager, jwt_cookie_name

log = logging.getLogger(__name__)


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


def login_url() -> str:
    next_url = request.url
    try:
        return str(get_auth_manager().get_url_login(next_url=next_url))
    except Exception:  # pragma: no cover - auth managers without a login URL
        return "/auth/login/"
