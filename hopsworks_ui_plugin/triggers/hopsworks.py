"""Triggers that wait in the triggerer, holding no worker slot: HopsworksExecutionTrigger (a Hopsworks
execution) and HopsworksDatasetTrigger (a path in a project dataset)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import Any

from hopsworks_ui_plugin import settings
from hopsworks_ui_plugin.hooks.hopsworks import NO_VALID_ROLE, HopsworksError, HopsworksHook
from hopsworks_ui_plugin.states import Outcome, outcome
from hopsworks_ui_plugin.task_support import Outage
from hopsworks_ui_plugin.version_compat import BaseHook, BaseTrigger, TriggerEvent, conf_getint


class HopsworksPollingTrigger(BaseTrigger):
    """What the Hopsworks triggers share: the hook (connection read asynchronously, one pooled session
    per run) and :meth:`poll_until`, the wait loop (retryable failures retried until the deadline with one
    warning per outage, other failures an ``error`` event). Subclasses set ``project_id``,
    ``hopsworks_conn_id``, ``hw_api_key``, ``poll_interval``, ``deadline`` and ``_hook = None``."""

    project_id: int
    hopsworks_conn_id: str
    hw_api_key: str | None
    poll_interval: float
    deadline: float | None
    _hook: HopsworksHook | None
    #: The constructor arguments, in order: what the triggerer rebuilds the trigger from.
    serialized_fields: tuple[str, ...] = ()

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (f"{type(self).__module__}.{type(self).__qualname__}",
                {name: getattr(self, name) for name in self.serialized_fields})

    async def _get_hook(self) -> HopsworksHook:
        if self._hook is None:
            aget = getattr(BaseHook, "aget_connection", None)
            if aget is not None:
                conn = await aget(self.hopsworks_conn_id)
            else:  # pragma: no cover - Airflow 2
                conn = await asyncio.to_thread(BaseHook.get_connection, self.hopsworks_conn_id)
            self._hook = HopsworksHook(
                self.hopsworks_conn_id, project_id=self.project_id, hw_api_key=self.hw_api_key, connection=conn
            )
        return self._hook

    async def poll_until(
        self,
        look: Callable[[HopsworksHook], Any],
        decide: Callable[[Any], TriggerEvent | None],
        timed_out: Callable[[Any, str], TriggerEvent],
        failed: Callable[[HopsworksError], TriggerEvent],
        what: str,
    ) -> AsyncIterator[TriggerEvent]:
        """Yield exactly one event: ``look(hook)`` runs in a thread (the hook is synchronous; the
        triggerer's event loop stays free) every ``poll_interval`` s until ``decide(answer)`` returns an
        event, or ``timed_out(last answer, outage note)`` at the deadline, or ``failed(err)`` for a
        failure that will not pass by asking again."""
        outage = Outage(self.log, what)
        try:
            hook = await self._get_hook()
            while True:
                answer = None
                try:
                    answer = await asyncio.to_thread(look, hook)
                except HopsworksError as err:
                    if not err.retryable:
                        raise
                    outage.failed(err)
                else:
                    outage.answered()
                    event = decide(answer)
                    if event is not None:
                        yield event
                        return
                if self.deadline is not None and time.time() >= self.deadline:
                    yield timed_out(answer, outage.note())
                    return
                await asyncio.sleep(self.poll_interval)
        except HopsworksError as err:
            yield failed(err)
        finally:
            if self._hook is not None:
                self._hook.close()
                self._hook = None


class HopsworksExecutionTrigger(HopsworksPollingTrigger):
    """Polls one execution (or, with ``execution_id=None``, the job's latest) until it is final.

    Yields exactly one event: ``{"status": "success"|"failed"|"timeout"|"error", "message",
    "execution_id", "state", "final_status"}``. ``deadline`` is wall-clock epoch seconds (it
    crosses the serialization boundary, so monotonic time would be meaningless).
    """

    serialized_fields = ("project_id", "job_name", "execution_id", "hopsworks_conn_id", "poll_interval", "deadline",
                         "cancel_on_kill", "hw_api_key")

    def __init__(
        self,
        *,
        project_id: int,
        job_name: str,
        execution_id: int | None,
        hopsworks_conn_id: str = HopsworksHook.default_conn_name,
        poll_interval: float = 10.0,
        deadline: float | None = None,
        cancel_on_kill: bool = True,
        hw_api_key: str | None = None,
    ) -> None:
        super().__init__()
        self.project_id = int(project_id)
        self.job_name = job_name
        self.execution_id = int(execution_id) if execution_id is not None else None
        self.hopsworks_conn_id = hopsworks_conn_id
        self.poll_interval = float(poll_interval)
        self.deadline = deadline
        self.cancel_on_kill = cancel_on_kill
        self.hw_api_key = hw_api_key
        self._hook: HopsworksHook | None = None


    async def _poll(self, hook: HopsworksHook) -> dict[str, Any] | None:
        # The hook is synchronous (requests); a thread keeps the triggerer's event loop free while
        # the hook's pooled session keeps its connection alive between polls.
        if self.execution_id is None:
            return await asyncio.to_thread(hook.get_latest_execution, self.job_name, self.project_id)
        return await asyncio.to_thread(hook.get_execution, self.job_name, self.execution_id, self.project_id)

    def _event(self, status: str, message: str, execution: dict[str, Any] | None = None) -> TriggerEvent:
        execution = execution or {}
        return TriggerEvent(
            {
                "status": status,
                "message": message,
                "execution_id": execution.get("id", self.execution_id),
                "state": execution.get("state"),
                "final_status": execution.get("finalStatus"),
            }
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll until final. Polls that fail but may pass later (outage, timeout, 429, 5xx) are retried
        until the deadline with one warning per outage; other failures end with an ``error`` event."""
        outage = Outage(self.log, f"job {self.job_name!r} execution {self.execution_id}")
        try:
            hook = await self._get_hook()
            while True:
                try:
                    execution = await self._poll(hook)
                except HopsworksError as err:
                    if not err.retryable:
                        raise
                    outage.failed(err)
                    execution = None
                else:
                    outage.answered()
                if execution is not None:
                    result = outcome(execution.get("state"), execution.get("finalStatus"))
                    described = (
                        f"Hopsworks execution {execution.get('id')} of job {self.job_name!r} is "
                        f"{execution.get('state')} (final status {execution.get('finalStatus')})"
                    )
                    if result is Outcome.SUCCEEDED:
                        yield self._event("success", described, execution)
                        return
                    if result is Outcome.FAILED:
                        yield self._event("failed", described, execution)
                        return
                if self.deadline is not None and time.time() >= self.deadline:
                    yield self._event(
                        "timeout",
                        f"Timed out waiting for job {self.job_name!r} execution {self.execution_id}"
                        + outage.note(),
                        execution,
                    )
                    return
                await asyncio.sleep(self.poll_interval)
        except HopsworksError as err:
            yield self._event("error", str(err))
        finally:
            if self._hook is not None:
                self._hook.close()
                self._hook = None

    async def on_kill(self) -> None:
        """A user marked/cleared the deferred task: keep asking Hopsworks to stop the execution until it is
        final, for ``[hopsworks] stop_timeout_s`` but less than ``[triggerer] on_kill_timeout``."""
        if not self.cancel_on_kill or self.execution_id is None:
            return
        hook = await self._get_hook()
        budget = min(settings.stop_timeout_s(),
                     max(1.0, conf_getint("triggerer", "on_kill_timeout", fallback=30) - 2.0))
        try:
            result = await asyncio.to_thread(
                partial(hook.stop_until_final, self.job_name, self.execution_id, self.project_id,
                        timeout_s=budget, interval_s=min(self.poll_interval, 1.0))
            )
            if result.final:
                self.log.info("Stopped Hopsworks execution %s: %s / %s", self.execution_id,
                              result.execution.get("state"), result.execution.get("finalStatus"))
            else:
                self.log.warning("Asked Hopsworks %s time(s) to stop execution %s; after %g s it is still %s.",
                                 result.asks, self.execution_id, budget, result.execution.get("state"))
        except HopsworksError as err:
            if err.error_code == NO_VALID_ROLE:
                self.log.warning(
                    "Hopsworks execution %s keeps running: the connection's API key belongs to a user whose "
                    "platform role (AGENT, Hopsworks' Airflow service user) may not stop executions. Stop it in "
                    "Hopsworks, or use a HOPS_USER key (params={'hw_api_key': ...}) to have it stopped on kill.",
                    self.execution_id,
                )
            else:
                self.log.warning("Could not stop Hopsworks execution %s: %s", self.execution_id, err)
        finally:
            hook.close()
            self._hook = None


class HopsworksDatasetTrigger(HopsworksPollingTrigger):
    """Polls ``GET /project/{id}/dataset/<path>?action=stat`` until the path exists.

    Yields exactly one event: ``{"status": "success"|"timeout"|"error", "message", "path"}``.
    ``path`` is relative to the project root (the sensor resolves it); ``deadline`` is wall-clock
    epoch seconds.
    """

    serialized_fields = ("project_id", "path", "hopsworks_conn_id", "poll_interval", "deadline", "hw_api_key")

    def __init__(
        self,
        *,
        project_id: int,
        path: str,
        hopsworks_conn_id: str = HopsworksHook.default_conn_name,
        poll_interval: float = 10.0,
        deadline: float | None = None,
        hw_api_key: str | None = None,
    ) -> None:
        super().__init__()
        self.project_id = int(project_id)
        self.path = path
        self.hopsworks_conn_id = hopsworks_conn_id
        self.poll_interval = float(poll_interval)
        self.deadline = deadline
        self.hw_api_key = hw_api_key
        self._hook: HopsworksHook | None = None


    def _event(self, status: str, message: str) -> TriggerEvent:
        return TriggerEvent({"status": status, "message": message, "path": self.path})

    async def run(self) -> AsyncIterator[TriggerEvent]:
        where = f"{self.path!r} in project {self.project_id}'s datasets"
        async for event in self.poll_until(
            lambda hook: hook.dataset_exists(self.path, self.project_id),
            lambda exists: self._event("success", f"Dataset path {where} exists") if exists else None,
            lambda _answer, note: self._event("timeout", f"Timed out waiting for dataset path {where}{note}"),
            lambda err: self._event("error", str(err)),
            f"dataset path {where}",
        ):
            yield event
