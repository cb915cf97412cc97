"""The DAG builder's flows, framework-neutral: check and preview a DAG, create its file, open a file
in the builder (or say why it opens in the editor), save changes without losing anyone's update.

Saving goes through exactly the upload's path (:func:`hopsworks_ui_plugin.core.dag_files.upload`,
then :func:`~hopsworks_ui_plugin.core.dag_files.replace` for an existing file): the same name, size,
UTF-8, syntax and owner checks and the same atomic write, re-checked at the replacement. Who may use
the builder in a project is checked before these run (``project_member(operate=...)``).
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from hopsworks_ui_plugin import dag_files
from hopsworks_ui_plugin.access import ProjectAccess
from hopsworks_ui_plugin.core import dag_files as flows
from hopsworks_ui_plugin.dag_builder import codegen, parse, validate
from hopsworks_ui_plugin.dag_builder.model import RUN_JOB, WAIT_JOB, DagSpec, SpecError, TaskSpec
from hopsworks_ui_plugin.dag_builder.validate import Problem, SchedulePreview
from hopsworks_ui_plugin.errors import BadInput, Conflict, HopsworksError, PluginError
from hopsworks_ui_plugin.hooks.hopsworks import HopsworksHook

TITLE = "DAG builder"
#: Largest spec the form may send (a hundred tasks with long arguments fit easily).
MAX_SPEC_BYTES = 512 * 1024


def content_hash(data: bytes) -> str:
    """What the form sends back to prove which version of the file it changed."""
    return hashlib.sha256(data).hexdigest()


def file_name(dag_id: str) -> str:
    return f"{dag_id}.py"


# --- the spec from a form --------------------------------------------------------------------------


def blank_spec(grant: ProjectAccess, username: str) -> DagSpec:
    """A new DAG of the project: manual schedule, one empty "run a job" task."""
    return DagSpec(dag_id="", project=grant.project.name, owner=username, tags=[grant.project.name],
                   tasks=[TaskSpec(name="", kind=RUN_JOB)])


def spec_from_form(raw: str | bytes | None, grant: ProjectAccess, username: str, admin: bool,
                   previous_owner: str | None = None) -> DagSpec:
    """The spec the form sent (JSON), with the project and owner the server decides: the project
    whose page this is; the user saving it (an admin changing a DAG keeps its owner)."""
    if not raw:
        raise BadInput("The form sent no DAG; reload the page and try again.", title=TITLE)
    if len(raw) > MAX_SPEC_BYTES:
        raise BadInput("The DAG description is too large.", title=TITLE, status=413)
    try:
        data = json.loads(raw)
    except json.JSONDecodeError:
        raise BadInput("The form sent a DAG that is not valid JSON; reload the page and try again.",
                       title=TITLE) from None
    return spec_from_data(data, grant, username, admin, previous_owner)


def spec_from_data(data: Any, grant: ProjectAccess, username: str, admin: bool,
                   previous_owner: str | None = None) -> DagSpec:
    """:func:`spec_from_form` for data already decoded from JSON."""
    try:
        spec = DagSpec.from_dict(data)
    except SpecError as err:
        raise BadInput(str(err), title=TITLE) from None
    owner = previous_owner if admin and previous_owner else username
    return replace(spec, project=grant.project.name, owner=owner)


# --- checks ----------------------------------------------------------------------------------------


@dataclass
class Check:
    """What the form shows: the problems by field, when it would run, and the code (when it has no problems)."""

    problems: list[Problem]
    schedule: SchedulePreview
    code: str | None = None
    edges: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "problems": [p.to_dict() for p in self.problems],
                "schedule": self.schedule.to_dict(), "code": self.code,
                "edges": [list(e) for e in self.edges]}


def live_check(spec: DagSpec) -> Check:
    """The checks that need nothing but the spec (names, cron and its next runs, cycles): cheap
    enough to run as the user types."""
    return Check(validate.check(spec), validate.schedule_preview(spec.schedule, spec.start_date, spec.catchup),
                 edges=spec.edges())


def _job_problems(hook: HopsworksHook, grant: ProjectAccess, spec: DagSpec) -> list[Problem]:
    """A problem for each task naming a job the project does not have (one request per job name)."""
    problems: list[Problem] = []
    missing: dict[str, bool] = {}
    for n, task in enumerate(spec.tasks, start=1):
        if task.kind not in (RUN_JOB, WAIT_JOB) or not task.job:
            continue
        if task.job not in missing:
            try:
                hook.get_job(task.job, grant.project.id)
                missing[task.job] = False
            except HopsworksError as err:
                if err.http_status != 404:
                    raise
                missing[task.job] = True
        if missing[task.job]:
            problems.append(Problem(f"task.{n}.job", f"Task {n} ({task.name}): project {grant.project.name} has no "
                                                     f"job {task.job[:80]!r}."))
    return problems


def _connection_problem(spec: DagSpec) -> Problem | None:
    try:
        HopsworksHook.get_connection(spec.conn_id)
    except Exception:  # Airflow's "not defined" differs between versions; any failure means unusable
        return Problem("conn_id", f"There is no Airflow connection {spec.conn_id!r}; the tasks could not call "
                                  "Hopsworks. Ask an admin which connection to use.")
    return None


def full_check(hook: HopsworksHook, grant: ProjectAccess, directory: Path, spec: DagSpec,
               own_file: str | None = None) -> Check:
    """Everything checked before a save: :func:`live_check`, the DAG id unused in Airflow and in
    the project's files, the file name free (new DAGs), the jobs in the project, the connection;
    then the code. ``own_file``: the file being changed (its own DAG id is not "in use")."""
    check = live_check(spec)
    if not any(p.field == "dag_id" for p in check.problems):
        taken = validate.dag_id_taken(spec.dag_id, directory, own_file)
        if taken:
            check.problems.append(Problem("dag_id", taken))
        elif own_file is None and dag_files.exists(directory, file_name(spec.dag_id)):
            check.problems.append(Problem("dag_id", f"This project already has a file {file_name(spec.dag_id)}; "
                                                    "choose another DAG id."))
    connection = _connection_problem(spec)
    if connection:
        check.problems.append(connection)
    check.problems += _job_problems(hook, grant, spec)
    if check.ok:
        check.code = codegen.generate(spec)
    return check


# --- save ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Saved:
    name: str
    message: str
    warnings: list[str]
    content_hash: str


def _refused(check: Check) -> BadInput:
    listed = " ".join(p.message for p in check.problems[:5])
    more = f" (and {len(check.problems) - 5} more)" if len(check.problems) > 5 else ""
    return BadInput(f"Nothing was saved: {listed}{more}", title=TITLE)


def _outcome_error(outcome: flows.UploadResult) -> PluginError:
    result = next((r for r in outcome.results if r.outcome == "rejected"), None)
    if result is not None:
        return PluginError(f"Nothing was saved: {result.message}", status=result.status, title=TITLE)
    return PluginError(f"Nothing was saved: {outcome.error or 'the file was refused.'}", status=outcome.status,
                       title=TITLE)


def create(hook: HopsworksHook, grant: ProjectAccess, directory: Path, spec: DagSpec, username: str,
           admin: bool) -> Saved:
    """Write a new DAG file ``<dag_id>.py`` through the upload path; never replaces a file."""
    check = full_check(hook, grant, directory, spec)
    if not check.ok or check.code is None:
        raise _refused(check)
    name, data = file_name(spec.dag_id), check.code.encode("utf-8")
    outcome = flows.upload(directory, [flows.IncomingFile(name, io.BytesIO(data))], username, admin)
    if outcome.pending:  # created by someone else since the check: keep theirs
        flows.replace(directory, [r.staged for r in outcome.pending], username, admin, confirm=False)
        raise Conflict(f"Nothing was saved: {name} was created meanwhile by someone else; choose another DAG id.",
                       title=TITLE)
    written = next((r for r in outcome.results if r.outcome == "written"), None)
    if outcome.status != 200 or written is None:
        raise _outcome_error(outcome)
    return Saved(name, f"{name} was saved; Airflow picks it up on its next scan of the DAGs folder.",
                 written.warnings, content_hash(data))


@dataclass(frozen=True)
class Opened:
    """A file as the builder opens it: its spec, or why it opens in the editor instead."""

    name: str
    content_hash: str
    spec: DagSpec | None
    reason: str | None


def open_file(directory: Path, project_name: str, name: str) -> Opened:
    data = dag_files.read_file(directory, name)
    parsed = parse.parse(data, project_name)
    return Opened(name, content_hash(data), parsed.spec, parsed.reason)


def builder_made(directory: Path, name: str) -> bool:
    """Whether the file carries the builder's block (reads its first kilobyte; False when unreadable)."""
    try:
        return parse.looks_builder_made(dag_files.read_file(directory, name)[: parse.MARKER_WINDOW])
    except PluginError:
        return False


def _changed_since(directory: Path, name: str, expected_hash: str) -> Conflict | None:
    if content_hash(dag_files.read_file(directory, name)) == expected_hash:
        return None
    return Conflict(f"Nothing was saved: {name} was changed by someone else since you opened it. Open it again "
                    "to see the current version, then make your change there.", title="The file changed")


def save(hook: HopsworksHook, grant: ProjectAccess, directory: Path, name: str, spec: DagSpec,
         expected_hash: str, username: str, admin: bool) -> Saved:
    """Replace builder-made file ``name`` with ``spec``'s code: refused (409) when the file is no longer
    the version the form was opened on; otherwise the upload's checks and its staged, re-checked,
    atomic replacement."""
    dag_files.check_name(name)
    conflict = _changed_since(directory, name, expected_hash)
    if conflict:
        raise conflict
    check = full_check(hook, grant, directory, spec, own_file=name)
    if not check.ok or check.code is None:
        raise _refused(check)
    data = check.code.encode("utf-8")
    message = f"{name} was saved; Airflow picks up the change on its next scan of the DAGs folder."
    outcome = flows.upload(directory, [flows.IncomingFile(name, io.BytesIO(data))], username, admin)
    written = next((r for r in outcome.results if r.outcome == "written"), None)
    if written is not None:  # deleted since the check: written anew
        return Saved(name, message, written.warnings, content_hash(data))
    if not outcome.pending:
        raise _outcome_error(outcome)
    staged = [r.staged for r in outcome.pending]
    conflict = _changed_since(directory, name, expected_hash)  # again, right before the replacement
    if conflict:
        flows.replace(directory, staged, username, admin, confirm=False)
        raise conflict
    done = flows.replace(directory, staged, username, admin, confirm=True)
    result = done.results[0] if done.results else None
    if result is None or result.outcome not in ("replaced", "written"):
        raise _outcome_error(done)
    return Saved(name, message, result.warnings, content_hash(data))
