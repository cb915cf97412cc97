"""HopsworksHook: the one place that talks to the Hopsworks REST API.

Operators, sensors, triggers and the web UI only call methods of this hook. Connection parsing,
authentication, TLS, timeouts and the retry policy are decided here once.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError, ReadTimeoutError
from urllib3.util.retry import Retry

from hopsworks_ui_plugin import settings, states
from hopsworks_ui_plugin.errors import Failure, HopsworksError
from hopsworks_ui_plugin.version_compat import AirflowException, BaseHook, mask_secret

log = logging.getLogger(__name__)

API_PREFIX = "/hopsworks-api/api"
DEFAULT_TIMEOUT_S = 30.0
DEFAULT_RETRIES = 3
DEFAULT_BACKOFF_S = 1.0
RETRY_STATUSES = (429, 500, 502, 503, 504)
#: Hopsworks' own internal users; UIs hide them from member lists.
SERVICE_USERS = frozenset({"airflow", "serving", "onlinefs"})
SERVICE_EMAILS = frozenset({"airflow@hopsworks.ai", "serving@hopsworks.se", "onlinefs@hopsworks.ai"})
#: Hopsworks' errorCode when the key's user has a platform role the endpoint does not allow
#: (e.g. an AGENT key on ``GET /project`` or on logs and stop).
NO_VALID_ROLE = 320003
#: Hopsworks' errorCode when the API key lacks the scope the endpoint needs (e.g. DATASET_VIEW).
NO_VALID_SCOPE = 320004
#: How Hopsworks' log endpoint starts its answer for a log over its display limit (§1.5).
LOG_TOO_BIG_PREFIX = "Log is too big to display"
#: Hopsworks' display limit for logs (bytes, ``Settings`` L1649).
HOPSWORKS_LOG_LIMIT_BYTES = 1_000_000
#: stop_until_final asks again after this many rounds without the execution ending.
STOP_REASK_ROUNDS = 5


@dataclass(frozen=True)
class StopResult:
    """What :meth:`HopsworksHook.stop_until_final` saw last: the execution, whether it is final, how
    many stop requests were sent."""

    execution: dict[str, Any]
    final: bool
    asks: int


@dataclass(frozen=True)
class ExecutionLog:
    """A log as Hopsworks serves it: the text, or ``too_big`` (only downloadable) with its ``path``."""

    text: str
    too_big: bool
    path: str | None


class _ApiKeyAuth(requests.auth.AuthBase):
    """Sends ``Authorization: ApiKey <key>``; its repr never shows the key."""

    def __init__(self, key: str) -> None:
        self._key = key

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"ApiKey {self._key}"
        return request

    def __repr__(self) -> str:
        return "<ApiKeyAuth ***>"


@dataclass(frozen=True)
class HopsworksEndpoint:
    """Where Hopsworks is and how to talk to it, as read from an Airflow connection."""

    scheme: str
    host: str
    port: int | None
    verify: bool | str
    timeout: float
    retries: int
    backoff: float

    @property
    def root(self) -> str:
        port = f":{self.port}" if self.port else ""
        return f"{self.scheme}://{self.host}{port}"

    @property
    def api_url(self) -> str:
        return self.root + API_PREFIX


def _extra(extras: dict[str, Any], key: str, default: Any = None) -> Any:
    """Airflow 3's form stores plain keys, Airflow 2's form ``extra__hopsworks__<key>``."""
    for name in (key, f"extra__hopsworks__{key}"):
        value = extras.get(name)
        if value not in (None, ""):
            return value
    return default


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() not in {"false", "0", "no", "off"}


def endpoint_from_connection(conn: Any) -> HopsworksEndpoint:
    extras = conn.extra_dejson if conn.extra else {}
    host = (conn.host or "").strip()
    scheme = (conn.schema or "").strip().lower() or "https"
    port = conn.port
    if "://" in host:  # an admin pasted a URL into the host field
        parts = urlsplit(host)
        scheme, host, port = parts.scheme or scheme, parts.hostname or "", parts.port or port
    if scheme not in {"http", "https"}:
        raise HopsworksError(
            f"Hopsworks connection: scheme must be http or https, not {scheme!r}", kind=Failure.CONFIG
        )
    if not host:
        raise HopsworksError(f"Hopsworks connection {conn.conn_id!r} has no host", kind=Failure.CONFIG)
    ca_bundle = _extra(extras, "ca_bundle")
    verify: bool | str = str(ca_bundle) if ca_bundle else _as_bool(_extra(extras, "verify_ssl", True))
    return HopsworksEndpoint(
        scheme=scheme,
        host=host,
        port=int(port) if port else None,
        verify=verify,
        timeout=float(_extra(extras, "timeout", DEFAULT_TIMEOUT_S)),
        retries=int(_extra(extras, "retries", DEFAULT_RETRIES)),
        backoff=float(_extra(extras, "retry_backoff", DEFAULT_BACKOFF_S)),
    )


class CappedRetry(Retry):
    """urllib3's ``Retry`` that honours ``Retry-After`` only up to ``retry_after_cap`` seconds.

    Hopsworks (or a proxy in front of it) may answer 429/503 with ``Retry-After: 20``; sleeping that
    long per retry would hold a page or a REST call far past the connection's request timeout.
    """

    def __init__(self, *args: Any, retry_after_cap: float | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.retry_after_cap = retry_after_cap

    def new(self, **kw: Any) -> CappedRetry:
        kw.setdefault("retry_after_cap", self.retry_after_cap)
        return super().new(**kw)  # type: ignore[return-value]

    def get_retry_after(self, response: Any) -> float | None:
        seconds = super().get_retry_after(response)
        if seconds is None or self.retry_after_cap is None:
            return seconds
        return min(seconds, self.retry_after_cap)


def make_retry(retries: int, backoff: float, retry_after_cap: float | None = None) -> Retry:
    """Retry connection errors, read timeouts, 429 and 5xx with exponential backoff.

    POST (starting an execution) is retried only when the request never reached Hopsworks
    (connect errors): retrying a POST that timed out while being read could launch a job twice.
    ``Retry-After`` is honoured, capped at ``retry_after_cap`` seconds (the hook passes the
    connection's request timeout).
    """
    return CappedRetry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        other=0,
        backoff_factor=backoff,
        backoff_max=30,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"}),
        respect_retry_after_header=True,
        raise_on_status=False,
        retry_after_cap=retry_after_cap,
    )


def team_members(project: dict[str, Any]) -> dict[str, str]:
    """``{username: role}`` of a ProjectDTO's team, without Hopsworks' service users."""
    members: dict[str, str] = {}
    for row in project.get("projectTeam") or []:
        user = row.get("user") or {}
        username = user.get("username")
        if not username or username in SERVICE_USERS or user.get("email") in SERVICE_EMAILS:
            continue
        members[username] = row.get("teamRole") or ""
    return members


def _q(segment: str | int) -> str:
    return quote(str(segment), safe="")


#: Hopsworks' Dataset error codes (range 110000, hopsworks-rest.md §5): a 404 with one of them means
#: "no such file or dataset"; any other 404 (e.g. 150004, no such project) is not a missing path.
DATASET_ERROR_CODES = range(110000, 111000)


def dataset_relpath(path: str, project_name: str | None = None) -> str:
    """A dataset path as a clean path relative to the project root (``Resources/in.csv``).

    Accepts ``Resources/in.csv`` or ``/Projects/<project_name>/Resources/in.csv``. Refuses (ValueError)
    anything that could leave the project: a ``..`` segment, another project's or any other absolute
    path, backslashes (Hopsworks' HDFS paths have none; some servers read them as separators) and
    control characters. ``.`` and empty segments are dropped.
    """
    text = str(path or "")
    if not text.strip():
        raise ValueError("The dataset path is empty")
    if "\\" in text or any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise ValueError(f"The dataset path {text!r} contains a backslash or a control character")
    parts = [part for part in text.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise ValueError(f"The dataset path {text!r} contains '..': it must stay inside the project")
    if text.startswith("/"):
        if parts[:1] != ["Projects"] or len(parts) < 2:
            raise ValueError(f"The absolute dataset path {text!r} is not under /Projects/<project>/")
        if project_name is None or parts[1] != project_name:
            raise ValueError(
                f"The dataset path {text!r} is not in project {project_name!r}: a task may only wait for "
                "paths of its own project"
            )
        parts = parts[2:]
    if not parts:
        raise ValueError(f"The dataset path {text!r} names the project itself, not a path in it")
    return "/".join(parts)


class HopsworksHook(BaseHook):
    """Hook for the Hopsworks REST API (``/hopsworks-api/api``) with an API key.

    :param hopsworks_conn_id: Airflow connection of type ``hopsworks`` (host, port, schema,
        API key in the password; extras ``verify_ssl``, ``ca_bundle``, ``timeout``, ``retries``).
    :param project_id: Hopsworks project id; the other of id/name is resolved on demand.
    :param project_name: Hopsworks project name.
    :param owner: the Airflow task owner (kept for the legacy signature).
    :param hw_api_key: an API key that overrides the connection's (legacy ``params['hw_api_key']``).
    """

    conn_name_attr = "hopsworks_conn_id"
    default_conn_name = "hopsworks_default"
    conn_type = "hopsworks"
    hook_name = "Hopsworks"

    def __init__(
        self,
        hopsworks_conn_id: str = default_conn_name,
        project_id: int | str | None = None,
        project_name: str | None = None,
        owner: str | None = None,
        hw_api_key: str | None = None,
        *,
        connection: Any = None,
    ) -> None:
        super().__init__()
        self.hopsworks_conn_id = hopsworks_conn_id
        self.project_id = int(project_id) if project_id not in (None, "") else None
        self.project_name = project_name or None
        self.owner = owner
        self._override_key = hw_api_key or None
        if self._override_key:
            mask_secret(self._override_key)
        self._connection = connection
        self._endpoint: HopsworksEndpoint | None = None
        self._session: requests.Session | None = None

    # ---- connection form (Airflow 2 reads these; Airflow 3 reads get_provider_info; both from settings) ----
    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
        from flask_babel import lazy_gettext
        from wtforms import BooleanField, StringField

        widgets: dict[str, Any] = {}
        for field in settings.CONNECTION_FIELDS:
            if field.kind == "boolean":
                widgets[field.key] = BooleanField(lazy_gettext(field.label), default=field.default,
                                                  description=field.description)
            else:
                widgets[field.key] = StringField(lazy_gettext(field.label), widget=BS3TextFieldWidget(),
                                                 description=field.description)
        return widgets

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        return settings.ui_field_behaviour()

    # ---- plumbing ----
    def _lookup_connection(self) -> Any:
        try:
            return self.get_connection(self.hopsworks_conn_id)
        except AirflowException:  # AirflowNotFoundException
            raise HopsworksError(
                f"There is no Airflow connection {self.hopsworks_conn_id!r}. Add one under Admin → Connections "
                "with type “Hopsworks”: host, port, and an API key (scopes JOB and PROJECT) as password.",
                kind=Failure.CONFIG,
            ) from None

    def get_conn(self) -> requests.Session:
        """One ``requests.Session`` per hook: connections are pooled and reused."""
        if self._session is None:
            conn = self._connection or self._lookup_connection()
            self._connection = conn
            self._endpoint = endpoint_from_connection(conn)
            key = self._override_key or conn.password
            if not key:
                raise HopsworksError(
                    f"Hopsworks connection {self.hopsworks_conn_id!r} has no API key (password field)",
                    kind=Failure.CONFIG,
                )
            mask_secret(key)
            session = requests.Session()
            adapter = HTTPAdapter(max_retries=make_retry(
                self._endpoint.retries, self._endpoint.backoff, retry_after_cap=self._endpoint.timeout))
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            session.auth = _ApiKeyAuth(key)
            session.verify = self._endpoint.verify
            session.headers["Accept"] = "application/json"
            self._session = session
        return self._session

    @property
    def endpoint(self) -> HopsworksEndpoint:
        self.get_conn()
        assert self._endpoint is not None
        return self._endpoint

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Any = None,
        data: str | bytes | None = None,
        headers: dict[str, str] | None = None,
        expect_json: bool = True,
    ) -> Any:
        """Call ``<api>/<path>``; raise :class:`HopsworksError` on failure, never exposing the key."""
        session = self.get_conn()
        url = self.endpoint.api_url + "/" + path.lstrip("/")
        try:
            # verify is passed per request: requests lets REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE override
            # a session-level verify=False or CA bundle.
            response = session.request(
                method, url, params=params, data=data, headers=headers, timeout=self.endpoint.timeout,
                verify=self.endpoint.verify,
            )
        except requests.exceptions.RetryError as err:  # retries exhausted on a retryable status
            raise HopsworksError(
                f"Hopsworks {method} {path} kept failing after retries: {err}", kind=Failure.UNREACHABLE
            ) from None
        except requests.exceptions.Timeout:
            raise self._timeout_error(method, path) from None
        except requests.exceptions.SSLError as err:
            raise HopsworksError(
                f"TLS error talking to {self.endpoint.root}: {err.__class__.__name__}. Set a CA bundle "
                "in the connection's extras, or (not recommended) verify_ssl=false",
                kind=Failure.CONFIG,
            ) from None
        except requests.exceptions.ConnectionError as err:
            # urllib3 reports a read timeout that exhausted the retries as a connection error.
            reason = getattr(err.args[0], "reason", None) if err.args else None
            # (NewConnectionError, e.g. "connection refused", subclasses ConnectTimeoutError.)
            if isinstance(reason, (ReadTimeoutError, ConnectTimeoutError)) and not isinstance(
                reason, NewConnectionError
            ):
                raise self._timeout_error(method, path) from None
            raise HopsworksError(
                f"Could not reach Hopsworks at {self.endpoint.root}", kind=Failure.UNREACHABLE
            ) from None
        if response.status_code >= 400:
            raise self._error(method, path, response)
        if not expect_json:
            return response
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise HopsworksError(
                f"Hopsworks {method} {path} answered {response.status_code} with a non-JSON body",
                http_status=response.status_code,
            ) from None

    def _timeout_error(self, method: str, path: str) -> HopsworksError:
        return HopsworksError(
            f"Hopsworks at {self.endpoint.root} did not answer {method} {path} within {self.endpoint.timeout:g} s",
            kind=Failure.TIMEOUT,
        )

    @staticmethod
    def _error(method: str, path: str, response: requests.Response) -> HopsworksError:
        code = msg = usr = None
        try:
            body = response.json()
            if isinstance(body, dict):
                code, msg, usr = body.get("errorCode"), body.get("errorMsg"), body.get("usrMsg")
        except ValueError:
            pass
        detail = f"{msg} (errorCode {code})" if msg else response.reason
        if usr:
            detail += f" — {usr}"
        return HopsworksError(
            f"Hopsworks {method} {path} failed with HTTP {response.status_code}: {detail}",
            http_status=response.status_code,
            error_code=code,
            error_msg=msg,
            usr_msg=usr,
        )

    # ---- projects ----
    def get_project_rows(self) -> list[dict[str, Any]]:
        """``GET /project``: one ProjectTeam row per project the key's user belongs to."""
        return list(self.request("GET", "project") or [])

    def get_projects(self) -> list[dict[str, Any]]:
        """The projects of the key's user as ``{id, name, role, description, owner}``."""
        projects = []
        for row in self.get_project_rows():
            project = row.get("project") or {}
            projects.append(
                {
                    "id": project.get("id"),
                    "name": project.get("name"),
                    "role": row.get("teamRole"),
                    "description": project.get("description") or "",
                    "owner": (project.get("owner") or {}).get("username"),
                }
            )
        return sorted(projects, key=lambda p: str(p["name"]).lower())

    def get_caller_username(self) -> str | None:
        """The Hopsworks username behind the API key (``/users/profile`` is JWT-only)."""
        rows = self.get_project_rows()
        return (rows[0].get("user") or {}).get("username") if rows else None

    def get_project(self, project_id: int | None = None, project_name: str | None = None) -> dict[str, Any]:
        """ProjectDTO (with ``projectTeam``) by id or name.

        By id this is ``GET /project/{id}``, which Hopsworks refuses to AGENT keys (the Airflow
        service user); by name it is ``getProjectInfo``, which every platform role may call.
        """
        if project_id is not None:
            return dict(self.request("GET", f"project/{_q(project_id)}"))
        if project_name:
            return self.get_project_info(project_name)
        raise HopsworksError("Either project_id or project_name is required")

    def get_project_info(self, project_name: str) -> dict[str, Any]:
        """``GET /project/getProjectInfo/{name}``: the ProjectDTO, allowed for every platform role."""
        return dict(self.request("GET", f"project/getProjectInfo/{_q(project_name)}"))

    def resolve_project(self, job_name: str | None = None) -> tuple[int, str]:
        """The hook's (project id, project name), looking up whichever one is missing.

        A name is resolved with ``getProjectInfo`` (any key). An id alone needs ``GET /project/{id}``,
        which an AGENT key may not call; then the name is read from the ``hdfsUser``
        (``<project>__<user>``) of an execution of ``job_name`` (listing executions is allowed) and
        confirmed with ``getProjectInfo``. Without a job, or before the job's first run, that is
        impossible and the error says to give ``project_name``.
        """
        if self.project_id is not None and self.project_name:
            return self.project_id, self.project_name
        if self.project_name:
            project = self.get_project_info(self.project_name)
        else:
            project_id = self.project_id
            if project_id is None:
                raise HopsworksError("Either project_id or project_name is required", kind=Failure.CONFIG)
            try:
                project = self.get_project(project_id)
            except HopsworksError as err:
                if err.error_code != NO_VALID_ROLE:
                    raise
                project = self._project_by_id_for_agent(project_id, job_name, err)
        self.project_id = int(project["projectId"])
        self.project_name = str(project["projectName"])
        return self.project_id, self.project_name

    def _project_by_id_for_agent(self, project_id: int, job_name: str | None, err: HopsworksError) -> dict[str, Any]:
        """Find project ``project_id``'s name with the calls an AGENT key may make (see resolve_project)."""
        name = None
        if job_name:
            _, items = self.get_executions(job_name, project_id, limit=1, sort_by="id:desc", expand_user=False)
            hdfs_user = str((items[0] if items else {}).get("hdfsUser") or "")
            name = hdfs_user.split("__", 1)[0] if "__" in hdfs_user else None
        if name:
            project = self.get_project_info(name)
            if int(project.get("projectId") or -1) == int(project_id):
                return project
        raise HopsworksError(
            f"Hopsworks does not let this connection's key look up project {project_id} by id: its user has "
            f"the platform role AGENT (Hopsworks' Airflow service user), which may only call getProjectInfo by "
            f"name and list, get and start executions ({err.error_msg or err}). Give the task "
            f"project_name=... instead of (or besides) project_id={project_id}"
            + (", or run the job once so its executions name the project" if job_name else "") + ".",
            http_status=err.http_status, error_code=err.error_code, error_msg=err.error_msg,
        )

    def _pid(self, project_id: int | None) -> int:
        """The project id for a call: job and execution paths need only the id, not the name."""
        if project_id is not None:
            return project_id
        if self.project_id is not None:
            return self.project_id
        return self.resolve_project()[0]

    # ---- jobs ----
    def get_jobs(
        self,
        project_id: int | None = None,
        *,
        offset: int = 0,
        limit: int = 20,
        sort_by: str | None = None,
        name_filter: str | None = None,
        filter_by: list[str] | None = None,
        with_latest_execution: bool = True,
    ) -> tuple[int, list[dict[str, Any]]]:
        """One page of jobs (one request): ``(total count, items)``."""
        params: list[tuple[str, str]] = [("offset", str(offset)), ("limit", str(limit))]
        if sort_by:
            params.append(("sort_by", sort_by))
        if name_filter:
            params.append(("filter_by", f"name:{name_filter}"))
        params += [("filter_by", f) for f in filter_by or []]
        params.append(("expand", "creator"))
        if with_latest_execution:
            params.append(("expand", "executions(offset=0;limit=1;sort_by=id:desc)"))
        body = self.request("GET", f"project/{self._pid(project_id)}/jobs", params=params) or {}
        return int(body.get("count") or 0), list(body.get("items") or [])

    def get_job(self, job_name: str, project_id: int | None = None) -> dict[str, Any]:
        return dict(
            self.request(
                "GET", f"project/{self._pid(project_id)}/jobs/{_q(job_name)}", params={"expand": "creator"}
            )
        )

    # ---- executions ----
    def _executions_path(self, project_id: int | None, job_name: str) -> str:
        return f"project/{self._pid(project_id)}/jobs/{_q(job_name)}/executions"

    def get_executions(
        self,
        job_name: str,
        project_id: int | None = None,
        *,
        offset: int = 0,
        limit: int = 20,
        sort_by: str = "id:desc",
        expand_user: bool = True,
    ) -> tuple[int, list[dict[str, Any]]]:
        params: dict[str, Any] = {"offset": offset, "limit": limit, "sort_by": sort_by}
        if expand_user:
            params["expand"] = "user"
        body = self.request("GET", self._executions_path(project_id, job_name), params=params) or {}
        return int(body.get("count") or 0), list(body.get("items") or [])

    def get_latest_execution(self, job_name: str, project_id: int | None = None) -> dict[str, Any] | None:
        _, items = self.get_executions(job_name, project_id, limit=1, sort_by="id:desc")
        return items[0] if items else None

    def get_execution(self, job_name: str, execution_id: int, project_id: int | None = None) -> dict[str, Any]:
        return dict(self.request("GET", f"{self._executions_path(project_id, job_name)}/{int(execution_id)}"))

    def start_execution(
        self, job_name: str, args: str | None = None, project_id: int | None = None
    ) -> dict[str, Any]:
        """Start an execution; an empty ``args`` makes Hopsworks use the job's default arguments."""
        return dict(
            self.request(
                "POST",
                self._executions_path(project_id, job_name),
                data=(args or "").encode("utf-8"),
                headers={"Content-Type": "text/plain; charset=utf-8"},
            )
        )

    def stop_execution(self, job_name: str, execution_id: int, project_id: int | None = None) -> dict[str, Any]:
        return dict(
            self.request(
                "PUT",
                f"{self._executions_path(project_id, job_name)}/{int(execution_id)}/status",
                data=json.dumps({"state": "stopped"}),
                headers={"Content-Type": "application/json"},
            )
            or {}
        )

    def stop_until_final(
        self,
        job_name: str,
        execution_id: int,
        project_id: int | None = None,
        *,
        timeout_s: float = 0.0,
        interval_s: float = 1.0,
        execution: dict[str, Any] | None = None,
    ) -> StopResult:
        """Ask Hopsworks to stop an execution and keep asking until it is final or ``timeout_s`` passed.

        Hopsworks' stop (hopsworks-rest.md §1.5) is a no-op before the execution has an ``appId`` and
        answers 202 before the state changes, so one PUT proves nothing: each round reads the
        execution, returns if it is final, else asks to stop (again once an ``appId`` appeared) and
        waits ``interval_s``. ``timeout_s=0`` is exactly one round (pages: ask, and re-ask on a later
        view). ``execution``: the caller's fresh copy, saving the first read. Retryable failures
        (outage, 429, 5xx) are retried within ``timeout_s``; others, e.g. 403 320003 for an AGENT key
        that may not stop, are raised.
        """
        deadline = time.monotonic() + max(0.0, timeout_s)
        asks = 0
        asked_with_app = False
        rounds_since_ask = 0
        last: dict[str, Any] = execution or {"id": execution_id}
        while True:
            try:
                if execution is None:
                    execution = self.get_execution(job_name, execution_id, project_id)
                last = execution
                if states.is_final(execution.get("state")):
                    return StopResult(execution, True, asks)
                has_app = bool(execution.get("appId"))
                # Ask on the first round, again once an appId exists (asks before it are ignored), and
                # every STOP_REASK_ROUNDS rounds after that (a kill YARN/Kubernetes lost).
                if asks == 0 or (has_app and not asked_with_app) or rounds_since_ask >= STOP_REASK_ROUNDS:
                    self.stop_execution(job_name, execution_id, project_id)
                    asks, asked_with_app, rounds_since_ask = asks + 1, has_app, 0
                else:
                    rounds_since_ask += 1
            except HopsworksError as err:
                if not err.retryable or time.monotonic() >= deadline:
                    raise
            if time.monotonic() + interval_s > deadline:
                return StopResult(last, False, asks)
            time.sleep(interval_s)
            execution = None

    def get_execution_log(
        self, job_name: str, execution_id: int, kind: str = "out", project_id: int | None = None
    ) -> str:
        """stdout (``out``) or stderr (``err``) of a final execution."""
        return self.get_execution_log_info(job_name, execution_id, kind, project_id).text

    def get_execution_log_info(
        self, job_name: str, execution_id: int, kind: str = "out", project_id: int | None = None
    ) -> ExecutionLog:
        """stdout (``out``) or stderr (``err``) of a final execution, and whether Hopsworks held it back.

        Hopsworks answers a log over 1,000,000 bytes with one sentence instead of the text
        (hopsworks-rest.md §1.5); that sentence is its only signal, so it is recognised here once
        and reported as ``too_big`` with the file's path in the project's datasets.
        """
        if kind not in {"out", "err"}:
            raise ValueError("kind must be 'out' or 'err'")
        body = self.request("GET", f"{self._executions_path(project_id, job_name)}/{int(execution_id)}/log/{kind}")
        body = body or {}
        text = str(body.get("log") or "")
        path = str(body.get("path") or "") or None
        if text.startswith(LOG_TOO_BIG_PREFIX):
            return ExecutionLog("", True, path)
        return ExecutionLog(text, False, path)

    # ---- datasets ----
    def dataset_exists(self, path: str, project_id: int | None = None) -> bool:
        """Whether ``path`` (see :func:`dataset_relpath`) exists in the project's datasets.

        ``GET /project/{id}/dataset/<path>?action=stat`` (hopsworks-rest.md §6.7, §8): 200 → True; 404
        with a Dataset error code → False. Anything else raises :class:`HopsworksError`; a key whose
        platform role may not read datasets (AGENT, Hopsworks' Airflow service user) or that lacks the
        DATASET_VIEW scope gets a message saying which key would do.
        """
        project_name = self.project_name
        if str(path).startswith("/") and project_name is None:
            project_name = self.resolve_project()[1]
        try:
            rel = dataset_relpath(path, project_name)
        except ValueError as err:
            raise HopsworksError(str(err), kind=Failure.CONFIG) from None
        quoted = "/".join(_q(part) for part in rel.split("/"))
        try:
            self.request("GET", f"project/{self._pid(project_id)}/dataset/{quoted}", params={"action": "stat"})
        except HopsworksError as err:
            if err.http_status == 404 and err.error_code in DATASET_ERROR_CODES:
                return False
            if err.http_status == 403 and err.error_code in (NO_VALID_ROLE, NO_VALID_SCOPE):
                why = ("its user's platform role (AGENT, like Hopsworks' Airflow service user) may not read "
                       "project datasets" if err.error_code == NO_VALID_ROLE
                       else "it lacks the DATASET_VIEW scope")
                raise HopsworksError(
                    f"Hopsworks refused to look up dataset path {rel!r}: the API key of connection "
                    f"{self.hopsworks_conn_id!r}{' (or the task’s own key)' if self._override_key else ''} cannot "
                    f"read datasets, {why}. Use a HOPS_USER key with the DATASET_VIEW scope of a member of the "
                    "project: in the task's connection (hopsworks_conn_id=...) or params={'hw_api_key': ...}.",
                    http_status=err.http_status, error_code=err.error_code, error_msg=err.error_msg,
                    usr_msg=err.usr_msg,
                ) from None
            raise
        return True

    # ---- links ----
    def job_url(self, job_name: str, project_id: int | None = None) -> str:
        """Hopsworks UI page of a job."""
        return f"{self.endpoint.root}/p/{self._pid(project_id)}/jobs/named/{_q(job_name)}"

    def execution_url(self, job_name: str, project_id: int | None = None) -> str:
        """Hopsworks UI page listing a job's executions (Hopsworks has no per-execution page)."""
        return self.job_url(job_name, project_id) + "/executions"

    # ---- legacy API of Hopsworks' hopsworks_plugin hook ----
    def launch_job(self, job_name: str, args: str | None = None) -> dict[str, Any]:
        return self.start_execution(job_name, args)

    def get_job_state(self, job_name: str) -> tuple[str | None, str | None]:
        """(state, finalStatus) of the job's latest execution."""
        latest = self.get_latest_execution(job_name)
        if latest is None:
            return None, None
        return latest.get("state"), latest.get("finalStatus")

    # ---- "Test" button on the Connections page ----
    def test_connection(self) -> tuple[bool, str]:
        """One ``GET /project``: the key's user, its platform role (as far as it can be told) and
        what that role can and cannot do. An AGENT key passes: it runs DAGs, only the pages need more."""
        identity = key_identity(self)
        if not identity.authenticated:
            return False, identity.problem or "Hopsworks refused the API key"
        who = f" as {identity.username}" if identity.username else ""
        seen = f"; the API key sees {len(identity.rows)} project(s)" if identity.can_browse else ""
        return True, f"Connected to Hopsworks{who}{seen}. {identity.summary}"


# ---- who a key belongs to, and what its platform role may do ----

PLATFORM_ROLES = ("HOPS_ADMIN", "HOPS_USER", "HOPS_SERVICE_USER", "AGENT")
#: What each platform role's key can and cannot do for Airflow (hopsworks-rest.md §1.4).
ROLE_ABILITIES = {
    "HOPS_ADMIN": "pages can browse the projects its user is a member of (jobs, logs, launch, stop); DAGs can "
                  "launch and watch jobs",
    "HOPS_USER": "pages can browse the projects its user is a member of (jobs, logs, launch, stop); DAGs can "
                 "launch and watch jobs",
    "HOPS_SERVICE_USER": "pages can browse the projects its user is a member of and launch jobs, but cannot stop "
                         "executions; DAGs can launch and watch jobs",
    "AGENT": "DAGs can launch and watch jobs; pages need users' own keys or a HOPS_USER key (it may not list "
             "projects or jobs, read logs or stop executions)",
}


@dataclass(frozen=True)
class KeyIdentity:
    """What one ``GET /project`` tells about an API key. Hopsworks has no "who am I" for API keys
    (``/users/profile`` is JWT-only), so the user is read from the rows (every row's ``user`` is the
    caller) and the platform role from the rows' ``user.groupNames`` when Hopsworks includes them;
    otherwise it is inferred: only AGENT keys get 403 320003 on ``GET /project``, while HOPS_ADMIN,
    HOPS_USER and HOPS_SERVICE_USER keys may list projects (then "seems to be HOPS_USER")."""

    authenticated: bool  # Hopsworks accepted the key itself (not 401)
    can_browse: bool  # GET /project answered: the pages can use this key
    username: str | None = None  # None: the key's user is in no project, or the role may not list projects
    role: str | None = None
    role_certain: bool = False
    rows: tuple[dict[str, Any], ...] = ()
    problem: str | None = None  # why the key cannot be used (for pages, or at all), never the key
    error: HopsworksError | None = None

    @property
    def role_label(self) -> str:
        if not self.role:
            return "unknown"
        return self.role if self.role_certain else f"seems to be {self.role}"

    @property
    def abilities(self) -> str:
        return ROLE_ABILITIES.get(self.role or "", "")

    @property
    def summary(self) -> str:
        """"Platform role: seems to be AGENT. AGENT: DAGs can ...": the line the connection test shows."""
        if not self.role:
            return self.problem or ""
        text = f"Platform role: {self.role_label}. {self.role}: {self.abilities}."
        if not self.role_certain and self.role != "AGENT":
            text += (" (Hopsworks' API-key API does not say the role; HOPS_ADMIN and HOPS_SERVICE_USER keys may "
                     "list projects too.)")
        elif not self.role_certain:
            text += " (Inferred: Hopsworks refuses GET /project with 403 320003, as it does only to AGENT keys.)"
        return text


def _role_from_groups(user: dict[str, Any]) -> str | None:
    """The platform role from a ``Users`` object's ``groupNames`` (BbcGroup objects or names), if present."""
    names = set()
    for group in user.get("groupNames") or []:
        name = group.get("groupName") if isinstance(group, dict) else group
        if name:
            names.add(str(name).upper())
    return next((role for role in PLATFORM_ROLES if role in names), None)


def key_identity(hook: HopsworksHook) -> KeyIdentity:
    """The key's user and platform role from one ``GET /project`` (see :class:`KeyIdentity`)."""
    try:
        rows = hook.get_project_rows()
    except HopsworksError as err:
        if err.http_status == 403 and err.error_code == NO_VALID_ROLE:
            return KeyIdentity(
                authenticated=True, can_browse=False, role="AGENT", error=err,
                problem="The key's Hopsworks user seems to be AGENT (like Hopsworks' own Airflow service user): "
                        "Hopsworks refuses it the project list (403 320003).",
            )
        if err.http_status == 403 and err.error_code == 320004:
            return KeyIdentity(authenticated=True, can_browse=False, error=err,
                               problem=f"The API key lacks the PROJECT scope (needs JOB and PROJECT): "
                                       f"{err.error_msg or err}")
        if err.http_status == 401:
            reason = err.usr_msg or err.error_msg or err
            return KeyIdentity(authenticated=False, can_browse=False, error=err,
                               problem=f"Hopsworks refused the API key (HTTP 401): {reason}")
        return KeyIdentity(authenticated=False, can_browse=False, error=err, problem=str(err))
    user = (rows[0].get("user") or {}) if rows else {}
    role = _role_from_groups(user)
    return KeyIdentity(
        authenticated=True, can_browse=True, username=user.get("username"), role=role or "HOPS_USER",
        role_certain=role is not None, rows=tuple(rows),
    )


# ---- the pages' hooks: the shared connection, or a user's own key ----

_service_hooks: dict[str, tuple[float, HopsworksHook]] = {}
_service_lock = threading.Lock()


def service_hook() -> HopsworksHook:
    """The pages' shared hook on the service connection (``[hopsworks] conn_id``).

    One per process for ``[hopsworks] service_hook_ttl_s`` (60 s) at a time: its pooled HTTP
    connections are reused across page views (a new TCP/TLS connection and connection lookup per page
    would cost more than the Hopsworks call itself), and a changed connection is picked up in time.
    """
    conn_id = settings.conn_id()
    now = time.monotonic()
    with _service_lock:
        cached = _service_hooks.get(conn_id)
        if cached and now - cached[0] < settings.service_hook_ttl_s():
            return cached[1]
        hook = HopsworksHook(conn_id)
        _service_hooks[conn_id] = (now, hook)
    # A replaced hook is not closed: another thread may still be using it; its pool is garbage-collected.
    return hook


class UserKeyHook(HopsworksHook):
    """The shared connection's Hopsworks (host, TLS, timeouts, retries) called with one Airflow user's
    own API key: Hopsworks then decides what the user sees, and launches run as them."""

    def __init__(self, conn_id: str, username: str, api_key: str, version: str) -> None:
        super().__init__(conn_id, hw_api_key=api_key)
        self.key_owner = username
        self.key_version = version
        #: Membership caches are kept per user and key, never shared with the service connection's.
        self.membership_scope = f"{conn_id}|user:{username}|{version}"


_user_hooks: OrderedDict[str, tuple[float, UserKeyHook]] = OrderedDict()
_user_lock = threading.Lock()


def hook_for(username: str) -> UserKeyHook | None:
    """The hook with ``username``'s own key (My Hopsworks key), or None when they have none.

    Costs one indexed read of the plugin's key table per call (so a key deleted or replaced in another
    api-server worker is never used again); the hook itself, with its pooled HTTP connections, is kept
    per user for ``[hopsworks] service_hook_ttl_s`` in a cache bounded to ``[hopsworks]
    user_hook_cache_size`` users (least recently used dropped first).
    """
    from hopsworks_ui_plugin import user_keys

    stored = user_keys.get(username)
    now = time.monotonic()
    with _user_lock:
        cached = _user_hooks.get(username)
        if stored is None:
            _user_hooks.pop(username, None)
            return None
        if (cached and cached[1].key_version == stored.version and cached[1].hopsworks_conn_id == settings.conn_id()
                and now - cached[0] < settings.service_hook_ttl_s()):
            _user_hooks.move_to_end(username)
            return cached[1]
    found = user_keys.secret_of(username)
    if found is None:  # deleted in between
        forget_user_hook(username)
        return None
    stored, secret = found
    hook = UserKeyHook(settings.conn_id(), username, secret, stored.version)
    with _user_lock:
        _user_hooks[username] = (now, hook)
        _user_hooks.move_to_end(username)
        while len(_user_hooks) > settings.user_hook_cache_size():
            _user_hooks.popitem(last=False)
    return hook


def forget_user_hook(username: str) -> None:
    """Drop ``username``'s cached hook (their key was replaced or deleted)."""
    with _user_lock:
        _user_hooks.pop(username, None)


def hook_with_key(api_key: str) -> HopsworksHook:
    """A one-off hook on the shared connection's Hopsworks with ``api_key`` (to test a key before storing it)."""
    return HopsworksHook(settings.conn_id(), hw_api_key=api_key)
