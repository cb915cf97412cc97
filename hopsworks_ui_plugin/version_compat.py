"""Everything that differs between Airflow versions, decided once from Airflow's version number.

Like the ``version_compat.py`` of Airflow's own providers: the flags below come from
``airflow.__version__`` (never from which imports happen to succeed), and every base class or
function whose home moved between versions is imported here. Code elsewhere imports from this
module and asks the flags; differences in the metadata DB live in :mod:`hopsworks_ui_plugin.metadb`.

Supported: Airflow 2.10/2.11 and 3.0.6+ (see the README's support table).
"""

from __future__ import annotations

from typing import Any

from airflow import __version__ as _airflow_version
from airflow.plugins_manager import AirflowPlugin  # the same home in 2.10 .. 3.3
from airflow.triggers.base import BaseTrigger, TriggerEvent
from packaging.version import Version


def airflow_version() -> Version:
    """Airflow's version without pre/post/dev parts (``3.1.0rc1`` counts as ``3.1.0``)."""
    return Version(Version(_airflow_version).base_version)


AIRFLOW_VERSION = airflow_version()
AIRFLOW_V_3 = AIRFLOW_VERSION >= Version("3.0.0")
AIRFLOW_V_3_1_PLUS = AIRFLOW_VERSION >= Version("3.1.0")
AIRFLOW_V_3_2_PLUS = AIRFLOW_VERSION >= Version("3.2.0")
AIRFLOW_V_3_3_PLUS = AIRFLOW_VERSION >= Version("3.3.0")

#: Where the plugin's Flask pages are served: Airflow 3 mounts the FAB app at ``/pluginsv2``;
#: Airflow 2's webserver is the FAB app itself.
PLUGIN_URL_PREFIX = "/pluginsv2" if AIRFLOW_V_3 else ""

# Task-SDK names, by version (``airflow.sdk`` lacks BaseHook/exceptions on 3.0, AirflowSkipException on 3.1).
if AIRFLOW_V_3_1_PLUS:
    from airflow.sdk import DAG as DAG
    from airflow.sdk import BaseHook, BaseOperator, BaseOperatorLink, BaseSensorOperator, Context
    from airflow.sdk.exceptions import AirflowException
    from airflow.sdk.log import mask_secret
elif AIRFLOW_V_3:  # pragma: no cover - Airflow 3.0
    from airflow.exceptions import AirflowException  # type: ignore[no-redef,assignment]
    from airflow.hooks.base import BaseHook  # type: ignore[no-redef,assignment,attr-defined]
    from airflow.sdk import DAG as DAG
    from airflow.sdk import BaseOperator, BaseOperatorLink, BaseSensorOperator, Context  # type: ignore[no-redef]
    from airflow.sdk.log import mask_secret  # type: ignore[no-redef]
else:  # pragma: no cover - Airflow 2
    from airflow import DAG as DAG  # type: ignore[no-redef,attr-defined]
    from airflow.exceptions import AirflowException  # type: ignore[no-redef,assignment]
    from airflow.hooks.base import BaseHook  # type: ignore[no-redef,attr-defined,assignment]
    from airflow.models import BaseOperator, BaseOperatorLink  # type: ignore[no-redef,assignment]
    from airflow.sensors.base import BaseSensorOperator  # type: ignore[no-redef,assignment]
    from airflow.utils.context import Context  # type: ignore[no-redef,attr-defined,assignment]
    from airflow.utils.log.secrets_masker import mask_secret  # type: ignore[no-redef,attr-defined]

if AIRFLOW_V_3_2_PLUS:
    from airflow.sdk.exceptions import AirflowSkipException
else:  # pragma: no cover - Airflow 2 to 3.1
    from airflow.exceptions import AirflowSkipException  # type: ignore[no-redef,assignment]

#: ``BaseTrigger.on_kill`` (called when a deferred task is cleared or marked) exists from 3.3.
TRIGGER_ON_KILL = AIRFLOW_V_3_3_PLUS


def operator_link_xcom_key(link: Any) -> str | None:
    """Airflow 3 reads an operator link's URL from XCom under ``link.xcom_key``; Airflow 2 calls
    ``get_link`` instead (no such key)."""
    return str(link.xcom_key) if AIRFLOW_V_3 else None


def get_xcom_value(*, key: str, ti_key: Any) -> Any:
    """One XCom value of a task instance (for operator links)."""
    if AIRFLOW_V_3:
        from airflow.sdk.execution_time.xcom import XCom

        return XCom.get_value(key=key, ti_key=ti_key)
    from airflow.models import XCom as XCom2  # pragma: no cover - Airflow 2

    return XCom2.get_value(key=key, ti_key=ti_key)  # pragma: no cover


def dag_resource_details() -> tuple[Any, Any]:
    """``(DagAccessEntity, DagDetails)`` of the auth-manager API of this version."""
    if AIRFLOW_V_3:
        from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails
    else:  # pragma: no cover - Airflow 2
        from airflow.auth.managers.models.resource_details import (  # type: ignore[no-redef]
            DagAccessEntity,
            DagDetails,
        )
    return DagAccessEntity, DagDetails


def fab_resource_dag() -> str:
    """FAB's permission resource name for DAGs (``"DAGs"``)."""
    if AIRFLOW_V_3:
        from airflow.providers.fab.www.security.permissions import RESOURCE_DAG
    else:  # pragma: no cover - Airflow 2
        from airflow.security.permissions import RESOURCE_DAG  # type: ignore[no-redef]
    return str(RESOURCE_DAG)


def get_auth_manager() -> Any:
    """The configured auth manager of the running web app."""
    if AIRFLOW_V_3:
        from airflow.api_fastapi.app import get_auth_manager as _get
    else:  # pragma: no cover - Airflow 2
        from airflow.www.extensions.init_auth_manager import get_auth_manager as _get  # type: ignore[no-redef]
    return _get()


def jwt_cookie_name() -> str:
    """Name of the cookie in which Airflow 3's UI login keeps the user's JWT (none on Airflow 2)."""
    if not AIRFLOW_V_3:  # pragma: no cover - Airflow 2
        return ""
    from airflow.api_fastapi.auth.managers.base_auth_manager import COOKIE_NAME_JWT_TOKEN

    return str(COOKIE_NAME_JWT_TOKEN)


def is_authorized_dag(user: Any, method: str = "GET", dag_id: str | None = None, run: bool = False) -> bool:
    """The configured auth manager's answer for a DAG-level action: ``dag_id=None`` asks about DAGs
    in general, ``run=True`` about the DAG's runs (triggering)."""
    DagAccessEntity, DagDetails = dag_resource_details()
    return bool(
        get_auth_manager().is_authorized_dag(
            method=method,
            access_entity=DagAccessEntity.RUN if run else None,
            details=DagDetails(id=dag_id) if dag_id else None,
            **({"user": user} if AIRFLOW_V_3 else {}),  # Airflow 2: the FAB manager reads g.user
        )
    )


def conf_get(section: str, key: str, fallback: Any = None) -> Any:
    from airflow.configuration import conf

    return conf.get(section, key, fallback=fallback)


def conf_getint(section: str, key: str, fallback: int) -> int:
    from airflow.configuration import conf

    return conf.getint(section, key, fallback=fallback)


def conf_getfloat(section: str, key: str, fallback: float) -> float:
    from airflow.configuration import conf

    return conf.getfloat(section, key, fallback=fallback)


def conf_getboolean(section: str, key: str, fallback: bool) -> bool:
    from airflow.configuration import conf

    return conf.getboolean(section, key, fallback=fallback)


__all__ = [
    "AIRFLOW_V_3",
    "AIRFLOW_V_3_1_PLUS",
    "AIRFLOW_V_3_2_PLUS",
    "AIRFLOW_V_3_3_PLUS",
    "AIRFLOW_VERSION",
    "DAG",
    "PLUGIN_URL_PREFIX",
    "TRIGGER_ON_KILL",
    "AirflowException",
    "AirflowPlugin",
    "AirflowSkipException",
    "BaseHook",
    "BaseOperator",
    "BaseOperatorLink",
    "BaseSensorOperator",
    "BaseTrigger",
    "Context",
    "TriggerEvent",
    "conf_get",
    "conf_getboolean",
    "conf_getfloat",
    "conf_getint",
    "dag_resource_details",
    "fab_resource_dag",
    "get_xcom_value",
    "operator_link_xcom_key",
    "get_auth_manager",
    "is_authorized_dag",
    "jwt_cookie_name",
    "mask_secret",
]


def manual_run_params(dag: Any, *, logical_date: Any, conf: dict[str, Any] | None = None) -> dict[str, Any]:
    """What Airflow 3's own REST trigger endpoint derives from a trigger request (run id, data interval,
    run_after, conf, partition fields of this version), so a run triggered from the plugin is the run the
    API would create. Airflow's validation model lives in its API package: imported here, not in the core."""
    from airflow.api_fastapi.core_api.datamodels.dag_run import TriggerDAGRunPostBody

    return dict(TriggerDAGRunPostBody(logical_date=logical_date, conf=conf or {}).validate_context(dag))
