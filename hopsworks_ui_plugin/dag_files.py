"""Project-scoped DAG files: where a project's DAG files live inside Airflow's DAGs folder.

(Upload validation, atomic writes, listing and deletion are added here too: all file handling
has this one home.)
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from hopsworks_ui_plugin.compat import conf_get

#: ``name``: ``<dags_folder>/<project name>/`` (default, readable);
#: ``sha256``: ``<dags_folder>/<sha256 hex of the project id>/`` (Hopsworks' legacy layout).
FOLDER_SCHEMES = ("name", "sha256")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


class ProjectLike(Protocol):
    id: int
    name: str


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
