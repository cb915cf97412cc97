"""The plugin's one error model.

Every refusal or failure the core raises is a :class:`PluginError`: an HTTP status, a short title,
a message written for the user, and optionally where "Back" should lead. UI adapters turn it into a
page (FAB: one error handler in :mod:`hopsworks_ui_plugin.views.base`) or a JSON answer; tasks fail
with it. Nothing decides a status by reading message text.

:class:`HopsworksError` is a failed Hopsworks call. Its :attr:`~HopsworksError.kind` says *why*
(:class:`Failure`): Hopsworks could not be reached, did not answer in time, the connection is
misconfigured, or Hopsworks answered with an error. It is also an ``AirflowException`` so a task
that hits it fails like any other Airflow error.
"""

from __future__ import annotations

import enum

from hopsworks_ui_plugin.version_compat import AirflowException


class PluginError(Exception):
    """A refusal or failure with what a page or API answer needs."""

    status = 500
    title = "Something went wrong"

    def __init__(self, message: str, *, status: int | None = None, title: str | None = None,
                 back: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        if title is not None:
            self.title = title
        self.back = back

    def __str__(self) -> str:
        return self.message


class BadInput(PluginError):
    """400: the request itself is wrong (a bad parameter, a form that does not validate)."""

    status = 400
    title = "Bad request"


class Forbidden(PluginError):
    """403: the user may not do this."""

    status = 403
    title = "Not allowed"


class NotFound(PluginError):
    """404: no such thing, or nothing the user may know exists."""

    status = 404
    title = "Not found"


class Conflict(PluginError):
    """409: the request clashes with the current state (a file exists, a DAG is not active)."""

    status = 409
    title = "Conflict"


class TooLarge(PluginError):
    """413: a body, file or upload over a configured cap."""

    status = 413
    title = "Too large"


class TooManyRequests(PluginError):
    """429: a per-user quota is used up."""

    status = 429
    title = "Too many requests"


class Failure(enum.Enum):
    """Why a Hopsworks call failed."""

    UNREACHABLE = "unreachable"  # connection refused, DNS, reset, retries exhausted on 5xx/429
    TIMEOUT = "timeout"  # Hopsworks did not answer within the connection's timeout
    CONFIG = "config"  # the Airflow connection is missing or unusable (no host, no key, bad scheme, TLS)
    API = "api"  # Hopsworks answered with an HTTP error (status, errorCode, errorMsg)


#: HTTP status a page answers for a Hopsworks failure of each kind (API errors: see ``HopsworksError.status``).
_PAGE_STATUS = {Failure.UNREACHABLE: 502, Failure.TIMEOUT: 504, Failure.CONFIG: 500}
_PAGE_TITLE = {
    Failure.UNREACHABLE: "Hopsworks is not available",
    Failure.TIMEOUT: "Hopsworks did not answer in time",
    Failure.CONFIG: "The Hopsworks connection is not set up correctly",
}


class HopsworksError(PluginError, AirflowException):
    """A failed Hopsworks call.

    ``http_status`` is Hopsworks' HTTP status (None when it never answered); ``error_code``,
    ``error_msg`` and ``usr_msg`` are Hopsworks' error body. :attr:`status` and :attr:`title` are what
    a page answers: 502/504 for an outage, 500 for a misconfigured connection, Hopsworks' own 4xx for
    404/403/401-type answers, 502 for Hopsworks' 5xx.
    """

    def __init__(
        self,
        message: str,
        *,
        kind: Failure = Failure.API,
        http_status: int | None = None,
        error_code: int | None = None,
        error_msg: str | None = None,
        usr_msg: str | None = None,
    ) -> None:
        if kind is Failure.API:
            page_status = http_status if http_status in (401, 403, 404) else 502
            title = {401: "Hopsworks refused the API key", 403: "Hopsworks refused the request",
                     404: "Not found in Hopsworks"}.get(page_status, "Hopsworks answered with an error")
        else:
            page_status, title = _PAGE_STATUS[kind], _PAGE_TITLE[kind]
        super().__init__(message, status=page_status, title=title)
        self.kind = kind
        self.http_status = http_status
        self.error_code = error_code
        self.error_msg = error_msg
        self.usr_msg = usr_msg

    @property
    def unreachable(self) -> bool:
        """Hopsworks could not be asked at all (down or too slow); retrying later may help."""
        return self.kind in (Failure.UNREACHABLE, Failure.TIMEOUT)

    @property
    def retryable(self) -> bool:
        """Worth asking again later: an outage, a timeout, or Hopsworks' 429/5xx."""
        return self.unreachable or (self.http_status is not None and (self.http_status == 429
                                                                      or self.http_status >= 500))
