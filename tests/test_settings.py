"""settings.OPTIONS and access.POLICY are declared once: Airflow lists the options, the README
documents each option and shows the policy table as access renders it, and the accessors read airflow.cfg."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import hopsworks_ui_plugin
from hopsworks_ui_plugin import settings

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_options() -> dict[str, str]:
    text = README.read_text()
    table = text.split("<!-- settings-table", 1)[1].split("\n\n", 1)[0]
    return {m.group(1): m.group(2) for m in re.finditer(r"^\| `(\w+)` \| `([^`]*)` \|", table, re.M)}


def test_every_option_is_in_the_readme_with_its_default():
    assert readme_options() == {key: str(option.default) for key, option in settings.OPTIONS.items()}


def test_airflow_config_lists_every_option():
    config = hopsworks_ui_plugin.get_provider_info()["config"]["hopsworks"]["options"]
    assert set(config) == set(settings.OPTIONS)
    assert config["max_dag_file_bytes"]["type"] == "integer" and config["max_dag_file_bytes"]["default"] == "1048576"
    assert config["allow_shared_key_outside_projects"]["default"] == "false"


def test_accessors_read_airflow_cfg(monkeypatch):
    monkeypatch.setenv("AIRFLOW__HOPSWORKS__MAX_DAG_FILE_BYTES", "2048")
    monkeypatch.setenv("AIRFLOW__HOPSWORKS__ADMIN_ROLES", "Admin, Op")
    monkeypatch.setenv("AIRFLOW__HOPSWORKS__DAG_FOLDER_SCHEME", "SHA256")
    assert settings.max_dag_file_bytes() == 2048
    assert settings.admin_roles() == frozenset({"Admin", "Op"})
    assert settings.dag_folder_scheme() == "sha256"
    monkeypatch.setenv("AIRFLOW__HOPSWORKS__DAG_FOLDER_SCHEME", "uuid")
    with pytest.raises(ValueError, match="'name' or 'sha256'"):
        settings.dag_folder_scheme()


def test_connection_form_fields_are_declared_once():
    from hopsworks_ui_plugin.hooks.hopsworks import HopsworksHook

    provider = hopsworks_ui_plugin.get_provider_info()["connection-types"][0]["conn-fields"]
    widgets = HopsworksHook.get_connection_form_widgets()
    assert set(provider) == set(widgets) == {f.key for f in settings.CONNECTION_FIELDS}
    assert HopsworksHook.get_ui_field_behaviour()["relabeling"]["password"] == "API key"


def test_the_readme_policy_table_is_the_one_in_access():
    from hopsworks_ui_plugin import access

    text = README.read_text()
    table = text.split("<!-- policy-table", 1)[1].split("-->", 1)[1].strip().split("\n\n", 1)[0]
    assert table == access.policy_markdown().strip()
