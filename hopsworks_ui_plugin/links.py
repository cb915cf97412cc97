"""Operator extra link: "Hopsworks execution" opens the execution the task launched."""

from __future__ import annotations

from typing import Any

from hopsworks_ui_plugin.version_compat import BaseOperatorLink

EXECUTION_URL_XCOM_KEY = "hopsworks_execution_url"
EXECUTION_ID_XCOM_KEY = "hopsworks_execution_id"


class HopsworksExecutionLink(BaseOperatorLink):
    name = "Hopsworks execution"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        try:
            from airflow.sdk.execution_time.xcom import XCom
        except ImportError:  # pragma: no cover - Airflow 2
            from airflow.models import XCom  # type: ignore[no-redef]
        return XCom.get_value(key=EXECUTION_URL_XCOM_KEY, ti_key=ti_key) or ""
