"""The connection status without a web framework."""

from __future__ import annotations

from hopsworks_ui_plugin import settings
from hopsworks_ui_plugin.core.connection import connection_status


def test_missing_connection_is_explained(hw):
    missing = connection_status("no_such_connection")
    assert missing["configured"] is False and missing["ok"] is False
    assert "There is no Airflow connection 'no_such_connection'" in missing["problem"]
    assert "Admin → Connections" in missing["problem"]
    assert hw.requests == []


def test_status_names_the_key_user_and_projects_from_one_get_project(hw):
    status = connection_status(settings.conn_id())
    assert status["ok"] is True and status["configured"] is True and status["username"] == "airflow_ui"
    assert status["url"] == hw.url and status["verify"] is True and status["timeout"] == 5
    names = [p["name"] for p in status["projects"]]  # (other modules add projects to the session's fake)
    assert names == sorted(names, key=str.lower) and {"analytics", "demo_fs", "empty_proj"} <= set(names)
    assert {p["role"] for p in status["projects"]} == {"Data scientist"}
    assert [(r.method, r.path) for r in hw.requests] == [("GET", "/hopsworks-api/api/project")]
    assert "password" not in str(status) and "ApiKey" not in str(status)
