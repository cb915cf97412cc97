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

if AIRFLOW_V_3:
    from airflow.sdk import BaseHook, BaseOperator, BaseOperatorLink, BaseSensorOperator, Context
    from airflow.sdk.exceptions import AirflowException, AirflowSkipException
    from airflow.sdk.log import mask_secret
else:  # pragma: no cover - Airflow 2
    from airflow.exceptions import AirflowException, AirflowSkipException  # type: ignore[no-redef]
    from airflow.hooks.base import BaseHook  # type: ignore[no-redef,attr-defined]
    from airflow.models import BaseOperator, BaseOperatorLink  # type: ignore[no-redef]
    from airflow.sensors.base import BaseSensorOperator  # type: ignore[no-redef]
    from airflow.utils.context import Context  # type: ignore[no-redef,attr-defined]
    from airflow.utils.log.secrets_masker import mask_secret  # type: ignore[no-redef]


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
    if AIRFLOW_V_3:
        from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails
    else:  # pragma: no cover - Airflow 2
        from airflow.auth.managers.models.resource_details import (  # type: ignore[no-redef]
            DagAccessEntity,
            DagDetails,
        )
    return bool(
        get_auth_manager().is_authorized_dag(
            method=method,
            access_entity=DagAccessEntity.RUN if run else None,
            details=DagDetails(id=dag_id) if dag_id else None,
            user=user,
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
    "AirflowException",
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
    "get_auth_manager",
    "is_authorized_dag",
    "jwt_cookie_name",
    "mask_secret",
]
