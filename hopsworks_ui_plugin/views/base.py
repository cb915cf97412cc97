"""Shared plumbing of the plugin's Flask AppBuilder views: templates, the user, error pages."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from flask import request
from flask_appbuilder import BaseView

from hopsworks_ui_plugin.compat import conf_get
from hopsworks_ui_plugin.hooks.hopsworks import HopsworksError, HopsworksHook
from hopsworks_ui_plugin.webauth import current_user, is_admin, username_of


def resource_dir(name: str) -> str:
    """``templates``/``static``: inside the package once installed from a wheel, at the repository
    root in a source checkout (the design card keeps them there)."""
    here = Path(__file__).resolve().parent.parent
    packaged = here / name
    return str(packaged if packaged.is_dir() else here.parent / name)


TEMPLATE_FOLDER = resource_dir("templates")
STATIC_FOLDER = resource_dir("static")


def service_conn_id() -> str:
    """The Hopsworks connection the web pages use (``[hopsworks] conn_id``)."""
    return str(conf_get("hopsworks", "conn_id", HopsworksHook.default_conn_name))


_SERVICE_HOOK_TTL_S = 60.0
_service_hooks: dict[str, tuple[float, HopsworksHook]] = {}
_service_lock = threading.Lock()


def service_hook() -> HopsworksHook:
    """The pages' shared hook on the service connection.

    One per process for a minute at a time: its pooled HTTP connections are reused across page
    views (a new TCP/TLS connection and connection lookup per page would cost more than the
    Hopsworks call itself), and a changed connection is picked up within a minute.
    """
    conn_id = service_conn_id()
    now = time.monotonic()
    with _service_lock:
        cached = _service_hooks.get(conn_id)
        if cached and now - cached[0] < _SERVICE_HOOK_TTL_S:
            return cached[1]
        hook = HopsworksHook(conn_id)
        _service_hooks[conn_id] = (now, hook)
    # A replaced hook is not closed: another thread may still be using it; its pool is garbage-collected.
    return hook


class HopsworksBaseView(BaseView):
    """Base of every plugin page: renders our templates with the user in context, and turns
    Hopsworks failures into a page with a message and the right status, never a traceback."""

    template_folder = TEMPLATE_FOLDER
    default_view = "index"

    # Plain functions, not properties: FAB inspects every attribute of a view at registration,
    # outside any request.
    @staticmethod
    def request_user() -> Any:
        return current_user()

    @staticmethod
    def request_username() -> str:
        return username_of(current_user())

    @staticmethod
    def request_is_admin() -> bool:
        return is_admin(current_user())

    def page(self, template: str, http_status: int = 200, **context: Any) -> tuple[str, int]:
        context.setdefault("hw_user", self.request_username())
        context.setdefault("hw_admin", self.request_is_admin())
        return self.render_template(template, **context), http_status

    def error_page(self, status: int, title: str, message: str) -> tuple[str, int]:
        return self.page("hopsworks/error.html", http_status=status, title=title, message=message)

    def hopsworks_error_page(self, err: HopsworksError, what: str) -> tuple[str, int]:
        """A Hopsworks failure as a page: unreachable/timeout → 502/504, 404 → 404, 403 → 403."""
        if err.unreachable:
            status = 504 if "did not answer" in str(err) else 502
            return self.error_page(status, "Hopsworks is not available", f"{what}: {err}")
        if err.status in (401, 403, 404):
            return self.error_page(int(err.status or 502), f"{what}", str(err.error_msg or err))
        return self.error_page(502, "Hopsworks answered with an error", f"{what}: {err}")

    @staticmethod
    def wants_json() -> bool:
        return request.accept_mimetypes.best == "application/json"
