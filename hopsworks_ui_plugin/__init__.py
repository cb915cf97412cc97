"""Apache Airflow plugin and provider for Hopsworks."""

from __future__ import annotations

from typing import Any

from hopsworks_ui_plugin import settings

__version__ = "0.1.0"


def get_provider_info() -> dict[str, Any]:
    """Provider metadata read by Airflow without importing hooks (``apache_airflow_provider``)."""
    return {
        "package-name": "hopsworks-airflow-plugin",
        "name": "Hopsworks",
        "description": "Launch and watch Hopsworks jobs from Airflow; browse them in Airflow's UI.",
        "versions": [__version__],
        "integrations": [
            {"integration-name": "Hopsworks", "external-doc-url": "https://docs.hopsworks.ai/", "tags": ["service"]}
        ],
        "hooks": [{"integration-name": "Hopsworks", "python-modules": ["hopsworks_ui_plugin.hooks.hopsworks"]}],
        "operators": [
            {"integration-name": "Hopsworks", "python-modules": ["hopsworks_ui_plugin.operators.hopsworks"]}
        ],
        "sensors": [{"integration-name": "Hopsworks", "python-modules": ["hopsworks_ui_plugin.sensors.hopsworks"]}],
        "triggers": [
            {"integration-name": "Hopsworks", "python-modules": ["hopsworks_ui_plugin.triggers.hopsworks"]}
        ],
        "extra-links": ["hopsworks_ui_plugin.links.HopsworksExecutionLink"],
        "connection-types": [
            {
                "connection-type": "hopsworks",
                "hook-class-name": "hopsworks_ui_plugin.hooks.hopsworks.HopsworksHook",
                "hook-name": "Hopsworks",
                "conn-fields": settings.provider_conn_fields(),
                "ui-field-behaviour": settings.CONNECTION_UI_BEHAVIOUR,
            }
        ],
        "config": settings.provider_config(),
    }
