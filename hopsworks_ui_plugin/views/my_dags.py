"""My DAGs page (placeholder until implemented)."""

from __future__ import annotations

from typing import Any

from flask_appbuilder import expose

from hopsworks_ui_plugin.views.base import HopsworksBaseView
from hopsworks_ui_plugin.webauth import login_required


class HopsworksMyDagsView(HopsworksBaseView):
    route_base = "/hopsworks/my-dags"

    @expose("/")
    @login_required
    def index(self) -> Any:
        return self.error_page(501, "My DAGs", "Not implemented yet.")
