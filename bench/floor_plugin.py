"""The floor of any plugin page, for the benchmarks only (never shipped in the package).

``bench/stack.py`` copies this file into the bench api-server's ``[core] plugins_folder``. It registers
a FAB view with no menu entry under ``/pluginsv2/bench-floor`` that does what any plugin page must do
and nothing more, so a ratio against it shows what *our* code costs on top of Airflow's own:

* ``GET /empty``: resolve the user from Airflow's ``_token`` JWT through the auth manager (as any
  Airflow 3 plugin page must) and render an empty page in Airflow's FAB layout (``airflow/main.html``);
* ``POST /upload``: the same user check, Flask-WTF's CSRF check (the app's ``CSRFProtect``), read the
  multipart ``files`` field, write it atomically (temp file in the folder, fsync, rename, fsync of the
  folder), ``compile()`` it, and answer with a 303 redirect;
* ``GET /ping``: no user, no layout: the first plugin page the cold-start benchmark waits for.

It imports nothing from ``hopsworks_ui_plugin``, so it also loads when the plugin is hidden.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import uuid
from pathlib import Path
from typing import Any

from airflow.plugins_manager import AirflowPlugin
from flask import redirect, render_template_string, request
from flask_appbuilder import BaseView, expose

UPLOAD_DIR = Path(os.environ.get("HW_BENCH_FLOOR_DIR") or tempfile.mkdtemp(prefix="hw-bench-floor-"))
EMPTY = """{% extends "airflow/main.html" %}
{% block page_title %}Empty - Airflow{% endblock %}
{% block content %}<p>{{ user }}</p>{% endblock %}"""


def _user() -> Any:
    from airflow.api_fastapi.app import get_auth_manager

    token = request.cookies.get("_token")
    if not token:
        return None
    try:
        return asyncio.run(get_auth_manager().get_user_from_token(token))
    except Exception:
        return None


class BenchFloorView(BaseView):
    route_base = "/bench-floor"
    default_view = "empty"

    @expose("/ping")
    def ping(self) -> Any:
        return "ok"

    @expose("/empty")
    def empty(self) -> Any:
        user = _user()
        if user is None:
            return redirect("/auth/login/")
        return render_template_string(EMPTY, appbuilder=self.appbuilder, base_template=self.appbuilder.base_template,
                                      user=user.get_name())

    @expose("/upload", methods=["POST"])
    def upload(self) -> Any:
        if _user() is None:
            return "login first", 401
        stored = request.files["files"]
        data = stored.read()
        UPLOAD_DIR.mkdir(parents=True, exist_ok=True)
        target = UPLOAD_DIR / f"floor_{uuid.uuid4().hex[:12]}.py"
        partial = UPLOAD_DIR / f".{target.name}.tmp"
        with open(partial, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, target)
        folder = os.open(UPLOAD_DIR, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
        compile(data, str(target), "exec", dont_inherit=True)
        return redirect("/pluginsv2/bench-floor/empty", code=303)


class BenchFloorPlugin(AirflowPlugin):
    name = "bench_floor"
    appbuilder_views = [{"view": BenchFloorView()}]
