"""Projects and jobs page (placeholder until implemented)."""

from __future__ import annotations

from typing import Any

from flask_appbuilder import expose

from hopsworks_ui_plugin.views.base import HopsworksBaseView
from hopsworks_ui_plugin.webauth import login_required


class HopsworksProjectsView(HopsworksBaseView):
    route_base = "/hopsworks/projects"

    @expose("/")
    @login_required
    def index(self) -> Any:
        return self.error_page(501, "Projects and jobs", "Not implemented yet.")
