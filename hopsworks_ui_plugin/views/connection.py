"""Admin page: which Hopsworks connection the plugin uses, and whether it works."""

from __future__ import annotations

from typing import Any

from flask_appbuilder import expose

from hopsworks_ui_plugin import settings
from hopsworks_ui_plugin.hooks.hopsworks import HopsworksError, HopsworksHook
from hopsworks_ui_plugin.version_compat import AirflowException
from hopsworks_ui_plugin.views.base import (
    HopsworksBaseView,
    login_required,
    request_is_admin,
)


def connection_status(conn_id: str) -> dict[str, Any]:
    """What an admin needs to know about the connection; never includes the API key."""
    status: dict[str, Any] = {"conn_id": conn_id, "configured": False, "ok": False, "projects": []}
    hook = HopsworksHook(conn_id)
    try:
        endpoint = hook.endpoint
    except HopsworksError as err:
        status["problem"] = str(err)
        return status
    except AirflowException:
        status["problem"] = (
            f"There is no Airflow connection {conn_id!r}. Add one under Admin → Connections with "
            "type “Hopsworks”: host, port, and an API key (scopes JOB and PROJECT) as password."
        )
        return status
    status.update(configured=True, url=endpoint.root, verify=endpoint.verify, timeout=endpoint.timeout)
    try:
        status["projects"] = hook.get_projects()
        status["username"] = hook.get_caller_username()
        status["ok"] = True
    except HopsworksError as err:
        if err.status == 401:
            status["problem"] = f"Hopsworks refused the API key: {err.error_msg or err}"
        elif err.status == 403:
            status["problem"] = f"The API key lacks a scope (needs JOB and PROJECT): {err.error_msg or err}"
        else:
            status["problem"] = str(err)
    finally:
        hook.close()
    return status


class HopsworksConnectionView(HopsworksBaseView):
    route_base = "/hopsworks/connection"

    @expose("/")
    @login_required
    def index(self) -> Any:
        if not request_is_admin():
            return self.error_page(
                403, "Admins only", "The Hopsworks connection page is for Airflow admins."
            )
        return self.page("hopsworks/connection.html", status=connection_status(settings.conn_id()))
