"""Every Airflow-version-specific import lives here.

Airflow 3.x is the target; the ``except ImportError`` branches keep the door open for 2.10/2.11
(where the same classes live under ``airflow.models``/``airflow.hooks``/``airflow.www``).
"""

from __future__ import annotations

from typing import Any

try:  # Airflow 3
    from airflow.sdk import BaseHook, BaseOperator, BaseOperatorLink, BaseSensorOperator, Context
    from airflow.sdk.exceptions import AirflowException, AirflowSkipException

    AIRFLOW_V_3 = True
except ImportError:  # pragma: no cover - Airflow 2
    from airflow.exceptions import AirflowException, AirflowSkipException  # type: ignore[no-redef]
    from airflow.hooks.base import BaseHook  # type: ignore[no-redef,attr-defined]
    from airflow.models import BaseOperator, BaseOperatorLink  # type: ignore[no-redef]
    from airflow.sensors.base import BaseSensorOperator  # type: ignore[no-redef]
    from airflow.utils.context import Context  # type: ignore[no-redef,attr-defined]

    AIRFLOW_V_3 = False

from airflow.triggers.base import BaseTrigger, TriggerEvent

try:
    from airflow.sdk.log import mask_secret
except ImportError:  # pragma: no cover - Airflow 2
    from airflow.utils.log.secrets_masker import mask_secret  # type: ignore[no-redef]


def get_auth_manager() -> Any:
    """The configured auth manager of the running web app."""
    try:
        from airflow.api_fastapi.app import get_auth_manager as _get
    except ImportError:  # pragma: no cover - Airflow 2
        from airflow.www.extensions.init_auth_manager import get_auth_manager as _get  # type: ignore[no-redef]
    return _get()


def jwt_cookie_name() -> str:
    """Name of the cookie in which Airflow 3's UI login keeps the user's JWT."""
    try:
        from airflow.api_fastapi.auth.managers.base_auth_manager import COOKIE_NAME_JWT_TOKEN

        return str(COOKIE_NAME_JWT_TOKEN)
    except ImportError:  # pragma: no cover
        return "_token"


def conf_get(section: str, key: str, fallback: Any = None) -> Any:
    from airflow.configuration import conf

    return conf.get(section, key, fallback=fallback)


def conf_getint(section: str, key: str, fallback: int) -> int:
    from airflow.configuration import conf

    return conf.getint(section, key, fallback=fallback)


def conf_getboolean(section: str, key: str, fallback: bool) -> bool:
    from airflow.configuration import conf

    return conf.getboolean(section, key, fallback=fallback)


__all__ = [
    "AIRFLOW_V_3",
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
    "conf_getint",
    "get_auth_manager",
    "jwt_cookie_name",
    "mask_secret",
]
