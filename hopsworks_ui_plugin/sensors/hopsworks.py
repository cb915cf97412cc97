"""Sensors for "a Hopsworks job finished", "a Hopsworks job succeeded" and "a dataset path exists".

Legacy semantics watch the job's latest execution. Pass ``execution_id`` or ``launch_task_id``
(the task id of a HopsworksLaunchOperator with ``wait_for_completion=False``) to watch exactly
the execution that was launched instead: another run of the same job can no longer fool the sensor.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from hopsworks_ui_plugin.hooks.hopsworks import HopsworksError, HopsworksHook, dataset_relpath
from hopsworks_ui_plugin.links import EXECUTION_ID_XCOM_KEY
from hopsworks_ui_plugin.states import Outcome, is_final, outcome
from hopsworks_ui_plugin.task_support import HopsworksTaskMixin, Outage
from hopsworks_ui_plugin.triggers.hopsworks import HopsworksDatasetTrigger, HopsworksExecutionTrigger
from hopsworks_ui_plugin.version_compat import AirflowException, BaseSensorOperator, conf_getboolean

T = TypeVar("T")


class _HopsworksSensor(HopsworksTaskMixin, BaseSensorOperator):
    """What the Hopsworks sensors share: the project, the connection, deferrable mode, a 10 s poke
    interval by default, and the outage memo of :meth:`poke`."""

    def __init__(
        self,
        *,
        project_id: int | None = None,
        project_name: str | None = None,
        hopsworks_conn_id: str = HopsworksHook.default_conn_name,
        deferrable: bool = conf_getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("poke_interval", 10)
        super().__init__(**kwargs)
        self.project_id = int(project_id) if project_id is not None else None
        self.project_name = project_name
        self.hopsworks_conn_id = hopsworks_conn_id
        self.deferrable = deferrable
        self._outage: Outage | None = None

    def _look(self, context: Any, what: str, look: Callable[[HopsworksHook], T]) -> tuple[bool, T | None]:
        """One look at Hopsworks through a fresh hook: ``(True, answer)``, or ``(False, None)`` when the look
        failed in a way that may pass later (outage, timeout, 429, 5xx), with one warning per outage of
        ``what``; other failures raise (and fail the task)."""
        if self._outage is None:
            self._outage = Outage(self.log, what)
        hook = None
        try:
            hook = self.make_hook(context)
            answer = look(hook)
        except HopsworksError as err:
            if not err.retryable:
                raise
            self._outage.failed(err)
            return False, None
        finally:
            if hook is not None:
                hook.close()
        self._outage.answered()
        return True, answer


class HopsworksJobFinishSensor(_HopsworksSensor):
    """Succeeds once the watched execution is in a final state (or ``response_check`` says so).

    :param response_check: ``f(state, final_status) -> bool`` deciding when to stop waiting.
    :param execution_id: watch this execution instead of the job's latest.
    :param launch_task_id: watch the execution that this task pushed to XCom.
    """

    template_fields: Sequence[str] = ("job_name", "project_name", "execution_id")

    def __init__(
        self,
        *,
        job_name: str,
        response_check: Callable[[str | None, str | None], bool] | None = None,
        execution_id: int | str | None = None,
        launch_task_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.job_name = job_name
        self.response_check = response_check
        self.execution_id = execution_id
        self.launch_task_id = launch_task_id

    def _bound_execution_id(self, context: Any) -> int | None:
        if self.execution_id not in (None, ""):
            return int(self.execution_id)  # type: ignore[arg-type]
        if self.launch_task_id:
            value = context["ti"].xcom_pull(task_ids=self.launch_task_id, key=EXECUTION_ID_XCOM_KEY)
            if value is None:
                raise AirflowException(f"Task {self.launch_task_id!r} pushed no Hopsworks execution id")
            return int(value)
        return None

    def _fetch(self, hook: HopsworksHook, execution_id: int | None) -> dict[str, Any] | None:
        if execution_id is None:
            return hook.get_latest_execution(self.job_name)
        return hook.get_execution(self.job_name, execution_id)

    def _decide(self, execution: dict[str, Any] | None) -> bool:
        if execution is None:
            self.log.info("Hopsworks job %r has no execution yet", self.job_name)
            return False
        state, final_status = execution.get("state"), execution.get("finalStatus")
        self.log.info("Hopsworks execution %s of %r: %s / %s", execution.get("id"), self.job_name, state, final_status)
        if self.response_check is not None:
            return bool(self.response_check(state, final_status))
        return is_final(state)

    def poke(self, context: Any) -> bool:
        """One look. A look that fails but may pass later (outage, timeout, 429, 5xx) is "not yet": the
        sensor asks again until its timeout, with one warning per outage; other failures fail the task."""
        execution_id = self._bound_execution_id(context)
        what = f"job {self.job_name!r} " + (f"execution {execution_id}" if execution_id is not None
                                            else "(latest execution)")
        answered, execution = self._look(context, what, lambda hook: self._fetch(hook, execution_id))
        return answered and self._decide(execution)

    def execute(self, context: Any) -> Any:
        if not self.deferrable:
            return super().execute(context)
        hook = self.make_hook(context)
        execution_id = self._bound_execution_id(context)
        try:
            try:
                execution = self._fetch(hook, execution_id)
            except HopsworksError as err:
                if not err.retryable:
                    raise
                execution = None  # the trigger keeps asking
                self.log.warning("Hopsworks did not answer (%s); deferring, the triggerer keeps asking.", err)
            if execution is not None and self._decide(execution):
                return None
            project_id, _ = hook.resolve_project()
        finally:
            hook.close()
        self.defer(
            trigger=HopsworksExecutionTrigger(
                project_id=project_id,
                job_name=self.job_name,
                execution_id=execution_id,
                hopsworks_conn_id=self.hopsworks_conn_id,
                poll_interval=float(self.poke_interval),  # type: ignore[arg-type]
                deadline=time.time() + float(self.timeout),  # type: ignore[arg-type]
                cancel_on_kill=False,  # a sensor watches; it does not own the execution
                hw_api_key=self._api_key_from_params(context),
            ),
            method_name="execute_complete",
        )

    def execute_complete(self, context: Any, event: dict[str, Any]) -> None:
        status = event.get("status")
        if status in {"timeout", "error"}:
            raise AirflowException(event.get("message") or f"Hopsworks trigger ended with {status}")
        execution = {"id": event.get("execution_id"), "state": event.get("state"),
                     "finalStatus": event.get("final_status")}
        if not self._decide(execution):
            raise AirflowException(
                f"response_check rejected the final state of Hopsworks job {self.job_name!r}: "
                f"{event.get('state')} / {event.get('final_status')}"
            )


class HopsworksJobSuccessSensor(HopsworksJobFinishSensor):
    """Succeeds when the watched execution succeeded; fails the task when it failed."""

    def _decide(self, execution: dict[str, Any] | None) -> bool:
        if execution is None:
            self.log.info("Hopsworks job %r has no execution yet", self.job_name)
            return False
        state, final_status = execution.get("state"), execution.get("finalStatus")
        result = outcome(state, final_status)
        if result is Outcome.FAILED:
            raise AirflowException(
                f"Hopsworks job {self.job_name!r} execution {execution.get('id')} failed: state {state}, "
                f"final status {final_status}"
            )
        self.log.info("Hopsworks execution %s of %r: %s / %s", execution.get("id"), self.job_name, state, final_status)
        return result is Outcome.SUCCEEDED


class HopsworksDatasetSensor(_HopsworksSensor):
    """Succeeds once ``path`` exists in the project's datasets (``GET /project/{id}/dataset/<path>?action=stat``:
    200 exists, 404 not yet). Hopsworks calls it ``HopsworksHdfsSensor``; both names work.

    :param path: relative to the project root (``Resources/input/part-0.csv``) or absolute
        (``/Projects/<project>/Resources/...``); a path that could leave the project (``..``, another
        project's) is refused.
    :param project_id: / :param project_name: the project (give the name with an AGENT key).

    The key needs the DATASET_VIEW scope and a platform role that may read datasets: Hopsworks' own
    Airflow service user (AGENT) may not, and the task then fails saying so. Like the job sensors, a
    task using the shared connection's key may reach only the project whose folder holds its DAG file,
    and its owner must be a member of that project. Failures that may pass (outage, 429, 5xx) are "not
    yet"; anything else (no such project, a refused key, a bad path) fails the task.
    """

    template_fields: Sequence[str] = ("path", "project_name")
    #: No job: an id-only project is resolved without one (give project_name with an AGENT key).
    job_name = ""

    def __init__(self, *, path: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.path = path
        if "{{" not in str(path) and not (str(path).startswith("/") and self.project_name is None):
            dataset_relpath(path, self.project_name)  # a bad path fails when the DAG is parsed, not at run time

    def _relpath(self, project_name: str) -> str:
        try:
            return dataset_relpath(self.path, project_name)
        except ValueError as err:
            raise AirflowException(str(err)) from None

    def poke(self, context: Any) -> bool:
        """One look; a look that fails but may pass later is "not yet" (one warning per outage)."""
        def look(hook: HopsworksHook) -> tuple[str, str, bool]:
            _, project_name = hook.resolve_project()
            relative = self._relpath(project_name)
            return project_name, relative, hook.dataset_exists(relative)

        answered, found = self._look(context, f"dataset path {self.path!r}", look)
        if not answered or found is None:
            return False
        project_name, relative, exists = found
        self.log.info("Dataset path %r of project %s %s", relative, project_name,
                      "exists" if exists else "does not exist yet")
        return exists

    def execute(self, context: Any) -> Any:
        if not self.deferrable:
            return super().execute(context)
        hook = self.make_hook(context)
        try:
            project_id, project_name = hook.resolve_project()
            relative = self._relpath(project_name)
            try:
                if hook.dataset_exists(relative, project_id):
                    self.log.info("Dataset path %r of project %s exists", relative, project_name)
                    return None
            except HopsworksError as err:
                if not err.retryable:
                    raise
                self.log.warning("Hopsworks did not answer (%s); deferring, the triggerer keeps asking.", err)
        finally:
            hook.close()
        self.defer(
            trigger=HopsworksDatasetTrigger(
                project_id=project_id,
                path=relative,
                hopsworks_conn_id=self.hopsworks_conn_id,
                poll_interval=float(self.poke_interval),  # type: ignore[arg-type]
                deadline=time.time() + float(self.timeout),  # type: ignore[arg-type]
                hw_api_key=self._api_key_from_params(context),
            ),
            method_name="execute_complete",
        )

    def execute_complete(self, context: Any, event: dict[str, Any]) -> None:
        if event.get("status") != "success":
            raise AirflowException(event.get("message") or f"Hopsworks trigger ended with {event.get('status')}")
        self.log.info("%s", event.get("message"))


#: The name Hopsworks' own Airflow integration uses (hopsworks-rest.md §6.7, §7.2).
HopsworksHdfsSensor = HopsworksDatasetSensor
