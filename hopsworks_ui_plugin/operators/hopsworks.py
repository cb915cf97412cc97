"""HopsworksLaunchOperator: launch a Hopsworks job and wait for the execution it launched."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from hopsworks_ui_plugin import settings
from hopsworks_ui_plugin.hooks.hopsworks import NO_VALID_ROLE, HopsworksError, HopsworksHook
from hopsworks_ui_plugin.links import HopsworksExecutionLink
from hopsworks_ui_plugin.states import Outcome, outcome
from hopsworks_ui_plugin.task_support import HopsworksTaskMixin, Outage
from hopsworks_ui_plugin.triggers.hopsworks import HopsworksExecutionTrigger
from hopsworks_ui_plugin.version_compat import AirflowException, BaseOperator, conf_getboolean

#: Seconds on_kill keeps asking Hopsworks to stop: Airflow 3's supervisor sends SIGKILL 5 s after the
#: SIGTERM that runs on_kill (``ActivitySubprocess.kill(escalation_delay=5.0)``).
ON_KILL_BUDGET_S = 4.0


class HopsworksLaunchOperator(HopsworksTaskMixin, BaseOperator):
    """Launch a Hopsworks job and (optionally) wait until that execution is final.

    :param job_name: name of the job in the Hopsworks project.
    :param project_id: the project's id; or give ``project_name``.
    :param project_name: the project's name; or give ``project_id``.
    :param job_arguments: argument string for the execution (empty: the job's default arguments).
    :param wait_for_completion: wait for the launched execution to be final.
    :param poke_interval_s: seconds between status polls.
    :param wait_timeout_s: give up waiting after this many seconds (-1: wait forever).
    :param ignore_failure: succeed even when the execution fails.
    :param hopsworks_conn_id: the ``hopsworks`` connection.
    :param deferrable: wait in the triggerer instead of holding a worker slot.
    :param cancel_on_kill: stop the Hopsworks execution when the task is killed.
    :param copy_logs: copy the execution's stdout/stderr into the task log once it is final.

    Pushes ``hopsworks_execution_id`` and ``hopsworks_execution_url`` to XCom right after the
    launch and returns the execution id.
    """

    template_fields: Sequence[str] = ("job_name", "project_name", "job_arguments")
    operator_extra_links = (HopsworksExecutionLink(),)
    ui_color = "#1eb382"
    ui_fgcolor = "#fff"

    def __init__(
        self,
        *,
        job_name: str,
        project_id: int | None = None,
        project_name: str | None = None,
        job_arguments: str | None = None,
        wait_for_completion: bool = True,
        poke_interval_s: float = 5,
        wait_timeout_s: float = -1,
        ignore_failure: bool = False,
        hopsworks_conn_id: str = HopsworksHook.default_conn_name,
        deferrable: bool = conf_getboolean("operators", "default_deferrable", fallback=False),
        cancel_on_kill: bool = True,
        copy_logs: bool = True,
        wait_for_state: Any = None,  # accepted for DAGs written for the legacy plugin; ignored
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.job_name = job_name
        self.project_id = int(project_id) if project_id is not None else None
        self.project_name = project_name
        self.job_arguments = job_arguments
        self.wait_for_completion = wait_for_completion
        self.poke_interval_s = max(float(poke_interval_s), 0.05)
        self.wait_timeout_s = float(wait_timeout_s)
        self.ignore_failure = ignore_failure
        self.hopsworks_conn_id = hopsworks_conn_id
        self.deferrable = deferrable
        self.cancel_on_kill = cancel_on_kill
        self.copy_logs_enabled = copy_logs
        self._hook: HopsworksHook | None = None
        self._execution_id: int | None = None

    def execute(self, context: Any) -> int:
        hook = self._hook = self.make_hook(context)
        project_id, project_name = hook.resolve_project()
        reattached = self._reattach(context, hook, project_id)
        if reattached is None:
            execution = hook.start_execution(self.job_name, self.job_arguments, project_id)
            execution_id = self._execution_id = int(execution["id"])
            self.remember_launch(context, execution_id)
            url = self.publish_execution(context, hook, self.job_name, execution_id)
            self.log.info(  # the URL last, after a space: a terminal/log viewer link takes no ")" with it
                "Launched Hopsworks job %r in project %r: execution %s. Follow it at %s",
                self.job_name, project_name, execution_id, url,
            )
        else:
            execution_id = self._execution_id = int(reattached["id"])
            self.publish_execution(context, hook, self.job_name, execution_id)
        if not self.wait_for_completion:
            return execution_id
        if self.deferrable:
            try:
                execution = hook.get_execution(self.job_name, execution_id, project_id)
            except HopsworksError as err:
                if not err.retryable:
                    raise
                execution = {"id": execution_id}  # the trigger keeps asking
            if outcome(execution.get("state"), execution.get("finalStatus")) is Outcome.RUNNING:
                self.defer(
                    trigger=HopsworksExecutionTrigger(
                        project_id=project_id,
                        job_name=self.job_name,
                        execution_id=execution_id,
                        hopsworks_conn_id=self.hopsworks_conn_id,
                        poll_interval=self.poke_interval_s,
                        deadline=time.time() + self.wait_timeout_s if self.wait_timeout_s >= 0 else None,
                        cancel_on_kill=self.cancel_on_kill,
                        hw_api_key=self._api_key_from_params(context),
                    ),
                    method_name="execute_complete",
                )
            return self._finish(hook, execution)
        return self._finish(hook, self._wait(hook, project_id, execution_id))

    def _reattach(self, context: Any, hook: HopsworksHook, project_id: int) -> dict[str, Any] | None:
        """On a retry: the execution the earlier try launched, unless it failed (then launch anew)."""
        previous = self.previous_launch(context)
        if previous is None:
            return None
        try:
            execution = hook.get_execution(self.job_name, previous, project_id)
        except HopsworksError as err:
            if err.http_status not in (403, 404):  # unknown now: deciding either way could launch twice
                raise
            self.log.warning("Execution %s, launched by an earlier try, is gone from Hopsworks (%s); launching "
                             "the job again.", previous, err)
            return None
        state, final_status = execution.get("state"), execution.get("finalStatus")
        if outcome(state, final_status) is Outcome.FAILED:
            self.log.info("Execution %s, launched by an earlier try, ended %s / %s: launching the job again.",
                          previous, state, final_status)
            return None
        self.log.info("Re-attaching to Hopsworks execution %s, launched by an earlier try of this task (now %s / "
                      "%s); not launching the job again.", previous, state, final_status)
        return execution

    def _wait(self, hook: HopsworksHook, project_id: int, execution_id: int) -> dict[str, Any]:
        """Poll until final. Failed polls that may pass later (outage, timeout, 429, 5xx) are retried
        until the wait timeout, with one warning per outage; other failures fail the task."""
        started = time.monotonic()
        outage = Outage(self.log, f"job {self.job_name!r} execution {execution_id}")
        execution: dict[str, Any] = {}
        while True:
            try:
                execution = hook.get_execution(self.job_name, execution_id, project_id)
            except HopsworksError as err:
                if not err.retryable:
                    raise
                outage.failed(err)
            else:
                outage.answered()
                if outcome(execution.get("state"), execution.get("finalStatus")) is not Outcome.RUNNING:
                    return execution
            if 0 <= self.wait_timeout_s <= time.monotonic() - started:
                raise AirflowException(
                    f"Timed out after {self.wait_timeout_s:g} s waiting for Hopsworks job {self.job_name!r} "
                    f"execution {execution_id} (last state {execution.get('state')}{outage.note()}); "
                    "it keeps running"
                )
            if outage.since is None:
                self.log.info("Hopsworks execution %s is %s", execution_id, execution.get("state"))
            time.sleep(self.poke_interval_s)

    def _finish(self, hook: HopsworksHook, execution: dict[str, Any]) -> int:
        execution_id = int(execution.get("id") or self._execution_id or 0)
        if self.copy_logs_enabled:
            self.copy_logs(hook, self.job_name, execution_id)
        state, final_status = execution.get("state"), execution.get("finalStatus")
        if outcome(state, final_status) is Outcome.FAILED:
            message = (
                f"Hopsworks job {self.job_name!r} execution {execution_id} failed: state {state}, "
                f"final status {final_status}"
            )
            if not self.ignore_failure:
                raise AirflowException(message)
            self.log.warning("%s (ignored: ignore_failure=True)", message)
        else:
            self.log.info("Hopsworks execution %s finished: %s / %s", execution_id, state, final_status)
        return execution_id

    def execute_complete(self, context: Any, event: dict[str, Any]) -> int:
        """Resume after the trigger fired."""
        status = event.get("status")
        self._execution_id = event.get("execution_id")
        if status in {"timeout", "error"}:
            raise AirflowException(event.get("message") or f"Hopsworks trigger ended with {status}")
        hook = self._hook = self.make_hook(context)
        execution = {
            "id": event.get("execution_id"),
            "state": event.get("state"),
            "finalStatus": event.get("final_status"),
        }
        return self._finish(hook, execution)

    def on_kill(self) -> None:
        """The task was killed (cleared, marked, timed out): stop the execution it launched."""
        if not (self.cancel_on_kill and self._hook and self._execution_id is not None):
            return
        budget = min(settings.stop_timeout_s(), ON_KILL_BUDGET_S)
        try:
            result = self._hook.stop_until_final(
                self.job_name, self._execution_id, timeout_s=budget, interval_s=min(self.poke_interval_s, 1.0)
            )
            if result.final:
                self.log.info("%s Hopsworks execution %s: %s / %s",
                              "Stopped" if result.asks else "Nothing to stop:", self._execution_id,
                              result.execution.get("state"), result.execution.get("finalStatus"))
            else:
                self.log.warning(
                    "Asked Hopsworks %s time(s) to stop execution %s; after %g s it is still %s (Hopsworks stops a "
                    "run only once it has an application id, and YARN/Kubernetes take a moment). Check it in "
                    "Hopsworks: %s", result.asks, self._execution_id, budget, result.execution.get("state"),
                    self._hook.execution_url(self.job_name),
                )
        except HopsworksError as err:
            if err.error_code == NO_VALID_ROLE:
                self.log.warning(
                    "Hopsworks execution %s keeps running: the connection's API key belongs to a user whose "
                    "platform role (AGENT, Hopsworks' Airflow service user) may not stop executions. Stop it in "
                    "Hopsworks, or use a HOPS_USER key (params={'hw_api_key': ...}) to have it stopped on kill.",
                    self._execution_id,
                )
                return
            self.log.warning("Could not stop Hopsworks execution %s: %s", self._execution_id, err)
