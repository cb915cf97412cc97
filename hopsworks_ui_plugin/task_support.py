"""What the Hopsworks operator and sensors share: building the hook, the owner check, XCom keys."""

from __future__ import annotations

from typing import Any

from hopsworks_ui_plugin.access import TaskOwnerNotMember, check_task_owner
from hopsworks_ui_plugin.hooks.hopsworks import NO_VALID_ROLE, HopsworksError, HopsworksHook
from hopsworks_ui_plugin.links import EXECUTION_ID_XCOM_KEY, EXECUTION_URL_XCOM_KEY, HopsworksExecutionLink
from hopsworks_ui_plugin.version_compat import AirflowException, operator_link_xcom_key

LOG_COPY_LIMIT = 1024 * 1024


class HopsworksTaskMixin:
    """Mixed into BaseOperator subclasses that have ``project_id``, ``project_name``, ``job_name``,
    ``hopsworks_conn_id``, ``owner`` and ``params``."""

    project_id: int | None
    project_name: str | None
    job_name: str
    hopsworks_conn_id: str
    owner: str
    log: Any

    def _api_key_from_params(self, context: Any) -> str | None:
        params = (context or {}).get("params") or getattr(self, "params", None) or {}
        try:
            key = params.get("hw_api_key")
        except AttributeError:
            key = None
        return str(key) if key else None

    def make_hook(self, context: Any) -> HopsworksHook:
        """The hook for this task, its project resolved, its owner checked.

        A task that brings its own key (legacy ``params={'hw_api_key': ...}``) is checked by
        Hopsworks itself; a task that uses the shared connection's key must have an owner who is a
        member of the target project.
        """
        own_key = self._api_key_from_params(context)
        hook = HopsworksHook(
            self.hopsworks_conn_id,
            project_id=self.project_id,
            project_name=self.project_name,
            owner=self.owner,
            hw_api_key=own_key,
        )
        if self.project_id is None and not self.project_name:
            raise AirflowException("Pass project_id or project_name to the Hopsworks task")
        project_id, project_name = hook.resolve_project(self.job_name)
        if not own_key:
            try:
                check_task_owner(hook, self.owner, project_id, project_name)
            except TaskOwnerNotMember as err:
                raise AirflowException(str(err)) from None
        return hook

    @staticmethod
    def publish_execution(context: Any, hook: HopsworksHook, job_name: str, execution_id: int) -> str:
        """Push the execution id and its Hopsworks URL to XCom before any waiting, so the extra
        link works even while the task runs or after it fails."""
        url = hook.execution_url(job_name)
        ti = context["ti"]
        ti.xcom_push(key=EXECUTION_ID_XCOM_KEY, value=execution_id)
        ti.xcom_push(key=EXECUTION_URL_XCOM_KEY, value=url)
        link_key = operator_link_xcom_key(HopsworksExecutionLink())
        if link_key:  # Airflow 3's UI reads the link from XCom; Airflow 2 calls get_link
            ti.xcom_push(key=link_key, value=url)
        return url

    def copy_logs(self, hook: HopsworksHook, job_name: str, execution_id: int) -> None:
        """Copy the final execution's stdout/stderr into the task log (capped).

        A key whose platform role may not read logs (AGENT, Hopsworks' Airflow service user) gets one
        warning, and the task goes on."""
        for kind, title in (("out", "stdout"), ("err", "stderr")):
            try:
                text = hook.get_execution_log(job_name, execution_id, kind)
            except HopsworksError as err:
                if err.error_code == NO_VALID_ROLE:
                    self.log.warning(
                        "Not copying the logs of Hopsworks execution %s into this task's log: the connection's "
                        "API key belongs to a user whose platform role (AGENT, Hopsworks' Airflow service user) "
                        "may not read job logs. Read them in Hopsworks (%s), or use a HOPS_USER key "
                        "(params={'hw_api_key': ...}) to have them copied here.",
                        execution_id, hook.execution_url(job_name),
                    )
                    return
                self.log.warning("Could not fetch Hopsworks %s of execution %s: %s", title, execution_id, err)
                continue
            if not text:
                continue
            cut = len(text) > LOG_COPY_LIMIT
            shown = text[:LOG_COPY_LIMIT]
            note = f" (first {LOG_COPY_LIMIT} of {len(text)} characters)" if cut else ""
            self.log.info(
                "----- Hopsworks %s of execution %s%s -----\n%s\n----- end of %s -----",
                title, execution_id, note, shown, title,
            )
