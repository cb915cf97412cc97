"""Operator extra link: "Hopsworks execution" opens the execution the task launched.

Hopsworks' own UI has no page for one execution (``/p/<id>/jobs/named/<job>/executions`` lists them
all), so the link opens the plugin's page of that execution (state, final status, stdout/stderr, and
"Executions in Hopsworks ↗"): ``<Airflow base URL>/pluginsv2/hopsworks/projects/<id>/log/<execution>/<job>``.
The Hopsworks URL of the job's executions stays in XCom under :data:`EXECUTION_URL_XCOM_KEY`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from hopsworks_ui_plugin.version_compat import (
    AIRFLOW_V_3,
    PLUGIN_URL_PREFIX,
    BaseOperatorLink,
    conf_get,
    get_xcom_value,
)

EXECUTION_URL_XCOM_KEY = "hopsworks_execution_url"
EXECUTION_ID_XCOM_KEY = "hopsworks_execution_id"
EXECUTION_PAGE_XCOM_KEY = "hopsworks_execution_page"


def execution_page_url(project_id: int, job_name: str, execution_id: int) -> str:
    """The plugin's page of one execution, under Airflow's base URL (``[api] base_url`` on Airflow 3,
    ``[webserver] base_url`` on 2; a site-relative path when it is not set)."""
    base = str(conf_get("api" if AIRFLOW_V_3 else "webserver", "base_url", "") or "").rstrip("/")
    job = quote(job_name, safe="")
    return f"{base}{PLUGIN_URL_PREFIX}/hopsworks/projects/{int(project_id)}/log/{int(execution_id)}/{job}"


class HopsworksExecutionLink(BaseOperatorLink):
    name = "Hopsworks execution"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        return (get_xcom_value(key=EXECUTION_PAGE_XCOM_KEY, ti_key=ti_key)
                or get_xcom_value(key=EXECUTION_URL_XCOM_KEY, ti_key=ti_key) or "")
