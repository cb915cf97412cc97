"""What the Hopsworks operator and sensors share: building the hook, the owner check, XCom keys."""

from __future__ import annotations

import os
import sys
import time
from types import FrameType
from typing import Any

from hopsworks_ui_plugin.access import (
    SharedKeyOutOfScope,
    TaskOwnerNotMember,
    check_shared_key_scope,
    check_task_owner,
)
from hopsworks_ui_plugin.hooks.hopsworks import (
    HOPSWORKS_LOG_LIMIT_BYTES,
    NO_VALID_ROLE,
    HopsworksError,
    HopsworksHook,
)
from hopsworks_ui_plugin.links import (
    EXECUTION_ID_XCOM_KEY,
    EXECUTION_PAGE_XCOM_KEY,
    EXECUTION_URL_XCOM_KEY,
    HopsworksExecutionLink,
    execution_page_url,
)
from hopsworks_ui_plugin.version_compat import AirflowException, operator_link_xcom_key

LOG_COPY_LIMIT = 1024 * 1024
#: The launch operator's record of the execution it launched, in Airflow's ``task_state_store``
#: (Airflow >= 3.3), which outlives a try. (XCom does not: Airflow deletes a task's XComs when a new
#: try starts, before ``execute`` runs, so a retry cannot read the previous try's execution id there.)
LAUNCH_STATE_KEY = "hopsworks_launch"


class Outage:
    """One Hopsworks outage during a wait: one warning when polls start failing, one line when
    Hopsworks answers again (not one per poll)."""

    def __init__(self, log: Any, what: str) -> None:
        self.log = log
        self.what = what
        self.since: float | None = None

    def failed(self, err: HopsworksError) -> None:
        if self.since is None:
            self.since = time.monotonic()
            self.log.warning(
                "Hopsworks did not answer while waiting for %s (%s); still waiting, asking again until the "
                "wait times out.", self.what, err,
            )

    def answered(self) -> None:
        if self.since is not None:
            self.log.info("Hopsworks answers again after %.1f s without an answer.", time.monotonic() - self.since)
            self.since = None

    def note(self) -> str:
        """For a timeout message: how long Hopsworks has not been answering, if it is not."""
        if self.since is None:
            return ""
        return f"; Hopsworks has not answered for the last {time.monotonic() - self.since:.0f} s"


def first_try_of_this_run(ti: Any, retries: int) -> int:
    """The try number that started the task's current series of retries.

    Clearing a task starts a new series (Airflow sets ``max_tries = try_number + retries``); the
    series' first try is ``max_tries - retries + 1``, as Airflow's own task runner computes it.
    """
    max_tries = getattr(ti, "max_tries", None)
    if max_tries is None:
        return 1
    return max(1, int(max_tries) - int(retries or 0) + 1)


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
            dag_file, how_found = loaded_dag_file(self)
            try:
                check_shared_key_scope(
                    dag_file, project_id, project_name, lambda folder: _is_project_folder(hook, folder), how_found
                )
                check_task_owner(hook, self.owner, project_id, project_name)
            except (SharedKeyOutOfScope, TaskOwnerNotMember) as err:
                raise AirflowException(str(err)) from None
        return hook

    @staticmethod
    def publish_execution(context: Any, hook: HopsworksHook, job_name: str, execution_id: int) -> str:
        """Push the execution id, its Hopsworks URL (the job's executions; returned) and the plugin's
        page of this one execution (the "Hopsworks execution" extra link) to XCom before any waiting,
        so the link works even while the task runs or after it fails."""
        url = hook.execution_url(job_name)
        page = execution_page_url(hook._pid(None), job_name, execution_id)  # this one execution
        ti = context["ti"]
        ti.xcom_push(key=EXECUTION_ID_XCOM_KEY, value=execution_id)
        ti.xcom_push(key=EXECUTION_URL_XCOM_KEY, value=url)
        ti.xcom_push(key=EXECUTION_PAGE_XCOM_KEY, value=page)
        link_key = operator_link_xcom_key(HopsworksExecutionLink())
        if link_key:  # Airflow 3's UI reads the link from XCom; Airflow 2 calls get_link
            ti.xcom_push(key=link_key, value=page)
        return url

    def previous_launch(self, context: Any) -> int | None:
        """The execution an earlier try of this task instance launched, if this try is a retry of it.

        Read from Airflow's ``task_state_store`` (see :data:`LAUNCH_STATE_KEY`). Only a try of the same
        series counts: after a user clears the task (a new series), the task launches anew, as a re-run
        should. Without a task_state_store (Airflow < 3.3) a retry cannot know; it says so and launches.
        """
        ti = context.get("ti")
        try_number = int(getattr(ti, "try_number", 1) or 1)
        store = context.get("task_state_store")
        if store is None:
            if try_number > 1:
                self.log.warning(
                    "Try %s cannot look for the Hopsworks execution an earlier try launched: this Airflow has no "
                    "task_state_store (Airflow 3.3+), and Airflow deletes a task's XComs when a retry starts. "
                    "Launching the job again.", try_number,
                )
            return None
        record = store.get(LAUNCH_STATE_KEY)
        if not isinstance(record, dict) or record.get("execution_id") is None:
            return None
        launched_by = int(record.get("try_number") or 0)
        if not first_try_of_this_run(ti, getattr(self, "retries", 0)) <= launched_by < try_number:
            return None
        return int(record["execution_id"])

    def remember_launch(self, context: Any, execution_id: int) -> None:
        """Record the launched execution for this task's retries (before any waiting)."""
        store = context.get("task_state_store")
        if store is not None:
            ti = context.get("ti")
            store.set(LAUNCH_STATE_KEY, {"execution_id": int(execution_id),
                                         "try_number": int(getattr(ti, "try_number", 1) or 1)})

    def copy_logs(self, hook: HopsworksHook, job_name: str, execution_id: int) -> None:
        """Copy the final execution's stdout/stderr into the task log (capped).

        A key whose platform role may not read logs (AGENT, Hopsworks' Airflow service user) gets one
        warning, and the task goes on."""
        for kind, title in (("out", "stdout"), ("err", "stderr")):
            try:
                got = hook.get_execution_log_info(job_name, execution_id, kind)
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
            if got.too_big:
                self.log.warning(
                    "Not copying the %s of Hopsworks execution %s into this task's log: it is over %s bytes, and "
                    "Hopsworks serves logs that big only as a file. The full log is %s in project %s's datasets: "
                    "download it in Hopsworks (%s).",
                    title, execution_id, f"{HOPSWORKS_LOG_LIMIT_BYTES:,}", got.path or "(path not given)",
                    self.project_name or self.project_id, hook.execution_url(job_name),
                )
                continue
            text = got.text
            if not text:
                continue
            cut = len(text) > LOG_COPY_LIMIT
            shown = text[:LOG_COPY_LIMIT]
            note = f" (first {LOG_COPY_LIMIT} of {len(text)} characters)" if cut else ""
            self.log.info(
                "----- Hopsworks %s of execution %s%s -----\n%s\n----- end of %s -----",
                title, execution_id, note, shown, title,
            )


# --- which file did the runtime load this task's DAG from ----------------------------------------
#
# Not ``dag.fileloc``/``relative_fileloc`` (DAG code can assign them, or fake its module's
# ``__file__``, which is where Airflow's importer takes them from), not the owner or dag_id.

def _frames() -> list[FrameType]:
    frame: FrameType | None = sys._getframe(1)
    frames = []
    while frame is not None:
        frames.append(frame)
        frame = frame.f_back
    return frames


def _frame_running(frames: list[FrameType], function: str, module_file: str) -> FrameType | None:
    """The innermost of ``frames`` running ``function`` of the module loaded from ``module_file``."""
    path = os.path.realpath(module_file)
    for frame in frames:
        if frame.f_code.co_name == function and os.path.realpath(frame.f_code.co_filename) == path:
            return frame
    return None


def _worker_dag_file(frames: list[FrameType]) -> tuple[str, str] | None:
    """Airflow 3 worker: the ``StartupDetails`` the supervisor sent this task process (held by the task
    runner's ``main()`` while the task runs) name the bundle and the relative path the runner parsed
    (``task_runner.parse``: ``Path(bundle_instance.path, what.dag_rel_path)``)."""
    try:
        from airflow.sdk.execution_time import task_runner
        from airflow.sdk.execution_time.comms import StartupDetails
    except ImportError:  # Airflow 2
        return None
    frame = _frame_running(frames, "main", task_runner.__file__)
    if frame is None:
        return None
    details = frame.f_locals.get("startup_details")
    bundle = getattr(frame.f_locals.get("ti"), "bundle_instance", None)
    if not isinstance(details, StartupDetails) or bundle is None:
        return None
    path = os.path.join(os.fspath(bundle.path), os.fspath(details.dag_rel_path))
    return path, f"loaded by the Airflow worker from bundle {details.bundle_info.name!r}"


def _dag_test_file(frames: list[FrameType], task: Any) -> tuple[str, str] | None:
    """``dag.test()`` runs tasks in the caller's process on the DAG object it already has: the file is
    the one the Python module holding that DAG object was loaded from (its import spec's origin)."""
    try:
        from airflow.sdk.definitions import dag as dag_module
    except ImportError:  # Airflow 2
        return None
    frame = _frame_running(frames, "test", dag_module.__file__)
    dag = frame.f_locals.get("self") if frame is not None else None
    if dag is None or getattr(task, "dag", None) is not dag:
        return None
    for module in list(sys.modules.values()):
        try:
            holds = any(value is dag for value in vars(module).values())
        except TypeError:
            continue
        spec = getattr(module, "__spec__", None)
        origin = getattr(spec, "origin", None) if spec is not None else None
        if not origin and getattr(module, "__name__", None) == "__main__":
            origin = getattr(module, "__file__", None)
        if holds and origin and str(origin).endswith(".py"):
            return str(origin), "loaded by the Python module that dag.test() ran it from"
    return None


def loaded_dag_file(task: Any) -> tuple[str | None, str]:
    """``(path, how it was found)`` of the DAG file this task's DAG was loaded from, or ``(None, why)``.

    Airflow 3 worker: the path the task runner parsed (from the supervisor's startup message).
    ``dag.test()``: the file of the module that holds the DAG object. Anything else (a direct
    ``execute()``, Airflow 2's task runner) is unknown, which the scope rule treats as outside every
    project folder. DAG code is not sandboxed: code that rewrites the runtime's own objects could fool
    this; it protects against what DAG *definitions* say (owner, dag_id, default_args, fileloc,
    ``__file__``), not against code that could read the shared key itself (see the README's security model).
    """
    frames = _frames()
    found = _worker_dag_file(frames) or _dag_test_file(frames, task)
    if found:
        return found
    return None, "not run by an Airflow 3 worker or dag.test()"


def _is_project_folder(hook: HopsworksHook, folder: str) -> bool:
    """Whether a subfolder of the DAGs folder is some project's folder (fail closed: True if unsure).

    ``name`` scheme: a project of that name exists (``getProjectInfo``, any key). ``sha256``: a
    64-hex name is assumed to be one (an id cannot be recovered from its hash)."""
    from hopsworks_ui_plugin import settings

    if settings.dag_folder_scheme() == "sha256":
        return len(folder) == 64 and all(c in "0123456789abcdef" for c in folder)
    try:
        hook.get_project_info(folder)
    except HopsworksError as err:
        return err.http_status != 404
    return True
