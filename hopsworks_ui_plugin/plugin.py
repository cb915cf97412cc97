"""The Airflow plugin: Hopsworks pages in Airflow's web UI, and the operator extra link."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from hopsworks_ui_plugin.asgi_limits import BodyLimitMiddleware
from hopsworks_ui_plugin.formatting import JINJA_FILTERS
from hopsworks_ui_plugin.links import HopsworksExecutionLink
from hopsworks_ui_plugin.version_compat import AIRFLOW_V_3, conf_get
from hopsworks_ui_plugin.views.base import STATIC_FOLDER
from hopsworks_ui_plugin.views.connection import HopsworksConnectionView
from hopsworks_ui_plugin.views.dag_files import HopsworksDagFilesView
from hopsworks_ui_plugin.views.jobs import HopsworksProjectsView
from hopsworks_ui_plugin.views.my_dags import HopsworksMyDagsView

try:
    from airflow.plugins_manager import AirflowPlugin
except ImportError:  # pragma: no cover
    from airflow.sdk.plugins_manager import AirflowPlugin  # type: ignore[no-redef,assignment]

PLUGIN_SESSION_COOKIE = "hopsworks_plugin_session"
CATEGORY = "Hopsworks"

static_blueprint = Blueprint(
    "hopsworks_plugin", __name__, static_folder=STATIC_FOLDER, static_url_path="/static", url_prefix="/hopsworks-assets"
)


@static_blueprint.record_once
def _own_session_cookie(state: Any) -> None:
    """Keep the ``/pluginsv2`` app from overwriting Airflow's login session.

    Under the FAB auth manager's default ``session_backend = database`` the ``/auth`` app keeps its
    session id in the ``session`` cookie. The ``/pluginsv2`` app stores (CSRF, flash) in a signed
    cookie of the same name and path, which would replace it and log the user out of Airflow's
    own pages. A cookie of our own avoids that; users are identified by the ``_token`` JWT.
    """
    if AIRFLOW_V_3 and str(conf_get("fab", "session_backend", "database")).lower() == "database":
        state.app.config["SESSION_COOKIE_NAME"] = PLUGIN_SESSION_COOKIE


@static_blueprint.record_once
def _jinja_filters(state: Any) -> None:
    """The formatting helpers as Jinja filters of the app that serves the pages, registered once."""
    state.app.jinja_env.filters.update(JINJA_FILTERS)


def _page(name: str, route: str, category: str) -> dict[str, Any]:
    """An entry of its own in Airflow 3's React navigation, showing the page inside the UI."""
    return {
        "name": name,
        "href": f"/pluginsv2/hopsworks/{route}/",
        "url_route": f"hopsworks-{route}",
        "destination": "nav",
        "category": category,
    }


class HopsworksPlugin(AirflowPlugin):
    name = "hopsworks"
    flask_blueprints = [static_blueprint]
    appbuilder_views = [
        {"name": "Projects and jobs", "category": CATEGORY, "view": HopsworksProjectsView()},
        {"name": "Project DAG files", "category": CATEGORY, "view": HopsworksDagFilesView()},
        {"name": "My DAGs", "category": CATEGORY, "view": HopsworksMyDagsView()},
        {"name": "Connection", "category": CATEGORY, "view": HopsworksConnectionView()},
    ]
    external_views = [
        _page("Hopsworks jobs", "projects", "browse"),
        _page("Hopsworks DAG files", "dag-files", "browse"),
        _page("My DAGs", "my-dags", "browse"),
        _page("Hopsworks connection", "connection", "admin"),
    ]
    # Airflow 3: refuse oversized bodies to /pluginsv2/hopsworks/ before the WSGI bridge buffers them.
    fastapi_root_middlewares = (
        [{"name": "hopsworks-body-limit", "middleware": BodyLimitMiddleware, "args": [], "kwargs": {}}]
        if AIRFLOW_V_3 else []
    )
    global_operator_extra_links = []
    operator_extra_links = [HopsworksExecutionLink()]
