"""The files themselves: atomic writes, staged replacements, listing, reading and deleting, never
following a symbolic link (neither the project folder nor a file may be one).

The plugin's own hidden files in a project folder (``.upload-*.tmp`` while writing,
``.pending-*.tmp`` waiting for a "replace?" confirmation) are never listed and never parsed:
Airflow only parses ``*.py`` and zip files.

Staged replacements are capped per user (``[hopsworks] max_staged_per_user``, counted by the first
:data:`USER_TAG_LEN` hex digits of the token, a hash of the username), so one member filling the queue
does not block the others; :data:`MAX_STAGED_PER_PROJECT` stays as a ceiling on a folder's disk use.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import stat
import tempfile
import time
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from hopsworks_ui_plugin import settings
from hopsworks_ui_plugin.dag_files.paths import TITLE, check_name, dags_root, name_problem
from hopsworks_ui_plugin.dag_files.validation import max_file_bytes, read_capped
from hopsworks_ui_plugin.errors import BadInput, Conflict, Forbidden, NotFound, PluginError, TooManyRequests

TMP_PREFIX = ".upload-"
STAGED_PREFIX = ".pending-"
TMP_SUFFIX = ".tmp"
USER_TAG_LEN = 8
_STAGED_TOKEN = re.compile(r"^[0-9a-f]{40}$")  # user tag (8) + random (32)
MAX_STAGED_PER_PROJECT = 500
DIR_MODE = 0o775
FILE_MODE = 0o644


def _checked_dir(directory: Path) -> Path:
    """``directory`` as a real folder directly inside the DAGs folder (not a symlink)."""
    root = dags_root()
    if directory.parent.resolve() != root or directory.name in {"", ".", ".."}:
        raise BadInput("That folder is not a project folder of Airflow's DAGs folder.", title=TITLE)
    try:
        st = os.lstat(directory)
    except FileNotFoundError:
        return directory
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        raise Conflict(
            f"The project folder {directory.name} is not a plain folder (a symbolic link?); not using it.",
            title=TITLE,
        )
    return directory


def ensure_project_dir(directory: Path) -> Path:
    """Create the project folder on first use (``rwxrwxr-x``, like Hopsworks did)."""
    _checked_dir(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    with suppress(FileExistsError):
        os.mkdir(directory, DIR_MODE)
    return _checked_dir(directory)


_EXPIRED = "This confirmation has expired or was already used; upload the file again."


def _gone(message: str) -> PluginError:
    """410: a staged replacement that expired or was already used."""
    return PluginError(message, status=410, title=TITLE)


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
        raise NotFound(f"There is no file {name} in this project's DAG folder.", title=TITLE)
    if stat.S_ISLNK(st.st_mode):
        raise Forbidden(_symlink(name), title=TITLE)
    if not stat.S_ISREG(st.st_mode):
        raise NotFound(f"{name} is not a regular file.", title=TITLE)
    if path.resolve().parent != directory.resolve():  # pragma: no cover - guarded by the checks above
        raise Forbidden(f"{name} is outside the project's DAG folder.", title=TITLE)
    return path, st


def _write_tmp(directory: Path, data: bytes, prefix: str = TMP_PREFIX, token: str = "") -> Path:
    """A complete, fsync'ed hidden temporary file in ``directory`` (removed again on any error)."""
    fd = -1
    tmp: Path | None = None
    try:
        if prefix == STAGED_PREFIX:
            tmp = directory / f"{STAGED_PREFIX}{token}{TMP_SUFFIX}"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        else:
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
        raise Conflict(_not_regular(name), title=TITLE)
    if before is not None and not replace:
        raise Conflict(_already_exists(name), title=TITLE)
    tmp = _write_tmp(directory, data)
    try:
        if replace:
            os.replace(tmp, target)
        else:
            try:
                os.link(tmp, target)
            except FileExistsError:
                raise Conflict(_already_exists(name), title=TITLE) from None
            except OSError:  # pragma: no cover - file systems without hard links
                if _lstat(target) is not None:
                    raise Conflict(_already_exists(name), title=TITLE) from None
                os.replace(tmp, target)
        _fsync_dir(directory)
    finally:
        with suppress(FileNotFoundError):
            os.unlink(tmp)
    return before is not None


def user_tag(username: str | None) -> str:
    """The first hex digits of a staged token: whose upload it is (a hash of the username, ASCII case
    and surrounding spaces ignored as in the owner rule)."""
    key = (username or "").strip(" ").lower()
    return hashlib.sha256(key.encode()).hexdigest()[:USER_TAG_LEN]


def staged_count(directory: Path, username: str | None = None) -> int:
    """Replacements waiting for confirmation in ``directory``: ``username``'s, or everyone's (None)."""
    tag = "" if username is None else user_tag(username)
    return len(list(directory.glob(f"{STAGED_PREFIX}{tag}*{TMP_SUFFIX}")))


def stage(directory: Path, data: bytes, username: str = "") -> str:
    """Keep validated content aside (hidden, ``0600``) until the user confirms a replacement.
    :class:`TooManyRequests` when ``username`` already has ``[hopsworks] max_staged_per_user`` waiting
    (or the folder :data:`MAX_STAGED_PER_PROJECT`)."""
    directory = ensure_project_dir(directory)
    clean_stale(directory)
    cap = settings.max_staged_per_user()
    if staged_count(directory, username) >= cap:
        raise TooManyRequests(
            f"You have {cap} replacements waiting for confirmation in this project (the most one user may "
            "have); confirm or cancel them first, or wait until they expire.", title=TITLE
        )
    if staged_count(directory) >= MAX_STAGED_PER_PROJECT:
        raise TooManyRequests(
            "Too many replacements are waiting for confirmation in this project; try again in an hour.", title=TITLE
        )
    token = user_tag(username) + secrets.token_hex(16)
    _write_tmp(directory, data, prefix=STAGED_PREFIX, token=token)
    return token


def _staged_path(directory: Path, token: str) -> Path:
    if not _STAGED_TOKEN.match(token or ""):
        raise BadInput("The confirmation is not valid; upload the file again.", title=TITLE)
    return _checked_dir(directory) / f"{STAGED_PREFIX}{token}{TMP_SUFFIX}"


def read_staged(directory: Path, token: str) -> bytes:
    path = _staged_path(directory, token)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        raise _gone(_EXPIRED) from None
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):  # pragma: no cover
            raise _gone("This confirmation is not valid; upload the file again.")
        return read_capped(fh, max_file_bytes(), "The staged file")


def commit_staged(directory: Path, token: str, name: str) -> bool:
    """Atomically put staged content in place of ``name`` (a rename in the same folder)."""
    check_name(name)
    path = _staged_path(directory, token)
    target = directory / name
    before = _lstat(target)
    if before is not None and not stat.S_ISREG(before.st_mode):
        raise Conflict(_not_regular(name), title=TITLE)
    try:
        os.chmod(path, FILE_MODE, follow_symlinks=False)
    except FileNotFoundError:
        raise _gone(_EXPIRED) from None
    except NotImplementedError:  # pragma: no cover - platforms without lchmod
        os.chmod(path, FILE_MODE)
    os.replace(path, target)
    _fsync_dir(directory)
    return before is not None


def discard_staged(directory: Path, token: str) -> None:
    with suppress(FileNotFoundError):
        os.unlink(_staged_path(directory, token))


def clean_stale(directory: Path, max_age: float | None = None) -> int:
    """Remove the plugin's own leftovers (unconfirmed replacements, temp files of crashed writes)
    older than ``max_age`` seconds (default ``[hopsworks] staged_max_age_s``)."""
    max_age = settings.staged_max_age_s() if max_age is None else max_age
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
    mtime: float  # epoch seconds

    @property
    def modified(self) -> datetime:
        """The modification time as an aware UTC datetime (what the time formatter takes)."""
        return datetime.fromtimestamp(self.mtime, UTC)


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
        raise NotFound(f"There is no file {name} in this project's DAG folder.", title=TITLE) from None
    except OSError:  # ELOOP: replaced by a symlink after the check
        raise Forbidden(_symlink(name), title=TITLE) from None
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise NotFound(f"{name} is not a regular file.", title=TITLE)
        return fh.read()


def delete_file(directory: Path, name: str) -> None:
    """Remove ``directory/name``; refuses symlinks and anything but a regular file."""
    path, _st = _regular_file(directory, name)
    os.unlink(path)
    _fsync_dir(directory)

