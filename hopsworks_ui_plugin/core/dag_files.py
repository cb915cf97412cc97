"""The DAG-file flows of a Hopsworks project, framework-neutral.

Upload several files all-or-nothing (every file is checked completely before any is written), stage
a file whose name is taken until the user confirms the replacement (re-checked at confirmation:
the confirmation itself is not trusted), delete a file together with its DAG records, and the rows
of the project and file listings. Inputs are plain values (file names, binary streams, the raw
``Content-Disposition`` header, the username and admin flag); outputs are plain dataclasses; refusals
that end the request are :class:`~hopsworks_ui_plugin.errors.PluginError` subclasses. Who may see or
change a project is checked before these run (:func:`hopsworks_ui_plugin.access.project_access`).

The checks and file operations themselves live in :mod:`hopsworks_ui_plugin.dag_files`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from hopsworks_ui_plugin import dag_files
from hopsworks_ui_plugin.access import ProjectRef, audit_scope, visible_projects
from hopsworks_ui_plugin.dag_files import DagFile, DagRecord, ImportErrorRecord, RemovalReport
from hopsworks_ui_plugin.dag_files.owner_scan import static_problems
from hopsworks_ui_plugin.dag_files.records import defined_elsewhere, file_locations
from hopsworks_ui_plugin.errors import Conflict, PluginError
from hopsworks_ui_plugin.formatting import fmt_size
from hopsworks_ui_plugin.hooks.hopsworks import HopsworksHook
from hopsworks_ui_plugin.version_compat import conf_getboolean

NOTHING_SAVED = "Nothing was saved: fix the refused file and upload again."


def folder(project_id: int, project_name: str) -> Path:
    """The project's DAG folder; :class:`Conflict` when its name cannot be a folder name."""
    try:
        return dag_files.project_dir(project_id, project_name)
    except ValueError as err:
        raise Conflict(
            f"{err}. An admin can set [hopsworks] dag_folder_scheme = sha256 in airflow.cfg.",
            title="No DAG folder for this project",
        ) from None


# --- listings ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProjectRow:
    project: ProjectRef
    role: str | None  # None: an admin who is not a member
    count: int | None  # DAG files in its folder; None when the project has no usable folder
    folder: str | None


def project_rows(hook: HopsworksHook, username: str, admin: bool) -> list[ProjectRow]:
    """The projects the user may see, with how many DAG files each holds."""
    rows = []
    for project, role in visible_projects(hook, username, admin):
        try:
            directory = dag_files.project_dir(project.id, project.name)
            count: int | None = len(dag_files.list_files(directory)[0])
            name: str | None = directory.name
        except (ValueError, PluginError):
            count, name = None, None
        rows.append(ProjectRow(project, role, count, name))
    return rows


@dataclass(frozen=True)
class FileRow:
    file: DagFile
    dags: list[DagRecord]
    errors: list[ImportErrorRecord]


@dataclass(frozen=True)
class Listing:
    """A project folder as its page shows it."""

    folder: str
    rows: list[FileRow]
    skipped: int  # entries left out: symlinks, folders, names that are not plain *.py names
    orphans: dict[str, list[DagRecord]]  # DAGs Airflow still records for files that are gone
    max_file_bytes: int
    max_files: int
    paused_at_creation: bool


def listing(directory: Path) -> Listing:
    files, skipped = dag_files.list_files(directory)
    dags = dag_files.dags_by_file(directory)
    errors = dag_files.import_errors_by_file(directory)
    present = {f.name for f in files}
    return Listing(
        folder=directory.name,
        rows=[FileRow(f, dags.get(f.name, []), errors.get(f.name, [])) for f in files],
        skipped=skipped,
        orphans={name: dags[name] for name in sorted(set(dags) - present)},
        max_file_bytes=dag_files.max_file_bytes(),
        max_files=dag_files.max_files_per_upload(),
        paused_at_creation=conf_getboolean("core", "dags_are_paused_at_creation", True),
    )


def parse_status(directory: Path) -> list[FileRow]:
    """The folder's files with their DAG records and import errors (two metadata-DB queries), for the
    page that polls until every file is parsed (has DAGs) or has an import error."""
    return listing(directory).rows


# --- upload, replace -----------------------------------------------------------------------------


@dataclass(frozen=True)
class IncomingFile:
    """One uploaded file: its name as sent, its content, and the raw multipart header (if any)."""

    name: str
    stream: IO[bytes]
    content_disposition: str | None = None


@dataclass
class FileResult:
    """What happened to one uploaded file."""

    name: str
    # valid (checked, not yet written) | written | replaced | confirm | override | skipped | rejected
    outcome: str
    message: str = ""
    status: int = 200
    size: int = 0
    owners: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    token: str = ""  # confirm/override: the staged upload waiting for "replace?" / an admin's override
    overrides: list[str] = field(default_factory=list)  # override: exactly what the admin would override

    @property
    def staged(self) -> str:
        """What a confirmation sends back for this file: ``<token>:<name>``."""
        return f"{self.token}:{self.name}"


@dataclass
class UploadResult:
    """The answer to an upload or a confirmation: an HTTP status, one result per file, and a
    message for the whole request (``error``: nothing or not everything was saved)."""

    status: int
    results: list[FileResult] = field(default_factory=list)
    error: str | None = None
    notice: str | None = None

    @property
    def pending(self) -> list[FileResult]:
        return [r for r in self.results if r.outcome == "confirm"]

    @property
    def overridable(self) -> list[FileResult]:
        """Files an admin uploaded whose owner or DAG ids cannot be read statically or collide: staged
        until the admin confirms the override (or discards them)."""
        return [r for r in self.results if r.outcome == "override"]


def _status(results: list[FileResult]) -> int:
    for result in results:
        if result.outcome == "rejected":
            return result.status
    return 409 if any(r.outcome in ("confirm", "override") for r in results) else 200


def request_too_large(content_length: int | None) -> UploadResult | None:
    """A refusal (413) for an upload request whose declared body is over the cap, before reading it."""
    limit = dag_files.max_upload_request_bytes()
    if content_length is None or content_length <= limit:
        return None
    return UploadResult(
        413,
        error=f"The upload is too large ({fmt_size(content_length)}); at most {dag_files.max_files_per_upload()} "
        f"files of {fmt_size(dag_files.max_file_bytes())} each. Nothing was saved.",
    )


# --- fail closed: what cannot be read statically, DAG ids defined by another file -------------------


def _collision_message(dag_id: str, line: int, files: list[str], directory: Path, admin: bool) -> str:
    from hopsworks_ui_plugin.metadb import location_folder

    described = []
    for f in files:
        gone = "" if Path(f).is_file() else " (that file is gone; an admin can delete the DAG's records)"
        if location_folder(f) == directory.name:
            described.append(f"{Path(f).name} in this project{gone}")
        elif admin:
            described.append(f"{f}{gone}")
        else:
            described.append(f"a file in another project's folder{gone}")
    return (f"DAG id {dag_id!r} (line {line}) is already defined by {', '.join(dict.fromkeys(described))}; "
            "a second file with the same DAG id would take that DAG over. Choose another DAG id.")


def fail_closed_problems(checked: dag_files.CheckedSource, directory: Path, admin: bool,
                         batch: dict[str, str] | None = None) -> list[str]:
    """Why this file may not be uploaded as it is (non-admins are refused, admins may override): its
    owner or a DAG id cannot be read statically, or a DAG id is already defined by another file (in any
    project, per Airflow's metadata DB; or by another file of this upload, ``batch``: DAG id -> file)."""
    problems = static_problems(checked)
    ids = checked.dag_ids.dag_ids
    for dag_id, line in ids.items():
        other = (batch or {}).get(dag_id)
        if other and other != checked.name:
            problems.append(f"DAG id {dag_id!r} (line {line}) is also defined by {other} in this upload.")
    elsewhere = defined_elsewhere(ids, file_locations(directory, checked.name), existing_only=False)
    for dag_id, files in sorted(elsewhere.items()):
        problems.append(_collision_message(dag_id, ids[dag_id], files, directory, admin))
    if batch is not None:
        for dag_id in ids:
            batch.setdefault(dag_id, checked.name)
    return problems


def _refusal(name: str, problems: list[str]) -> str:
    return f"{name} was refused: {' '.join(problems)} Only an Airflow admin can upload it as it is."


def _check(incoming: IncomingFile, seen: set[str], username: str, admin: bool, directory: Path | None = None,
           batch: dict[str, str] | None = None, offer_override: bool = False) -> tuple[FileResult, bytes]:
    """Validate one uploaded file completely (nothing is written here)."""
    name = incoming.name
    problem = dag_files.upload_name_problem(name, incoming.content_disposition)
    if problem:
        return FileResult(name, "rejected", problem, 400), b""
    if name in seen:
        return FileResult(name, "rejected", f"{name} appears twice in this upload.", 400), b""
    seen.add(name)
    try:
        data = dag_files.read_capped(incoming.stream, dag_files.max_file_bytes(), name)
        checked = dag_files.check_source(name, data)
    except PluginError as err:
        return FileResult(name, "rejected", err.message, err.status), b""
    refusal, warnings = dag_files.owner_verdict(checked, username, admin)
    owners = sorted(checked.owners.owners)
    if refusal:
        return FileResult(name, "rejected", refusal, 403, len(data), owners, warnings), b""
    problems = fail_closed_problems(checked, directory, admin, batch) if directory is not None else []
    if problems and not admin:
        return FileResult(name, "rejected", _refusal(name, problems), 403, len(data), owners, warnings), b""
    if problems and not offer_override:
        return FileResult(name, "rejected", f"{name} was not saved: {' '.join(problems)}", 409, len(data), owners,
                          warnings), b""
    if problems:
        result = FileResult(name, "override", f"{name} was not saved yet: as an admin you may override this.", 409,
                            len(data), owners, warnings)
        result.overrides = problems
        return result, data
    return FileResult(name, "valid", "", 200, len(data), owners, warnings), data


def _store(result: FileResult, data: bytes, directory: Path, username: str = "") -> None:
    """Write a validated file, or stage it (as ``username``'s) for confirmation when the name is taken
    or an admin's override is asked for."""
    name = result.name
    if result.outcome == "override":
        try:
            result.token = dag_files.stage(directory, data, username)
        except PluginError as err:  # too many waiting (429)
            result.outcome, result.status, result.message = "rejected", err.status, err.message
            return
        if dag_files.exists(directory, name):
            result.overrides.append(f"{name} already exists and will be replaced.")
        return
    try:
        taken = dag_files.exists(directory, name)
        if not taken:
            dag_files.write_atomic(directory, name, data, replace=False)
    except Conflict:  # created meanwhile, or not a regular file: ask (committing re-checks)
        taken = True
    except PluginError as err:
        result.outcome, result.status, result.message = "rejected", err.status, err.message
        return
    if taken:
        try:
            result.token = dag_files.stage(directory, data, username)
        except PluginError as err:  # too many waiting (429)
            result.outcome, result.status, result.message = "rejected", err.status, err.message
            return
        result.outcome, result.status = "confirm", 409
        result.message = f"{name} already exists. Replace it with the uploaded file?"
    else:
        result.outcome = "written"
        result.message = f"{name} was saved ({fmt_size(len(data))})."
        _audit("hopsworks.upload", username, directory, name, size=len(data))


def upload(directory: Path, files: Sequence[IncomingFile], username: str, admin: bool,
           offer_override: bool = False) -> UploadResult:
    """Check every file, then write them all, or none when one is refused. Files whose name exists
    already are staged and come back as ``confirm`` (status 409). Fail closed: a file whose owner or
    DAG ids cannot be read statically, or that defines a DAG id another file defines, is refused for
    non-admins; an admin's is staged as ``override`` (409) when ``offer_override`` (the page asks them
    to confirm exactly that), else refused too."""
    if not files:
        return UploadResult(400, error="Choose one or more .py files to upload.")
    limit = dag_files.max_files_per_upload()
    if len(files) > limit:
        return UploadResult(413, error=f"Too many files ({len(files)}); at most {limit} per upload. Nothing was saved.")
    seen: set[str] = set()
    batch: dict[str, str] = {}
    checked = [_check(incoming, seen, username, admin, directory, batch, offer_override) for incoming in files]
    results = [result for result, _data in checked]
    if any(r.outcome == "rejected" for r in results):
        # All or nothing: one bad file and nothing of this upload is written.
        for result in results:
            if result.outcome == "valid":
                result.outcome = "skipped"
                result.message = f"{result.name} passed the checks but was not saved, because another file " \
                    "of this upload was refused. Upload it again on its own, or fix the other file."
        return UploadResult(_status(results), results, error=NOTHING_SAVED)
    for result, data in checked:
        _store(result, data, directory, username)
    return UploadResult(_status(results), results)


def replace(directory: Path, staged: Iterable[str], username: str, admin: bool, *, confirm: bool,
            override: bool = False) -> UploadResult:
    """Second step of replacing existing files (or of an admin's override). ``staged``: ``<token>:<name>``
    values from the confirmation; ``confirm=False`` discards them ("keep the existing files").
    ``override``: an admin confirmed the fail-closed problems shown to them (re-checked here)."""
    pairs = [(token, name) for token, _, name in (s.partition(":") for s in staged)]
    if not confirm:
        discard(directory, [token for token, _name in pairs])
        return UploadResult(200, notice="Nothing was replaced.")
    limit = dag_files.max_files_per_upload()
    discard(directory, [token for token, _name in pairs[limit:]])  # over the cap: refused, not kept
    results = []
    for token, name in pairs[:limit]:
        problem = dag_files.name_problem(name)
        if problem:
            discard(directory, [token])
            results.append(FileResult(name, "rejected", problem, 400))
            continue
        try:
            # Everything is checked again: the confirmation itself is not trusted.
            checked = dag_files.check_source(name, dag_files.read_staged(directory, token))
            refusal, warnings = dag_files.owner_verdict(checked, username, admin)
            if refusal:
                discard(directory, [token])
                results.append(FileResult(name, "rejected", refusal, 403))
                continue
            problems = fail_closed_problems(checked, directory, admin)
            if problems and not (admin and override):
                discard(directory, [token])
                message = _refusal(name, problems) if not admin else f"{name} was not saved: {' '.join(problems)}"
                results.append(FileResult(name, "rejected", message, 403 if not admin else 409))
                continue
            if problems:
                warnings = warnings + [f"Overridden by you (an admin): {p}" for p in problems]
            replaced = dag_files.commit_staged(directory, token, name)
        except PluginError as err:  # every refusal removes the staged file: nothing waits for a retry
            discard(directory, [token])
            results.append(FileResult(name, "rejected", err.message, err.status))
            continue
        _audit("hopsworks.replace" if replaced else "hopsworks.upload", username, directory, name, size=checked.size,
               **({"overridden": problems} if problems else {}))
        verb = "replaced" if replaced else "saved"
        results.append(
            FileResult(name, "replaced" if replaced else "written", f"{name} was {verb} ({fmt_size(checked.size)}).",
                       200, checked.size, sorted(checked.owners.owners), warnings)
        )
    return UploadResult(_status(results), results)


# --- one file: view, delete ----------------------------------------------------------------------


@dataclass(frozen=True)
class FileView:
    """A file as its page shows it: at most twice the upload cap of it, decoded leniently."""

    info: DagFile
    lines: list[str]
    decoded: bool  # False: not valid UTF-8 (undecodable bytes replaced)
    truncated_at: int | None  # bytes shown when the file is longer, else None
    dags: list[DagRecord]
    errors: list[ImportErrorRecord]


def view(directory: Path, name: str) -> FileView:
    data = dag_files.read_file(directory, name)
    info = dag_files.file_info(directory, name)
    shown_limit = 2 * dag_files.max_file_bytes()
    truncated = len(data) > shown_limit
    data = data[:shown_limit]
    try:
        text, decoded = data.decode("utf-8"), True
    except UnicodeDecodeError:  # a cut in the middle of a character is not the file's fault
        text, decoded = data.decode("utf-8", errors="replace"), truncated
    return FileView(info, text.splitlines() or [""], decoded, shown_limit if truncated else None,
                    dag_files.dag_records(directory, name), dag_files.import_errors(directory, name))


def download(directory: Path, name: str) -> bytes:
    """The file's bytes. ``name`` passed the allow-list (ASCII letters, digits, ``_ . -``), so it
    is safe in a ``Content-Disposition`` header as it is."""
    return dag_files.read_file(directory, name)


@dataclass(frozen=True)
class DeletePreview:
    info: DagFile
    dags: list[DagRecord]  # pausing and removing these comes with deleting the file


def delete_preview(directory: Path, name: str) -> DeletePreview:
    return DeletePreview(dag_files.file_info(directory, name), dag_files.dag_records(directory, name))


def delete(directory: Path, name: str, dag_ids: Iterable[str] | None = None, username: str = "") -> RemovalReport:
    """Remove the file, then pause and remove its DAGs' records and its import errors."""
    if dag_ids is None:
        dag_ids = [d.dag_id for d in dag_files.dag_records(directory, name)]
    dag_ids = list(dag_ids)
    dag_files.delete_file(directory, name)
    _audit("hopsworks.delete", username, directory, name, dags=sorted(dag_ids) or None)
    return dag_files.remove_dag_records(directory, name, dag_ids)


# --- the audit trail, staged leftovers -----------------------------------------------------------


def _audit(event: str, username: str, directory: Path, name: str, **extra: object) -> None:
    """The action's entry in Airflow's event log (:func:`hopsworks_ui_plugin.metadb.audit`): the project
    folder (the project's name, or its sha256 folder name), the file."""
    from hopsworks_ui_plugin import metadb

    metadb.audit(event, username, dag_id=audit_scope(directory.name),
                 extra={"project_folder": directory.name, "file": name, **extra})


def discard(directory: Path, tokens: Iterable[str]) -> None:
    """Remove these staged uploads (malformed or already gone ones are skipped)."""
    for token in tokens:
        try:
            dag_files.discard_staged(directory, token)
        except PluginError:
            continue

