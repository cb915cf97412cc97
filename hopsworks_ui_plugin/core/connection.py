"""The connection status for admins: which Hopsworks connection the web pages use, and whether it works."""

from __future__ import annotations

from typing import Any

from hopsworks_ui_plugin.errors import HopsworksError
from hopsworks_ui_plugin.hooks.hopsworks import HopsworksHook, key_identity
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
    the Hopsworks user behind the key; its platform role as far as it can be told (an AGENT key gets
    403 320003) and what that role can and cannot do
    (:func:`~hopsworks_ui_plugin.hooks.hopsworks.key_identity`).
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
        identity = key_identity(hook)
    finally:
        hook.close()
    status.update(username=identity.username, role=identity.role, role_label=identity.role_label,
                  abilities=identity.abilities, role_certain=identity.role_certain)
    if identity.can_browse:
        status["projects"] = _projects(list(identity.rows))
        status["ok"] = True
    elif identity.role == "AGENT":
        status["agent"] = True
        status["problem"] = (
            f"{identity.problem} It may run DAGs, but the pages cannot browse with it: users need their own keys "
            "(My Hopsworks key), or point [hopsworks] conn_id at a connection with a HOPS_USER key."
        )
    else:
        failed = identity.error
        if failed is not None and failed.http_status == 401:
            status["problem"] = f"Hopsworks refused the API key: {failed.error_msg or failed}"
        elif failed is not None and failed.http_status == 403:
            status["problem"] = f"The API key lacks a scope (needs JOB and PROJECT): {failed.error_msg or failed}"
        else:
            status["problem"] = identity.problem or str(failed)
    return status
