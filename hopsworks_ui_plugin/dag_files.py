"""Project-scoped DAG files: where a project's DAG files live inside Airflow's DAGs folder, and
every operation on them.

All file handling has this one home: the folder scheme, file-name validation, the size cap, the
UTF-8 / syntax / owner checks (static, nothing is executed), atomic writes, listing, reading and
deleting (never following a symbolic link), and the metadata-DB side (the DAGs and import errors
Airflow recorded for a file; pausing and removing a deleted file's DAGs).

Configuration, ``[hopsworks]`` section of airflow.cfg:

* ``dag_folder_scheme`` – ``name`` (default): ``<dags_folder>/<project name>/``;
  ``sha256``: ``<dags_folder>/<sha256 hex of str(project id)>/`` (Hopsworks' legacy layout).
* ``max_dag_file_bytes`` – largest accepted DAG file (default 1 MiB).
* ``max_dag_files_per_upload`` – files in one upload (default 20).
"""

from __future__ import annotations

import ast
import functools
import hashlib
import logging
import os
import re
import secrets
import stat
import time
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

from hopsworks_ui_plugin.version_compat import conf_get, conf_getint

log = logging.getLogger(__name__)

#: ``name``: ``<dags_folder>/<project name>/`` (default, readable);
#: ``sha256``: ``<dags_folder>/<sha256 hex of the project id>/`` (Hopsworks' legacy layout).
FOLDER_SCHEMES = ("name", "sha256")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")

#: A DAG file name: ASCII letters, digits, ``_``, ``-`` and ``.``, not starting with a dot or a
#: dash, ending in ``.py``. An allow-list, so path separators (``/``, ``\``, U+2215, U+FF0F …),
#: ``%``-encoded forms, control characters, spaces and look-alike dots can never get through.
_DAG_FILE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*\.py$")
MAX_NAME_LENGTH = 128
DEFAULT_MAX_FILE_BYTES = 1024 * 1024
DEFAULT_MAX_FILES_PER_UPLOAD = 20
#: Prefixes of the plugin's own hidden files in a project folder (never listed, never parsed:
#: Airflow only parses ``*.py`` and zip files).
TMP_PREFIX = ".upload-"
STAGED_PREFIX = ".pending-"
TMP_SUFFIX = ".tmp"
_STAGED_TOKEN = re.compile(r"^[0-9a-f]{32}$")
STAGED_MAX_AGE_S = 3600.0
MAX_STAGED_PER_PROJECT = 50
DIR_MODE = 0o775
FILE_MODE = 0o644


class ProjectLike(Protocol):
    id: int
    name: str


class DagFileError(Exception):
    """A refused file operation: an HTTP status (400, 403, 404, 409, 413) and a message for the page."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# ---------------------------------------------------------------------------------------------
# Where files live
# ---------------------------------------------------------------------------------------------


def folder_scheme() -> str:
    scheme = str(conf_get("hopsworks", "dag_folder_scheme", "name")).strip().lower()
    if scheme not in FOLDER_SCHEMES:
        raise ValueError(f"[hopsworks] dag_folder_scheme must be one of {FOLDER_SCHEMES}, not {scheme!r}")
    return scheme


def dags_root() -> Path:
    return Path(str(conf_get("core", "dags_folder"))).resolve()


def project_folder_name(project_id: int, project_name: str) -> str:
    if folder_scheme() == "sha256":
        return hashlib.sha256(str(int(project_id)).encode()).hexdigest()
    if not _SAFE_NAME.match(project_name) or project_name in {".", ".."}:
        raise ValueError(f"Project name {project_name!r} cannot be used as a folder name")
    return project_name


def project_dir(project_id: int, project_name: str) -> Path:
    return dags_root() / project_folder_name(project_id, project_name)


def project_of_file(fileloc: str | None, projects: Iterable[ProjectLike]) -> ProjectLike | None:
    """The project whose folder holds ``fileloc`` (an absolute DAG file path), or None."""
    if not fileloc:
        return None
    try:
        relative = Path(fileloc).resolve().relative_to(dags_root())
    except ValueError:
        return None
    if len(relative.parts) < 2:
        return None
    top = relative.parts[0]
    for project in projects:
        try:
            if project_folder_name(project.id, project.name) == top:
                return project
        except ValueError:
            continue
    return None


def max_file_bytes() -> int:
    return max(1, conf_getint("hopsworks", "max_dag_file_bytes", DEFAULT_MAX_FILE_BYTES))


def max_files_per_upload() -> int:
    return max(1, conf_getint("hopsworks", "max_dag_files_per_upload", DEFAULT_MAX_FILES_PER_UPLOAD))


def max_upload_request_bytes() -> int:
    """Largest upload request body: every file at the cap, plus room for the multipart framing."""
    return max_file_bytes() * max_files_per_upload() + 256 * 1024


def _checked_dir(directory: Path) -> Path:
    """``directory`` as a real folder directly inside the DAGs folder (not a symlink)."""
    root = dags_root()
    if directory.parent.resolve() != root or directory.name in {"", ".", ".."}:
        raise DagFileError(400, "That folder is not a project folder of Airflow's DAGs folder.")
    try:
        st = os.lstat(directory)
    except FileNotFoundError:
        return directory
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        raise DagFileError(
            409,
            f"The project folder {directory.name} is not a plain folder (a symbolic link?); not using it.",
        )
    return directory


def ensure_project_dir(directory: Path) -> Path:
    """Create the project folder on first use (``rwxrwxr-x``, like Hopsworks did)."""
    _checked_dir(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    with suppress(FileExistsError):
        os.mkdir(directory, DIR_MODE)
    return _checked_dir(directory)


# ---------------------------------------------------------------------------------------------
# Validation: names, size, encoding, syntax, owners (nothing is executed)
# ---------------------------------------------------------------------------------------------


def name_problem(name: str | None) -> str | None:
    """Why ``name`` is not a plain ``*.py`` file name, or None when it is fine."""
    if name is None or name == "":
        return "The file has no name."
    shown = ascii(name)[:80]
    if len(name) > MAX_NAME_LENGTH:
        return f"The file name is too long ({len(name)} characters; at most {MAX_NAME_LENGTH})."
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return f"The file name {shown} contains control characters (such as NUL or a line break)."
    if "/" in name or "\\" in name or name.startswith("~"):
        return f"The file name {shown} contains a path; upload a plain file name such as my_dag.py."
    if ".." in name:
        return f"The file name {shown} contains '..'; upload a plain file name such as my_dag.py."
    if name.startswith("."):
        return f"The file name {shown} is a hidden file name (starts with a dot)."
    if not name.lower().endswith(".py") or not name.endswith(".py"):
        return f"The file name {shown} does not end in .py; only Python DAG files can be uploaded."
    if not _DAG_FILE_NAME.match(name):
        return (
            f"The file name {shown} is not a plain file name: use only letters A-Z, digits, '_', '-' and "
            "'.', not starting with '-' (no spaces, '%', slashes or look-alike characters)."
        )
    return None


def upload_name_problem(filename: str | None, content_disposition: str | None) -> str | None:
    """:func:`name_problem` for an uploaded file, also looking at the raw multipart header.

    Werkzeug unquotes the ``filename`` parameter, and a backslash there is a quoted-string escape:
    ``sub\\dag.py`` arrives as ``subdag.py``. A backslash in the raw header is a path: refuse it
    rather than save the file under a name the user did not choose.
    """
    if "\\" in (content_disposition or ""):
        return f"The file name {ascii(filename or '')[:80]} contains a path (a backslash); upload a plain file " \
            "name such as my_dag.py."
    return name_problem(filename)


def check_name(name: str | None) -> str:
    problem = name_problem(name)
    if problem:
        raise DagFileError(400, problem)
    return str(name)


def read_capped(stream: IO[bytes], cap: int | None = None, name: str = "The file") -> bytes:
    """At most ``cap`` bytes of ``stream``; raise 413 if there is more (reads cap + 1 bytes at most)."""
    cap = max_file_bytes() if cap is None else cap
    chunks: list[bytes] = []
    size = 0
    while size <= cap:
        chunk = stream.read(min(64 * 1024, cap + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    if size > cap:
        raise DagFileError(413, f"{name} is larger than the limit of {human_size(cap)}.")
    return b"".join(chunks)


def human_size(n: int | float) -> str:
    value = float(n)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{int(value)} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} bytes"  # pragma: no cover


@dataclass(frozen=True)
class OwnerScan:
    """Owners found statically: literal owners (with the line of their first use), the places
    where an owner is set by an expression that cannot be read without running the file, and
    whether the file constructs a DAG at all (``DAG(...)``, ``@dag``)."""

    owners: dict[str, int] = field(default_factory=dict)
    undetermined: tuple[str, ...] = ()
    defines_dag: bool = False

    @property
    def determined(self) -> bool:
        return not self.undetermined


class _OwnerScanner:
    def __init__(self, tree: ast.Module) -> None:
        self.tree = tree
        self.owners: dict[str, int] = {}
        self.undetermined: list[str] = []
        self.defines_dag = False
        # Every value bound to a simple name anywhere (module, functions): constants and dicts.
        self.bindings: dict[str, list[ast.expr]] = {}
        self.rebound: set[str] = set()  # names also bound by for/with/import/augassign/...: unknown
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    self._bind(target, node.value)
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                self._bind(node.target, node.value)
            elif isinstance(node, ast.AugAssign | ast.For | ast.comprehension | ast.withitem | ast.NamedExpr):
                bound: ast.AST | None = getattr(node, "target", None) or getattr(node, "optional_vars", None)
                for name in self._names(bound):
                    self.rebound.add(name)
            elif isinstance(node, ast.Import | ast.ImportFrom):
                for alias in node.names:
                    self.rebound.add((alias.asname or alias.name).split(".")[0])
            elif isinstance(node, ast.arg):  # function parameters: any value
                self.rebound.add(node.arg)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                self.rebound.add(node.name)
            elif isinstance(node, ast.ExceptHandler) and node.name:
                self.rebound.add(node.name)

    @staticmethod
    def _names(target: ast.AST | None) -> list[str]:
        if target is None:
            return []
        return [n.id for n in ast.walk(target) if isinstance(n, ast.Name)]

    def _bind(self, target: ast.expr, value: ast.expr) -> None:
        if isinstance(target, ast.Name):
            self.bindings.setdefault(target.id, []).append(value)
        else:
            for name in self._names(target):
                if not (isinstance(target, ast.Subscript | ast.Attribute)):
                    self.rebound.add(name)

    def _unknown(self, node: ast.AST, what: str) -> None:
        text = ast.unparse(node) if isinstance(node, ast.expr) else what
        if len(text) > 60:
            text = text[:57] + "..."
        self.undetermined.append(f"line {getattr(node, 'lineno', '?')}: {what} {text}".rstrip())

    def _literal_owner(self, value: str, node: ast.AST) -> None:
        self.owners.setdefault(value, getattr(node, "lineno", 0))

    def owner_value(self, expr: ast.expr, seen: frozenset[str] = frozenset()) -> None:
        """Record the owner(s) an expression evaluates to, or mark it undetermined."""
        if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
            self._literal_owner(expr.value, expr)
        elif isinstance(expr, ast.IfExp):
            self.owner_value(expr.body, seen)
            self.owner_value(expr.orelse, seen)
        elif isinstance(expr, ast.Name) and expr.id not in seen and expr.id not in self.rebound:
            values = self.bindings.get(expr.id)
            if not values:
                self._unknown(expr, "owner =")
                return
            for value in values:
                self.owner_value(value, seen | {expr.id})
        else:
            self._unknown(expr, "owner =")

    def default_args(self, expr: ast.expr, seen: frozenset[str] = frozenset()) -> None:
        """Owners set through a ``default_args`` mapping."""
        if isinstance(expr, ast.Dict):
            for key, value in zip(expr.keys, expr.values, strict=True):
                if key is None:  # {**base, ...}
                    self.default_args(value, seen)
                elif isinstance(key, ast.Constant) and key.value == "owner":
                    self.owner_value(value, seen)
                elif not isinstance(key, ast.Constant):
                    self._unknown(key, "default_args key")
        elif isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name) and expr.func.id == "dict":
            for arg in expr.args:
                self.default_args(arg, seen)
            for kw in expr.keywords:
                if kw.arg is None:
                    self.default_args(kw.value, seen)
                # owner=... keywords are read by the generic keyword rule.
        elif isinstance(expr, ast.Name) and expr.id not in seen and expr.id not in self.rebound:
            values = self.bindings.get(expr.id)
            if not values:
                self._unknown(expr, "default_args =")
                return
            for value in values:
                self.default_args(value, seen | {expr.id})
        elif isinstance(expr, ast.Constant) and expr.value is None:
            return
        else:
            self._unknown(expr, "default_args =")

    def splat(self, expr: ast.expr, seen: frozenset[str] = frozenset()) -> None:
        """``f(**kwargs)``: owner/default_args hidden in a keyword mapping."""
        if isinstance(expr, ast.Dict):
            for key, value in zip(expr.keys, expr.values, strict=True):
                if key is None:
                    self.splat(value, seen)
                elif isinstance(key, ast.Constant) and key.value == "owner":
                    self.owner_value(value, seen)
                elif isinstance(key, ast.Constant) and key.value == "default_args":
                    self.default_args(value, seen)
                elif not isinstance(key, ast.Constant):
                    self._unknown(key, "keyword argument")
        elif isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name) and expr.func.id == "dict":
            for arg in expr.args:
                self.splat(arg, seen)
            for kw in expr.keywords:
                if kw.arg is None:
                    self.splat(kw.value, seen)
                elif kw.arg == "default_args":
                    self.default_args(kw.value, seen)
        elif isinstance(expr, ast.Name) and expr.id not in seen and expr.id not in self.rebound:
            values = self.bindings.get(expr.id)
            if not values:
                self._unknown(expr, "**")
                return
            for value in values:
                self.splat(value, seen | {expr.id})
        else:
            self._unknown(expr, "**")

    def scan(self) -> OwnerScan:
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Call):
                func = node.func
                fname = ""
                if isinstance(func, ast.Name):
                    fname = func.id
                elif isinstance(func, ast.Attribute):
                    fname = func.attr
                if fname in {"DAG", "dag"}:
                    self.defines_dag = True
                for kw in node.keywords:
                    if kw.arg == "owner":
                        self.owner_value(kw.value)
                    elif kw.arg == "default_args":
                        self.default_args(kw.value)
                    elif kw.arg is None and fname not in {"dict", "format", "update"}:
                        self.splat(kw.value)
            elif isinstance(node, ast.Assign):
                for target in node.targets:
                    # default_args["owner"] = ... / anything["owner"] = ...
                    if (
                        isinstance(target, ast.Subscript)
                        and isinstance(target.slice, ast.Constant)
                        and target.slice.value == "owner"
                    ):
                        self.owner_value(node.value)
                    elif isinstance(target, ast.Attribute) and target.attr in {"owner", "default_args"}:
                        if target.attr == "owner":
                            self.owner_value(node.value)
                        else:
                            self.default_args(node.value)
            elif isinstance(node, ast.Name) and node.id == "DAG" and isinstance(node.ctx, ast.Load):
                self.defines_dag = True
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                for deco in node.decorator_list:
                    if (isinstance(deco, ast.Name) and deco.id == "dag") or (
                        isinstance(deco, ast.Attribute) and deco.attr == "dag"
                    ):
                        self.defines_dag = True
        return OwnerScan(dict(self.owners), tuple(dict.fromkeys(self.undetermined)), self.defines_dag)


def scan_owners(tree: ast.Module) -> OwnerScan:
    """Read the DAG owners of a parsed file statically: ``default_args={"owner": ...}`` (dict
    literal, ``dict(owner=...)``, a name bound to one, ``**`` merges), ``owner=...`` on any call
    (operators, ``@task``), ``x["owner"] = ...``, and names bound to string literals (the Hopsworks
    template's ``DAG_OWNER = 'alice'`` … ``'owner': DAG_OWNER``)."""
    return _OwnerScanner(tree).scan()


@dataclass(frozen=True)
class CheckedSource:
    name: str
    data: bytes
    owners: OwnerScan

    @property
    def size(self) -> int:
        return len(self.data)


def check_source(name: str, data: bytes, cap: int | None = None) -> CheckedSource:
    """Validate a DAG file's content without executing it: size, UTF-8, syntax; read its owners."""
    cap = max_file_bytes() if cap is None else cap
    if len(data) > cap:
        raise DagFileError(413, f"{name} is larger than the limit of {human_size(cap)}.")
    if not data.strip():
        raise DagFileError(400, f"{name} is empty.")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise DagFileError(
            400, f"{name} is not UTF-8 text: byte 0x{data[err.start]:02x} at line {line} cannot be decoded."
        ) from None
    try:
        tree = ast.parse(data, filename=name, mode="exec")
        # The compiler catches what the parser lets through ('return' outside a function, ...).
        compile(tree, name, "exec", dont_inherit=True)
    except SyntaxError as err:
        where = f"line {err.lineno}" if err.lineno else "an unknown line"
        if err.lineno and err.offset:
            where += f", column {err.offset}"
        text = (err.text or "").strip()
        shown = f": {text[:120]}" if text else ""
        raise DagFileError(400, f"{name} has a Python syntax error at {where}: {err.msg}{shown}") from None
    except ValueError as err:  # e.g. "source code string cannot contain null bytes"
        raise DagFileError(400, f"{name} is not valid Python source: {err}") from None
    except (RecursionError, MemoryError):
        raise DagFileError(400, f"{name} is nested too deeply to be checked.") from None
    return CheckedSource(name=name, data=data, owners=scan_owners(tree))


def default_owner() -> str:
    """The owner Airflow gives tasks that set none (``[operators] default_owner``)."""
    return str(conf_get("operators", "default_owner", "airflow") or "airflow")


def owner_verdict(checked: CheckedSource, username: str, admin: bool) -> tuple[str | None, list[str]]:
    """``(refusal, warnings)`` for the owner rule: a non-admin may only upload DAGs whose owner is
    their own (Hopsworks = Airflow) username."""
    scan = checked.owners
    warnings: list[str] = []
    others = {o: line for o, line in scan.owners.items() if o != username}
    if scan.undetermined:
        warnings.append(
            f"The owner of {checked.name} could not be read without running it "
            f"({'; '.join(scan.undetermined[:3])}). It must be your Hopsworks username '{username}', "
            "or Hopsworks will refuse to run its tasks."
        )
    if not scan.owners and not scan.undetermined and scan.defines_dag:
        fallback = default_owner()
        if fallback != username:
            message = (
                f"{checked.name} sets no owner, so Airflow would use its default owner '{fallback}'. "
                f"Set default_args={{'owner': '{username}'}} (your Hopsworks username)."
            )
            if not admin:
                return message, warnings
            warnings.append(message)
    if others:
        listed = ", ".join(f"'{o}' (line {line})" for o, line in sorted(others.items(), key=lambda x: x[1]))
        if not admin:
            return (
                f"{checked.name} sets owner {listed}, but you may only upload DAGs owned by your own "
                f"Hopsworks username '{username}'.",
                warnings,
            )
        warnings.append(f"{checked.name} is owned by {listed} (allowed: you are an admin).")
    return None, warnings


# ---------------------------------------------------------------------------------------------
# Files: atomic write, staged replacements, listing, reading, deleting
# ---------------------------------------------------------------------------------------------


_EXPIRED = "This confirmation has expired or was already used; upload the file again."


def _not_regular(name: str) -> str:
    return f"{name} exists and is not a regular file (a link or a folder); not replacing it."


def _already_exists(name: str) -> str:
    return f"{name} already exists in this project; confirm to replace it."


def _symlink(name: str) -> str:
    return f"{name} is a symbolic link; the DAG file manager does not follow links."


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None


def _regular_file(directory: Path, name: str) -> tuple[Path, os.stat_result]:
    """The path of an existing regular file ``name`` directly in ``directory``; never a symlink."""
    check_name(name)
    directory = _checked_dir(directory)
    path = directory / name
    st = _lstat(path)
    if st is None:
        raise DagFileError(404, f"There is no file {name} in this project's DAG folder.")
    if stat.S_ISLNK(st.st_mode):
        raise DagFileError(403, _symlink(name))
    if not stat.S_ISREG(st.st_mode):
        raise DagFileError(404, f"{name} is not a regular file.")
    if path.resolve().parent != directory.resolve():  # pragma: no cover - guarded by the checks above
        raise DagFileError(403, f"{name} is outside the project's DAG folder.")
    return path, st


def _write_tmp(directory: Path, data: bytes, prefix: str = TMP_PREFIX) -> Path:
    """A complete, fsync'ed hidden temporary file in ``directory`` (removed again on any error)."""
    fd = -1
    tmp: Path | None = None
    try:
        if prefix == STAGED_PREFIX:
            tmp = directory / f"{STAGED_PREFIX}{secrets.token_hex(16)}{TMP_SUFFIX}"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        else:
            import tempfile

            fd, tmp_name = tempfile.mkstemp(prefix=prefix, suffix=TMP_SUFFIX, dir=directory)
            tmp = Path(tmp_name)
        with os.fdopen(fd, "wb") as fh:
            fd = -1
            fh.write(data)
            fh.flush()
            os.fchmod(fh.fileno(), FILE_MODE if prefix != STAGED_PREFIX else 0o600)
            os.fsync(fh.fileno())
        return tmp
    except BaseException:
        if fd >= 0:
            os.close(fd)
        if tmp is not None:
            with suppress(FileNotFoundError):
                os.unlink(tmp)
        raise


def write_atomic(directory: Path, name: str, data: bytes, *, replace: bool) -> bool:
    """Write ``directory/name`` so that readers only ever see the old or the new complete file.

    A hidden temporary file in the same folder is written, flushed and fsync'ed, then renamed
    over the target (``os.replace``) and the folder is fsync'ed. Without ``replace`` the target is
    created with ``os.link`` (which refuses to overwrite): two concurrent uploads of a new name
    leave one file, and the loser gets a 409. Returns True when an existing file was replaced.
    """
    check_name(name)
    directory = ensure_project_dir(directory)
    target = directory / name
    before = _lstat(target)
    if before is not None and not stat.S_ISREG(before.st_mode):
        raise DagFileError(409, _not_regular(name))
    if before is not None and not replace:
        raise DagFileError(409, _already_exists(name))
    tmp = _write_tmp(directory, data)
    try:
        if replace:
            os.replace(tmp, target)
        else:
            try:
                os.link(tmp, target)
            except FileExistsError:
                raise DagFileError(409, _already_exists(name)) from None
            except OSError:  # pragma: no cover - file systems without hard links
                if _lstat(target) is not None:
                    raise DagFileError(409, _already_exists(name)) from None
                os.replace(tmp, target)
        _fsync_dir(directory)
    finally:
        with suppress(FileNotFoundError):
            os.unlink(tmp)
    return before is not None


def stage(directory: Path, data: bytes) -> str:
    """Keep validated content aside (hidden, ``0600``) until the user confirms a replacement."""
    directory = ensure_project_dir(directory)
    clean_stale(directory)
    if len(list(directory.glob(f"{STAGED_PREFIX}*{TMP_SUFFIX}"))) >= MAX_STAGED_PER_PROJECT:
        raise DagFileError(
            429, "Too many replacements are waiting for confirmation in this project; try again in an hour."
        )
    tmp = _write_tmp(directory, data, prefix=STAGED_PREFIX)
    return tmp.name[len(STAGED_PREFIX) : -len(TMP_SUFFIX)]


def _staged_path(directory: Path, token: str) -> Path:
    if not _STAGED_TOKEN.match(token or ""):
        raise DagFileError(400, "The confirmation is not valid; upload the file again.")
    return _checked_dir(directory) / f"{STAGED_PREFIX}{token}{TMP_SUFFIX}"


def read_staged(directory: Path, token: str) -> bytes:
    path = _staged_path(directory, token)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        raise DagFileError(
            410, _EXPIRED
        ) from None
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):  # pragma: no cover
            raise DagFileError(410, "This confirmation is not valid; upload the file again.")
        return read_capped(fh, max_file_bytes(), "The staged file")


def commit_staged(directory: Path, token: str, name: str) -> bool:
    """Atomically put staged content in place of ``name`` (a rename in the same folder)."""
    check_name(name)
    path = _staged_path(directory, token)
    target = directory / name
    before = _lstat(target)
    if before is not None and not stat.S_ISREG(before.st_mode):
        raise DagFileError(409, _not_regular(name))
    try:
        os.chmod(path, FILE_MODE, follow_symlinks=False)
    except FileNotFoundError:
        raise DagFileError(410, _EXPIRED) from None
    except NotImplementedError:  # pragma: no cover - platforms without lchmod
        os.chmod(path, FILE_MODE)
    os.replace(path, target)
    _fsync_dir(directory)
    return before is not None


def discard_staged(directory: Path, token: str) -> None:
    with suppress(FileNotFoundError):
        os.unlink(_staged_path(directory, token))


def clean_stale(directory: Path, max_age: float = STAGED_MAX_AGE_S) -> int:
    """Remove the plugin's own leftovers (unconfirmed replacements, temp files of crashed writes)."""
    removed = 0
    now = time.time()
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return 0
    for entry in entries:
        if not entry.name.endswith(TMP_SUFFIX) or not entry.name.startswith((STAGED_PREFIX, TMP_PREFIX)):
            continue
        try:
            st = entry.stat(follow_symlinks=False)
            if now - st.st_mtime > max_age:
                os.unlink(entry.path)
                removed += 1
        except FileNotFoundError:
            continue
    return removed


@dataclass(frozen=True)
class DagFile:
    name: str
    size: int
    mtime: float


def list_files(directory: Path) -> tuple[list[DagFile], int]:
    """``(files, skipped)``: regular ``*.py`` files directly in the folder, sorted by name, and how
    many other entries were left out (hidden files, symlinks, folders, unusable names)."""
    try:
        directory = _checked_dir(directory)
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return [], 0
    files: list[DagFile] = []
    skipped = 0
    for entry in entries:
        if entry.name.startswith("."):
            continue  # hidden, including our own temporary files: not counted
        try:
            st = entry.stat(follow_symlinks=False)
        except FileNotFoundError:
            continue
        if entry.is_symlink() or not stat.S_ISREG(st.st_mode) or name_problem(entry.name):
            skipped += 1
            continue
        files.append(DagFile(entry.name, st.st_size, st.st_mtime))
    files.sort(key=lambda f: f.name.lower())
    return files, skipped


def file_info(directory: Path, name: str) -> DagFile:
    _path, st = _regular_file(directory, name)
    return DagFile(name, st.st_size, st.st_mtime)


def exists(directory: Path, name: str) -> bool:
    return _lstat(directory / check_name(name)) is not None


def read_file(directory: Path, name: str) -> bytes:
    """The bytes of ``directory/name``; refuses symlinks (also when one is swapped in meanwhile)."""
    path, _st = _regular_file(directory, name)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        raise DagFileError(404, f"There is no file {name} in this project's DAG folder.") from None
    except OSError:  # ELOOP: replaced by a symlink after the check
        raise DagFileError(403, _symlink(name)) from None
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise DagFileError(404, f"{name} is not a regular file.")
        return fh.read()


def delete_file(directory: Path, name: str) -> None:
    """Remove ``directory/name``; refuses symlinks and anything but a regular file."""
    path, _st = _regular_file(directory, name)
    os.unlink(path)
    _fsync_dir(directory)


# ---------------------------------------------------------------------------------------------
# Airflow's metadata DB: the DAGs and import errors recorded for a file
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DagRecord:
    dag_id: str
    owners: str
    is_paused: bool
    is_stale: bool
    fileloc: str


@dataclass(frozen=True)
class ImportErrorRecord:
    filename: str
    timestamp: Any
    stacktrace: str


def dags_folder_bundles() -> set[str]:
    """Names of the DAG bundles whose path is Airflow's DAGs folder (default: ``dags-folder``)."""
    config = str(conf_get("dag_processor", "dag_bundle_config_list", "") or "")
    return set(_dags_folder_bundles(str(dags_root()), config))


@functools.lru_cache(maxsize=8)
def _dags_folder_bundles(root: str, _config: str) -> frozenset[str]:
    names: set[str] = set()
    try:
        from airflow.dag_processing.bundles.manager import DagBundlesManager

        for bundle in DagBundlesManager().get_all_dag_bundles():
            path = getattr(bundle, "path", None)
            with suppress(Exception):
                if path is not None and str(Path(path).resolve()) == root:
                    names.add(str(bundle.name))
    except Exception as err:  # pragma: no cover - unusual bundle configurations
        log.info("Could not read the DAG bundle configuration: %s", err)
    return frozenset(names or {"dags-folder"})


def _like_prefix(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _relative(directory: Path, name: str | None = None) -> str:
    rel = directory.name
    return f"{rel}/{name}" if name else rel


def _file_of(fileloc: str | None, relative: str | None, bundle: str | None, directory: Path,
             bundles: set[str]) -> str | None:
    """The name of the file in ``directory`` a DB row points at, or None."""
    prefix = _relative(directory) + "/"
    if relative and bundle in bundles and relative.startswith(prefix):
        rest = relative[len(prefix):]
        if rest and "/" not in rest:
            return rest
    if fileloc:
        with suppress(OSError, ValueError):
            path = Path(fileloc)
            parent = path.parent.resolve() if path.parent.exists() else path.parent
            if parent == directory.resolve() or parent == directory:
                return path.name
    return None


def dags_by_file(directory: Path) -> dict[str, list[DagRecord]]:
    """The DAGs Airflow recorded for each file of a project folder, by file name."""
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session
    from sqlalchemy import or_, select

    bundles = dags_folder_bundles()
    prefix = _relative(directory) + "/"
    candidates = {str(directory), str(directory.resolve()),
                  os.path.join(str(conf_get("core", "dags_folder")), directory.name)}
    conditions = [DagModel.relative_fileloc.like(_like_prefix(prefix), escape="\\")]
    conditions += [DagModel.fileloc.like(_like_prefix(c + "/"), escape="\\") for c in candidates]
    result: dict[str, list[DagRecord]] = {}
    with create_session() as session:
        rows = session.execute(
            select(DagModel.dag_id, DagModel.owners, DagModel.is_paused, DagModel.is_stale, DagModel.fileloc,
                   DagModel.relative_fileloc, DagModel.bundle_name).where(or_(*conditions))
        ).all()
    for dag_id, owners, paused, stale, fileloc, relative, bundle in rows:
        name = _file_of(fileloc, relative, bundle, directory, bundles)
        if name:
            result.setdefault(name, []).append(
                DagRecord(str(dag_id), str(owners or ""), bool(paused), bool(stale), str(fileloc or ""))
            )
    for records in result.values():
        records.sort(key=lambda r: r.dag_id)
    return result


def import_errors_by_file(directory: Path) -> dict[str, list[ImportErrorRecord]]:
    """The import errors Airflow recorded for each file of a project folder, by file name."""
    from airflow.models.errors import ParseImportError
    from airflow.utils.session import create_session
    from sqlalchemy import select

    bundles = dags_folder_bundles()
    prefix = _relative(directory) + "/"
    result: dict[str, list[ImportErrorRecord]] = {}
    with create_session() as session:
        rows = session.execute(
            select(ParseImportError.filename, ParseImportError.bundle_name, ParseImportError.timestamp,
                   ParseImportError.stacktrace)
            .where(ParseImportError.bundle_name.in_(bundles))
            .where(ParseImportError.filename.like(_like_prefix(prefix), escape="\\"))
        ).all()
    for filename, _bundle, timestamp, stacktrace in rows:
        if filename and filename.startswith(prefix) and "/" not in filename[len(prefix):]:
            name = filename[len(prefix):]
            result.setdefault(name, []).append(ImportErrorRecord(filename, timestamp, str(stacktrace or "")))
    return result


def dag_records(directory: Path, name: str) -> list[DagRecord]:
    return dags_by_file(directory).get(check_name(name), [])


def import_errors(directory: Path, name: str) -> list[ImportErrorRecord]:
    return import_errors_by_file(directory).get(check_name(name), [])


@dataclass
class RemovalReport:
    paused: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    import_errors_removed: int = 0


def remove_dag_records(directory: Path, name: str, dag_ids: Iterable[str]) -> RemovalReport:
    """Pause the DAGs of a deleted file, then delete their records (Airflow's own ``delete_dag``:
    runs, task instances, serialized DAG …; the audit log is kept) and the file's import errors."""
    from airflow.models.dag import DagModel
    from airflow.models.errors import ParseImportError
    from airflow.utils.session import create_session
    from sqlalchemy import delete, select, update

    report = RemovalReport()
    error_rows = (
        ParseImportError.filename == _relative(directory, name),
        ParseImportError.bundle_name.in_(dags_folder_bundles()),
    )
    with create_session() as session:
        errors_before = len(session.execute(select(ParseImportError.id).where(*error_rows)).all())
    ids = sorted(set(dag_ids))
    if ids:
        with create_session() as session:
            session.execute(update(DagModel).where(DagModel.dag_id.in_(ids)).values(is_paused=True))
        report.paused = list(ids)
    for dag_id in ids:
        try:
            from airflow.api.common.delete_dag import delete_dag

            with create_session() as session:
                delete_dag(dag_id, keep_records_in_log=True, session=session)
            report.removed.append(dag_id)
        except Exception as err:  # running task instances, DagNotFound after a concurrent delete, ...
            if err.__class__.__name__ == "DagNotFound":
                report.removed.append(dag_id)
                continue
            log.warning("Could not delete the records of DAG %s: %s", dag_id, err)
            report.problems.append(f"{dag_id}: {err} (the DAG stays paused)")
    with create_session() as session:  # delete_dag removes them too, but only for files that had DAGs
        session.execute(delete(ParseImportError).where(*error_rows))
    with create_session() as session:
        errors_after = len(session.execute(select(ParseImportError.id).where(*error_rows)).all())
    report.import_errors_removed = errors_before - errors_after
    return report
