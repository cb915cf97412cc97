"""Where a project's DAG files live, and which file names are allowed.

A project's folder is ``<dags_folder>/<name>/``: the project name (``[hopsworks] dag_folder_scheme =
name``, the default) or the sha256 hex of its id (``sha256``, Hopsworks' legacy layout). A DAG file
name is a plain ASCII ``*.py`` name directly in that folder (an allow-list: nothing can climb out).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from hopsworks_ui_plugin import settings
from hopsworks_ui_plugin.errors import BadInput
from hopsworks_ui_plugin.version_compat import conf_get

#: ``name``: ``<dags_folder>/<project name>/`` (default, readable);
#: ``sha256``: ``<dags_folder>/<sha256 hex of the project id>/`` (Hopsworks' legacy layout).
FOLDER_SCHEMES = ("name", "sha256")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")

#: A DAG file name: ASCII letters, digits, ``_``, ``-`` and ``.``, not starting with a dot or a
#: dash, ending in ``.py``. An allow-list, so path separators (``/``, ``\``, U+2215, U+FF0F …),
#: ``%``-encoded forms, control characters, spaces and look-alike dots can never get through.
_DAG_FILE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*\.py$")
MAX_NAME_LENGTH = 128
#: Title of the error page for a refused file operation.
TITLE = "DAG file"


class ProjectLike(Protocol):
    id: int
    name: str


def folder_scheme() -> str:
    return settings.dag_folder_scheme()


def dags_root() -> Path:
    return Path(str(conf_get("core", "dags_folder"))).resolve()


def project_folder_name(project_id: int, project_name: str) -> str:
    """The folder name of a project below the DAGs folder; ValueError when its name cannot be one."""
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


def check_name(name: str | None) -> str:
    """``name`` when it is a plain ``*.py`` file name; else :class:`BadInput` saying why."""
    problem = name_problem(name)
    if problem:
        raise BadInput(problem, title=TITLE)
    return str(name)
