#!/usr/bin/env python3
"""Print, for the Airflow installed next to this interpreter, the Airflow APIs the plugin uses that differ
between versions (where a name lives, whether a model has a column, a function's signature).

    .venv-af2.11.0/bin/python scripts/airflow-api-probe.py [--json out.json]

Read-only: imports Airflow modules with a throwaway AIRFLOW_HOME and inspects them; starts nothing.
Input for docs/airflow-versions-report.md and for the version module.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import os
import sys
import tempfile
import warnings

os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="hw-api-probe-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "False")
warnings.simplefilter("ignore")


def locate(path: str) -> str:
    """'module:attr' -> 'yes' or the import error."""
    module, _, attr = path.partition(":")
    try:
        obj = importlib.import_module(module)
        for part in attr.split(".") if attr else []:
            obj = getattr(obj, part)
        return "yes"
    except Exception as err:
        return f"NO ({type(err).__name__})"


def signature(path: str) -> str:
    module, _, attr = path.partition(":")
    try:
        obj = importlib.import_module(module)
        for part in attr.split("."):
            obj = getattr(obj, part)
        return str(inspect.signature(obj))
    except Exception as err:
        return f"NO ({type(err).__name__}: {str(err)[:80]})"


def model_attr(path: str, attr: str) -> str:
    module, _, cls_name = path.partition(":")
    try:
        cls = getattr(importlib.import_module(module), cls_name)
    except Exception as err:
        return f"model NO ({type(err).__name__})"
    columns = set()
    try:
        from sqlalchemy import inspect as sa_inspect

        columns = {c.key for c in sa_inspect(cls).column_attrs}
    except Exception as err:
        return f"not a mapped model ({type(err).__name__})"
    if attr in columns:
        return "column"
    raw = inspect.getattr_static(cls, attr, None)
    if raw is None:
        return "absent"
    if isinstance(raw, property):
        return "python property (not a column: no SQL)"
    return f"{type(raw).__name__}"


CHECKS: list[tuple[str, str, str]] = [
    # (group, label, expression)
    ("task SDK", "airflow.sdk:BaseHook", "loc"),
    ("task SDK", "airflow.sdk:BaseOperator", "loc"),
    ("task SDK", "airflow.sdk:BaseOperatorLink", "loc"),
    ("task SDK", "airflow.sdk:BaseSensorOperator", "loc"),
    ("task SDK", "airflow.sdk:Context", "loc"),
    ("task SDK", "airflow.sdk:DAG", "loc"),
    ("task SDK", "airflow.sdk.exceptions:AirflowException", "loc"),
    ("task SDK", "airflow.sdk.exceptions:AirflowSkipException", "loc"),
    ("task SDK", "airflow.sdk.log:mask_secret", "loc"),
    ("task SDK", "airflow.sdk.execution_time.xcom:XCom", "loc"),
    ("task SDK", "airflow.sdk.bases.operatorlink:BaseOperatorLink.xcom_key", "loc"),
    ("Airflow 2 paths", "airflow.hooks.base:BaseHook", "loc"),
    ("Airflow 2 paths", "airflow.models:BaseOperator", "loc"),
    ("Airflow 2 paths", "airflow.models:BaseOperatorLink", "loc"),
    ("Airflow 2 paths", "airflow.models.baseoperatorlink:BaseOperatorLink.xcom_key", "loc"),
    ("Airflow 2 paths", "airflow.sensors.base:BaseSensorOperator", "loc"),
    ("Airflow 2 paths", "airflow.exceptions:AirflowException", "loc"),
    ("Airflow 2 paths", "airflow.exceptions:AirflowSkipException", "loc"),
    ("Airflow 2 paths", "airflow.utils.log.secrets_masker:mask_secret", "loc"),
    ("Airflow 2 paths", "airflow.models:XCom", "loc"),
    ("Airflow 2 paths", "airflow.models.xcom:XCom.get_value", "sig"),
    ("Airflow 2 paths", "airflow.plugins_manager:AirflowPlugin", "loc"),
    ("triggers", "airflow.triggers.base:BaseTrigger", "loc"),
    ("triggers", "airflow.triggers.base:BaseTrigger.on_kill", "loc"),
    ("triggers", "airflow.triggers.base:TriggerEvent", "loc"),
    ("plugins", "airflow.plugins_manager:AirflowPlugin.external_views", "loc"),
    ("plugins", "airflow.plugins_manager:AirflowPlugin.appbuilder_menu_items", "loc"),
    ("plugins", "airflow.api_fastapi.core_api.datamodels.plugins:PluginResponse", "loc"),
    ("web/auth", "airflow.api_fastapi.app:get_auth_manager", "loc"),
    ("web/auth", "airflow.www.extensions.init_auth_manager:get_auth_manager", "loc"),
    ("web/auth", "airflow.api_fastapi.auth.managers.base_auth_manager:COOKIE_NAME_JWT_TOKEN", "loc"),
    ("web/auth", "airflow.api_fastapi.auth.managers.models.resource_details:DagAccessEntity", "loc"),
    ("web/auth", "airflow.api_fastapi.auth.managers.models.resource_details:DagDetails", "loc"),
    ("web/auth", "airflow.auth.managers.models.resource_details:DagAccessEntity", "loc"),
    ("web/auth", "airflow.auth.managers.models.resource_details:DagDetails", "loc"),
    ("web/auth", "airflow.api_fastapi.auth.managers.models.batch_apis:IsAuthorizedDagRequest", "loc"),
    ("web/auth", "airflow.auth.managers.models.batch_apis:IsAuthorizedDagRequest", "loc"),
    ("web/auth", "airflow.providers.fab.auth_manager.fab_auth_manager:FabAuthManager.is_authorized_dag", "sig"),
    ("web/auth", "airflow.providers.fab.auth_manager.fab_auth_manager:FabAuthManager.batch_is_authorized_dag", "sig"),
    ("web/auth", "airflow.providers.fab.auth_manager.fab_auth_manager:FabAuthManager.filter_authorized_dag_ids", "sig"),
    ("web/auth", "airflow.providers.fab.auth_manager.fab_auth_manager:FabAuthManager.get_authorized_dag_ids", "sig"),
    ("web/auth", "airflow.providers.fab.auth_manager.fab_auth_manager:FabAuthManager.get_permitted_dag_ids", "sig"),
    ("web/auth", "airflow.providers.fab.auth_manager.fab_auth_manager:FabAuthManager.get_user_from_token", "sig"),
    ("web/auth", "airflow.providers.fab.auth_manager.fab_auth_manager:FabAuthManager.get_url_login", "sig"),
    ("web/auth", "airflow.providers.fab.auth_manager.fab_auth_manager:FabAuthManager.is_logged_in", "sig"),
    ("web/auth", "airflow.providers.fab.www.security.permissions:RESOURCE_DAG", "loc"),
    ("web/auth", "airflow.security.permissions:RESOURCE_DAG", "loc"),
    ("web/auth", "airflow.providers.fab.auth_manager.cli_commands.utils:get_application_builder", "loc"),
    ("web/auth", "airflow.providers.fab.www.app:create_app", "loc"),
    ("web/auth", "airflow.www.app:create_app", "loc"),
    ("DAG runs", "airflow.models.dagbag:DBDagBag", "loc"),
    ("DAG runs", "airflow.models.dagbag:DBDagBag.get_latest_version_of_dag", "sig"),
    ("DAG runs", "airflow.models.serialized_dag:SerializedDagModel.get_dag", "sig"),
    ("DAG runs", "airflow.models.dagbag:DagBag.get_dag", "sig"),
    ("DAG runs", "airflow.api_fastapi.core_api.datamodels.dag_run:TriggerDAGRunPostBody.validate_context", "sig"),
    ("DAG runs", "airflow.serialization.serialized_objects:SerializedDAG.create_dagrun", "sig"),
    ("DAG runs", "airflow.serialization.definitions.dag:SerializedDAG.create_dagrun", "sig"),
    ("DAG runs", "airflow.models.dag:DAG.create_dagrun", "sig"),
    ("DAG runs", "airflow.api.common.trigger_dag:trigger_dag", "sig"),
    ("DAG runs", "airflow.utils.types:DagRunTriggeredByType", "loc"),
    ("DAG runs", "airflow.utils.types:DagRunType", "loc"),
    ("DAG runs", "airflow.models.dag:DagModel.set_is_paused", "sig"),
    ("DAG runs", "airflow.models.dag:DagModel.get_dagmodel", "sig"),
    ("DAG files", "airflow.dag_processing.bundles.manager:DagBundlesManager", "loc"),
    ("DAG files", "airflow.models.errors:ParseImportError", "loc"),
    ("DAG files", "airflow.api.common.delete_dag:delete_dag", "sig"),
]

MODEL_ATTRS = [
    ("airflow.models.dag:DagModel", a)
    for a in ("owners", "fileloc", "relative_fileloc", "bundle_name", "is_paused", "is_stale", "is_active",
              "has_import_errors", "timetable_summary", "timetable_description", "allowed_run_types",
              "next_dagrun", "next_dagrun_create_after", "last_parsed_time")
] + [
    ("airflow.models.dagrun:DagRun", a)
    for a in ("run_after", "logical_date", "execution_date", "triggering_user_name", "partition_key", "partition_date",
              "triggered_by", "run_type")
] + [("airflow.models.errors:ParseImportError", a) for a in ("filename", "bundle_name", "stacktrace", "timestamp")]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--json")
    args = parser.parse_args()
    import airflow

    out: dict[str, str] = {"airflow": airflow.__version__, "python": sys.version.split()[0]}
    for _group, path, kind in CHECKS:
        out[path] = locate(path) if kind == "loc" else signature(path)
    for model, attr in MODEL_ATTRS:
        out[f"{model}.{attr}"] = model_attr(model, attr)
    try:
        from airflow.api_fastapi.core_api.datamodels.plugins import PluginResponse

        out["PluginResponse fields"] = ", ".join(sorted(PluginResponse.model_fields))
    except Exception as err:
        out["PluginResponse fields"] = f"NO ({type(err).__name__})"
    for key, value in out.items():
        print(f"{key}: {value}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
