"""Editing one project DAG file in the browser, framework-neutral.

Opening reads the file and its content hash. Saving goes through exactly the upload's flow
(:func:`hopsworks_ui_plugin.core.dag_files.upload` and the staged, re-checked, atomic
:func:`~hopsworks_ui_plugin.core.dag_files.replace`): size, UTF-8, syntax and owner checks are the
upload's, not repeated here. No lost update: the form carries the hash of the content it was opened
with, and a save over a file that changed since is refused (:class:`StaleEdit`, 409) with a unified
diff of the current file against the user's version, before anything is written (checked again right
before the staged replacement is committed).
"""

from __future__ import annotations

import difflib
import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path

from hopsworks_ui_plugin import dag_files
from hopsworks_ui_plugin.core import dag_files as flows
from hopsworks_ui_plugin.errors import BadInput, Conflict, PluginError

TITLE = "DAG file not saved"
#: Diffs longer than this many lines are cut (the page says so).
DIFF_MAX_LINES = 2000


def content_hash(data: bytes) -> str:
    """What the editor form carries to detect a change since it was opened (sha256 of the bytes)."""
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Opened:
    name: str
    text: str
    content_hash: str
    size: int


def open_file(directory: Path, name: str) -> Opened:
    """The file as the editor shows it. A file that could never be saved back unchanged (not UTF-8, over
    the upload's size cap) is refused (409) with the reason: download it instead."""
    data = dag_files.read_file(directory, name)
    if len(data) > dag_files.max_file_bytes():
        raise Conflict(f"{name} is larger than the {dag_files.max_file_bytes():,}-byte limit of DAG files, so it "
                       "cannot be edited here. Download it, shorten it and upload it.", title="Cannot edit this file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise Conflict(f"{name} is not UTF-8 text, so it cannot be edited here. Download it and fix the encoding.",
                       title="Cannot edit this file") from None
    return Opened(name, text, content_hash(data), len(data))


class StaleEdit(Conflict):
    """The file changed since the editor was opened: nothing was written. ``diff``: unified diff of the
    current file (``current_hash``) against the user's version."""

    def __init__(self, name: str, diff: list[str], current_hash: str, truncated: bool) -> None:
        super().__init__(
            f"Nothing was saved: {name} was changed by someone else since you opened it. Their version is "
            "below, compared with yours; your text is still in the editor.",
            title="The file changed since you opened it",
        )
        self.diff = diff
        self.current_hash = current_hash
        self.truncated = truncated


class RefusedEdit(PluginError):
    """The upload's checks refused the user's text (``status`` as the upload's); ``line``: where a
    Python syntax error is (1-based), else None."""

    def __init__(self, message: str, status: int, line: int | None) -> None:
        super().__init__(message, status=status, title=TITLE)
        self.line = line


@dataclass(frozen=True)
class Saved:
    name: str
    message: str
    text: str  # what the file now holds (line ends as stored)
    content_hash: str
    warnings: list[str] = field(default_factory=list)
    changed: bool = True


def _stale(name: str, current: bytes, mine: bytes) -> StaleEdit:
    diff = list(difflib.unified_diff(
        current.decode("utf-8", errors="replace").splitlines(),
        mine.decode("utf-8", errors="replace").splitlines(),
        fromfile=f"{name} (current, saved by someone else)", tofile=f"{name} (yours)", lineterm="",
    ))
    return StaleEdit(name, diff[:DIFF_MAX_LINES], content_hash(current), len(diff) > DIFF_MAX_LINES)


def syntax_error_line(data: bytes) -> int | None:
    """Where Python's compiler stops on ``data`` (to point at the line the upload's check refused)."""
    try:
        compile(data, "<dag file>", "exec", dont_inherit=True)
    except SyntaxError as err:
        return err.lineno
    except (ValueError, RecursionError, MemoryError):
        return None
    return None


def _refused(outcome: flows.UploadResult, data: bytes) -> RefusedEdit:
    result = next((r for r in outcome.results if r.outcome == "rejected"), None)
    message = result.message if result is not None else (outcome.error or "The file was refused.")
    status = result.status if result is not None else outcome.status
    line = syntax_error_line(data) if status == 400 else None
    return RefusedEdit(f"Nothing was saved: {message}", status, line)


def _current(directory: Path, name: str) -> bytes | None:
    try:
        return dag_files.read_file(directory, name)
    except PluginError as err:
        if err.status == 404:
            return None
        raise


def save(directory: Path, name: str, text: str, expected_hash: str, username: str, admin: bool) -> Saved:
    """Replace ``name`` with ``text`` if the file is still the version the editor opened (``expected_hash``).

    Raises :class:`StaleEdit` (409, nothing written) when it changed or was deleted meanwhile,
    :class:`RefusedEdit` when the upload's checks refuse the text, other :class:`PluginError` for a bad name.
    """
    dag_files.check_name(name)
    if not expected_hash:
        raise BadInput("The form did not say which version of the file it was opened with; open the file again.",
                       title=TITLE)
    current = _current(directory, name)
    if current is None:
        raise Conflict(f"Nothing was saved: {name} was deleted since you opened it. Your text is still in the "
                       "editor: copy it and upload it as a new file if you want to keep it.", title="The file is gone")
    if b"\r\n" not in current:  # browsers send a textarea's lines with CRLF; keep the file's own line ends
        text = text.replace("\r\n", "\n")
    data = text.encode("utf-8")
    if content_hash(current) != expected_hash:
        raise _stale(name, current, data)
    if data == current:
        return Saved(name, f"{name} has no changes; nothing was written.", text, expected_hash, changed=False)
    outcome = flows.upload(directory, [flows.IncomingFile(name, io.BytesIO(data))], username, admin)
    message = f"{name} was saved; Airflow picks up the change on its next scan of the DAGs folder."
    written = next((r for r in outcome.results if r.outcome == "written"), None)
    if written is not None:  # deleted in the instant since the check: the user's version is written anew
        return Saved(name, message, text, content_hash(data), written.warnings)
    if not outcome.pending:
        raise _refused(outcome, data)
    staged = [r.staged for r in outcome.pending]
    latest = _current(directory, name)  # again, right before the staged replacement is committed
    if latest is None or content_hash(latest) != expected_hash:
        flows.replace(directory, staged, username, admin, confirm=False)
        if latest is None:
            raise Conflict(f"Nothing was saved: {name} was deleted while you saved.", title="The file is gone")
        raise _stale(name, latest, data)
    done = flows.replace(directory, staged, username, admin, confirm=True)
    result = done.results[0] if done.results else None
    if result is None or result.outcome not in ("replaced", "written"):
        raise _refused(done, data)
    return Saved(name, message, text, content_hash(data), result.warnings)
