"""Operator extra link: "Hopsworks execution" opens the execution the task launched."""

from __future__ import annotations

from typing import Any

from hopsworks_ui_plugin.version_compat import BaseOperatorLink, get_xcom_value

EXECUTION_URL_XCOM_KEY = "hopsworks_execution_url"
EXECUTION_ID_XCOM_KEY = "hopsworks_execution_id"


class HopsworksExecutionLink(BaseOperatorLink):
    name = "Hopsworks execution"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        return get_xcom_value(key=EXECUTION_URL_XCOM_KEY, ti_key=ti_key) or ""
