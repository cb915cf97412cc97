"""Every ``[hopsworks]`` option, typed and defaulted, declared once.

:data:`OPTIONS` feeds both the accessors below and ``get_provider_info()["config"]`` (so
``airflow config list`` shows them). :data:`CONNECTION_FIELDS` declares the connection form's
extra fields once, for ``get_provider_info()`` (Airflow 3) and the hook's form methods (Airflow 2).

This module imports nothing from Airflow at import time: ``get_provider_info`` must stay cheap.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SECTION = "hopsworks"


@dataclass(frozen=True)
class Option:
    key: str
    type: type
    default: Any
    description: str
    example: str | None = None

    def provider_info(self) -> dict[str, Any]:
        kind = {bool: "boolean", int: "integer", float: "float"}.get(self.type, "string")
        default = str(self.default).lower() if self.type is bool else str(self.default)
        return {"description": self.description, "version_added": "0.1.0", "type": kind,
                "example": self.example, "default": default}


OPTIONS: dict[str, Option] = {o.key: o for o in (
    Option("conn_id", str, "hopsworks_default", "The Hopsworks connection the web pages use."),
    Option("admin_roles", str, "Admin",
           "Comma-separated FAB roles treated as Airflow admins by the plugin's pages and auth manager.",
           "Admin,Op"),
    Option("dag_folder_scheme", str, "name",
           "Where a project's DAG files live under [core] dags_folder: 'name' = <dags_folder>/<project name>/, "
           "'sha256' = Hopsworks' legacy <dags_folder>/<sha256 hex of the project id>/.", "sha256"),
    Option("max_dag_file_bytes", int, 1024 * 1024, "Size cap of one uploaded DAG file, in bytes."),
    Option("max_dag_files_per_upload", int, 20, "How many files one upload may carry."),
    Option("membership_ttl_s", float, 30.0,
           "Seconds a project's team (who is a member with which role) is cached."),
    Option("membership_retry_s", float, 30.0,
           "After Hopsworks could not be asked for memberships, seconds before the auth manager asks again."),
    Option("service_hook_ttl_s", float, 60.0,
           "Seconds the pages reuse one hook (and its pooled HTTP connections) before re-reading the connection."),
    Option("user_hook_cache_size", int, 256,
           "How many users' own-key hooks (My Hopsworks key) the pages keep with their pooled connections."),
    Option("log_cap_bytes", int, 256 * 1024, "The job browser shows at most this many bytes of a log."),
    Option("stop_timeout_s", float, 60.0,
           "Seconds a stop keeps asking Hopsworks until the execution is final: the job page shows "
           "'stopping…' (and asks again) this long after Stop; a deferred task's kill asks this long (at most "
           "[triggerer] on_kill_timeout); a killed task asks while Airflow lets its on_kill run (a few seconds)."),
    Option("staged_max_age_s", float, 3600.0,
           "Seconds an upload waiting for 'replace?' confirmation is kept before it is discarded."),
    Option("max_staged_per_user", int, 20,
           "How many uploads one user may have waiting for 'replace?' confirmation in one project."),
    Option("allow_shared_key_outside_projects", bool, False,
           "Let tasks of DAG files outside every project folder (directly in [core] dags_folder, another "
           "bundle, an example DAG) use the shared connection's key. Off: such tasks must bring their own "
           "key (params={'hw_api_key': ...}).", "True"),
)}


def _get(key: str) -> Any:
    from airflow.configuration import conf

    option = OPTIONS[key]
    if option.type is bool:
        return conf.getboolean(SECTION, key, fallback=option.default)
    if option.type is int:
        return conf.getint(SECTION, key, fallback=option.default)
    if option.type is float:
        return conf.getfloat(SECTION, key, fallback=option.default)
    return str(conf.get(SECTION, key, fallback=option.default) or option.default)


def conn_id() -> str:
    return str(_get("conn_id"))


def admin_roles() -> frozenset[str]:
    return frozenset(r.strip() for r in str(_get("admin_roles")).split(",") if r.strip())


def dag_folder_scheme() -> str:
    scheme = str(_get("dag_folder_scheme")).strip().lower()
    if scheme not in ("name", "sha256"):
        raise ValueError(f"[hopsworks] dag_folder_scheme must be 'name' or 'sha256', not {scheme!r}")
    return scheme


def max_dag_file_bytes() -> int:
    return max(1, int(_get("max_dag_file_bytes")))


def max_dag_files_per_upload() -> int:
    return max(1, int(_get("max_dag_files_per_upload")))


def membership_ttl_s() -> float:
    return max(0.0, float(_get("membership_ttl_s")))


def membership_retry_s() -> float:
    return max(0.0, float(_get("membership_retry_s")))


def service_hook_ttl_s() -> float:
    return max(0.0, float(_get("service_hook_ttl_s")))


def user_hook_cache_size() -> int:
    return max(1, int(_get("user_hook_cache_size")))


def stop_timeout_s() -> float:
    return max(0.0, float(_get("stop_timeout_s")))


def log_cap_bytes() -> int:
    return max(1024, int(_get("log_cap_bytes")))


def staged_max_age_s() -> float:
    return max(1.0, float(_get("staged_max_age_s")))


def max_staged_per_user() -> int:
    return max(1, int(_get("max_staged_per_user")))


def allow_shared_key_outside_projects() -> bool:
    return bool(_get("allow_shared_key_outside_projects"))


def provider_config() -> dict[str, Any]:
    """``get_provider_info()["config"]``."""
    return {SECTION: {"description": "The Hopsworks plugin's web pages and auth manager.",
                      "options": {key: option.provider_info() for key, option in OPTIONS.items()}}}


# --- the connection form -----------------------------------------------------------------------

@dataclass(frozen=True)
class ConnField:
    key: str
    label: str
    kind: str  # "boolean" | "string" | "number"
    description: str = ""
    default: Any = None


CONNECTION_FIELDS: tuple[ConnField, ...] = (
    ConnField("verify_ssl", "Verify TLS certificate", "boolean",
              "Turn off only for a test cluster with a self-signed certificate.", True),
    ConnField("ca_bundle", "CA bundle path", "string", "PEM file of the CA that signed Hopsworks' certificate."),
    ConnField("timeout", "Request timeout (s)", "number", "Seconds to wait for each Hopsworks answer.", 30),
)

CONNECTION_UI_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["login", "extra"],
    "relabeling": {"host": "Hopsworks host", "password": "API key", "schema": "Scheme"},
    "placeholders": {"host": "c.app.hopsworks.ai", "port": "443", "schema": "https"},
}


def provider_conn_fields() -> dict[str, Any]:
    """``conn-fields`` of the connection type in ``get_provider_info()`` (Airflow 3's form)."""
    fields: dict[str, Any] = {}
    for f in CONNECTION_FIELDS:
        schema: dict[str, Any] = {"type": [f.kind, "null"]}
        if f.default is not None:
            schema["default"] = f.default
        fields[f.key] = {"label": f.label, "description": f.description, "schema": schema}
    return fields


def ui_field_behaviour() -> dict[str, Any]:
    """Airflow 2's spelling (underscores) of :data:`CONNECTION_UI_BEHAVIOUR`."""
    return {key.replace("-", "_"): value for key, value in CONNECTION_UI_BEHAVIOUR.items()}
