"""Apache Airflow plugin and provider for Hopsworks."""

from __future__ import annotations

from typing import Any

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
                "conn-fields": {
                    "verify_ssl": {
                        "label": "Verify TLS certificate",
                        "description": "Turn off only for a test cluster with a self-signed certificate.",
                        "schema": {"type": ["boolean", "null"], "default": True},
                    },
                    "ca_bundle": {
                        "label": "CA bundle path",
                        "description": "PEM file of the CA that signed Hopsworks' certificate.",
                        "schema": {"type": ["string", "null"]},
                    },
                    "timeout": {
                        "label": "Request timeout (s)",
                        "schema": {"type": ["number", "null"], "default": 30},
                    },
                },
                "ui-field-behaviour": {
                    "hidden-fields": ["login", "extra"],
                    "relabeling": {"host": "Hopsworks host", "password": "API key", "schema": "Scheme"},
                    "placeholders": {"host": "c.app.hopsworks.ai", "port": "443", "schema": "https"},
                },
            }
        ],
    }
