"""Admin page: which Hopsworks connection the plugin uses, and whether it works."""

from __future__ import annotations

from typing import Any

from flask_appbuilder import expose

from hopsworks_ui_plugin import settings
from hopsworks_ui_plugin.core.connection import connection_status
from hopsworks_ui_plugin.views.base import HopsworksBaseView, admin_only


class HopsworksConnectionView(HopsworksBaseView):
    route_base = "/hopsworks/connection"

    @expose("/")
    @admin_only
    def index(self) -> Any:
        return self.page("hopsworks/connection.html", status=connection_status(settings.conn_id()))
