"""The connection status for admins: which Hopsworks connection the web pages use, and whether it works."""

from __future__ import annotations

from typing import Any

from hopsworks_ui_plugin.errors import HopsworksError
from hopsworks_ui_plugin.hooks.hopsworks import HopsworksHook
from hopsworks_ui_plugin.version_compat import AirflowException


def _projects(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``GET /project`` rows as ``{id, name, role}``, by name."""
    projects = [
        {"id": (row.get("project") or {}).get("id"), "name": (row.get("project") or {}).get("name"),
         "role": row.get("teamRole")}
        for row in rows
    ]
    return sorted(projects, key=lambda p: str(p["name"]).lower())


def connection_status(conn_id: str) -> dict[str, Any]:
    """What an admin needs to know about the connection; never includes the API key.

    One Hopsworks request (``GET /project``): the projects the key sees and, from the same rows,
    the Hopsworks user behind the key.
    """
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
        rows = hook.get_project_rows()
        status["projects"] = _projects(rows)
        status["username"] = (rows[0].get("user") or {}).get("username") if rows else None
        status["ok"] = True
    except HopsworksError as err:
        if err.http_status == 401:
            status["problem"] = f"Hopsworks refused the API key: {err.error_msg or err}"
        elif err.http_status == 403:
            status["problem"] = f"The API key lacks a scope (needs JOB and PROJECT): {err.error_msg or err}"
        else:
            status["problem"] = str(err)
    finally:
        hook.close()
    return status
