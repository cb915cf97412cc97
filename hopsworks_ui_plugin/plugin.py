"""The Airflow plugin: Hopsworks pages in Airflow's web UI, and the operator extra link."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from hopsworks_ui_plugin.asgi_limits import BodyLimitMiddleware
from hopsworks_ui_plugin.asset_guard import AssetRequestMiddleware
from hopsworks_ui_plugin.formatting import JINJA_FILTERS
from hopsworks_ui_plugin.links import HopsworksExecutionLink
from hopsworks_ui_plugin.version_compat import (
    AIRFLOW_V_3,
    AIRFLOW_V_3_1_PLUS,
    PLUGIN_URL_PREFIX,
    AirflowPlugin,
    conf_get,
)
from hopsworks_ui_plugin.views.base import STATIC_FOLDER
from hopsworks_ui_plugin.views.builder import HopsworksBuilderView
from hopsworks_ui_plugin.views.connection import HopsworksConnectionView
from hopsworks_ui_plugin.views.dag_files import HopsworksDagFilesView
from hopsworks_ui_plugin.views.editor import HopsworksEditorView
from hopsworks_ui_plugin.views.jobs import HopsworksProjectsView
from hopsworks_ui_plugin.views.keys import HopsworksKeyView
from hopsworks_ui_plugin.views.my_dags import HopsworksMyDagsView

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


#: (name, route, category of Airflow 3.1+'s navigation) of each page in Airflow 3's navigation. Airflow 3
#: shows plugin entries to every role that may read Plugins, with no per-entry permission, so the admin-only
#: connection page has no entry there: admins reach it from the projects page (on 2.x the FAB menu
#: shows it to admins only).
NAV_PAGES = (
    ("Hopsworks jobs", "projects", "browse"),
    ("Hopsworks DAG files", "dag-files", "browse"),
    ("My DAGs", "my-dags", "browse"),
    ("My Hopsworks key", "my-key", "browse"),
)
#: The FAB menu of Airflow 2 (and of the ``/pluginsv2`` app on 3.x): menu item name -> view.
MENU_ITEMS = ("Projects and jobs", "Project DAG files", "My DAGs", "My Hopsworks key", "Connection")
ADMIN_MENU_ITEMS = ("Connection",)
#: Menu items for every role that may use the pages (all but the admin pages).
MEMBER_MENU_ITEMS = tuple(name for name in MENU_ITEMS if name not in ADMIN_MENU_ITEMS)


def _page(name: str, route: str, category: str) -> dict[str, Any]:
    """Airflow 3.1+: an entry of its own in the React navigation, showing the page inside the UI."""
    return {
        "name": name,
        "href": f"{PLUGIN_URL_PREFIX}/hopsworks/{route}/",
        "url_route": f"hopsworks-{route}",
        "destination": "nav",
        "category": category,
    }


def _menu_item(name: str, route: str) -> dict[str, Any]:
    """Airflow 3.0: its React navigation shows only ``appbuilder_menu_items`` (links, opened in a new tab)."""
    return {"name": name, "href": f"{PLUGIN_URL_PREFIX}/hopsworks/{route}/", "category": CATEGORY}


def _external_views() -> list[dict[str, Any]]:
    return [_page(*p) for p in NAV_PAGES] if AIRFLOW_V_3_1_PLUS else []


def _appbuilder_menu_items() -> list[dict[str, Any]]:
    """Only on 3.0: on 3.1+ ``external_views`` replace them; on 2.x the FAB menu of ``appbuilder_views`` is the nav."""
    return [_menu_item(name, route) for name, route, _ in NAV_PAGES] if AIRFLOW_V_3 and not AIRFLOW_V_3_1_PLUS else []


class HopsworksPlugin(AirflowPlugin):
    name = "hopsworks"
    flask_blueprints = [static_blueprint]
    appbuilder_views = [
        {"name": name, "category": CATEGORY, "view": view}
        for name, view in zip(
            MENU_ITEMS,
            (HopsworksProjectsView(), HopsworksDagFilesView(), HopsworksMyDagsView(), HopsworksKeyView(),
             HopsworksConnectionView()),
            strict=True,
        )
    ] + [{"view": HopsworksBuilderView()}, {"view": HopsworksEditorView()}]  # no menu entries: opened from a
    # project's DAG files page
    external_views = _external_views()
    appbuilder_menu_items = _appbuilder_menu_items()
    # Airflow 3: refuse oversized bodies to /pluginsv2/hopsworks/ before the WSGI bridge buffers them.
    fastapi_root_middlewares = (
        [{"name": "hopsworks-body-limit", "middleware": BodyLimitMiddleware, "args": [], "kwargs": {}},
         # What asset list/event requests are about, for HopsworksAuthManager's asset rule (decides nothing).
         {"name": "hopsworks-asset-request", "middleware": AssetRequestMiddleware, "args": [], "kwargs": {}}]
        if AIRFLOW_V_3 else []
    )
    global_operator_extra_links = []
    operator_extra_links = [HopsworksExecutionLink()]
