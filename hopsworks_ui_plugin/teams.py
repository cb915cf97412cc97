"""One Airflow team per Hopsworks project (Airflow >= 3.3, ``[core] multi_team = True``, opt-in).

What Airflow 3.3 isolates per team, and what the sync below sets up for each project:

* **Team** ``<project name>`` (a row in Airflow's ``team`` table).
* **DAG bundle** ``project-<project name>``: a ``LocalDagBundle`` on the project's folder
  (``<dags_folder>/<folder>/``, the folder the pages upload into) owned by that team. Airflow reads
  bundles from ``[dag_processor] dag_bundle_config_list`` (configuration, not the DB), so the sync
  *prints* that list; the admin puts it into the configuration of every component.
* **Connection** ``hopsworks_default`` per team: the execution API resolves a task's team from its
  task-instance token (TI -> DAG -> bundle -> team), then asks the secrets backends for the
  connection *with that team*. The metadata DB cannot hold one ``conn_id`` twice (``conn_id`` is
  unique; a DB connection with a team is *only visible* to that team), so the per-team value lives in
  Airflow's team-scoped environment variables ``AIRFLOW_CONN__<TEAM>___HOPSWORKS_DEFAULT``, written
  into an env file (mode 0600) that only the **api-server** loads. Workers must not see it (a task
  can read its own environment) and must not have a global ``AIRFLOW_CONN_HOPSWORKS_DEFAULT`` (the
  worker's own environment backend is asked first, without a team).

Per-project keys come from a JSON file ``{"<project name>": "<API key>"}`` readable by its owner
only; each key must belong to an account that is a member of that one project (checked with
``GET /project``), so a leaked team key reaches no other project. Keys are never printed.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hopsworks_ui_plugin.dag_files.paths import dags_root, project_folder_name
from hopsworks_ui_plugin.errors import BadInput, Conflict

TEAM_CONN_ID = "hopsworks_default"
BUNDLE_CLASSPATH = "airflow.dag_processing.bundles.local.LocalDagBundle"
#: Airflow's rule is ``^[a-zA-Z0-9_-]{3,50}$``; ``-`` is left out because the team's name is part of
#: an environment variable name (``AIRFLOW_CONN__<TEAM>___...``).
_TEAM_NAME = re.compile(r"^[A-Za-z0-9_]{3,50}$")
TITLE = "Teams"


def team_name(project_name: str) -> str:
    """The Airflow team of a project: its name, when Airflow (and an env var name) can carry it."""
    if not _TEAM_NAME.match(project_name) or "___" in project_name:
        raise BadInput(f"Project {project_name!r} cannot be an Airflow team: a team name is 3-50 letters, "
                       "digits and single underscores", title=TITLE)
    return project_name


def bundle_name(team: str) -> str:
    return f"project-{team}"


def team_env_var(team: str, conn_id: str = TEAM_CONN_ID) -> str:
    """Airflow's name for a connection only ``team`` sees (``EnvironmentVariablesBackend``)."""
    return f"AIRFLOW_CONN__{team.upper()}___{conn_id.upper()}"


@dataclass(frozen=True)
class ProjectTeam:
    project_id: int
    project_name: str
    team: str
    folder: Path
    key: str | None = field(default=None, repr=False)
    key_owner: str | None = None

    @property
    def bundle(self) -> dict[str, Any]:
        return {"name": bundle_name(self.team), "classpath": BUNDLE_CLASSPATH,
                "kwargs": {"path": str(self.folder)}, "team_name": self.team}


def read_keys_file(path: Path) -> dict[str, str]:
    """``{"<project name>": "<API key>"}`` from a file only its owner may read (refused otherwise)."""
    try:
        mode = path.stat().st_mode
    except OSError as err:
        raise BadInput(f"Keys file {path}: {err.strerror}", title=TITLE) from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise BadInput(f"Keys file {path} is readable by others (mode {stat.S_IMODE(mode):o}); "
                       f"chmod 600 {path}", title=TITLE)
    try:
        keys = json.loads(path.read_text())
    except ValueError:
        raise BadInput(f"Keys file {path} is not JSON", title=TITLE) from None
    if not isinstance(keys, dict) or not all(isinstance(k, str) and isinstance(v, str) and v
                                             for k, v in keys.items()):
        raise BadInput(f'Keys file {path} must be one JSON object {{"<project name>": "<API key>", ...}}',
                       title=TITLE)
    return dict(keys)


def plan(projects: Iterable[Mapping[str, Any]], keys: Mapping[str, str]) -> list[ProjectTeam]:
    """One team per project; a key named for a project that is not listed is an error (a typo would
    otherwise leave that project without its key)."""
    teams: list[ProjectTeam] = []
    seen: dict[str, str] = {}
    names = set()
    for project in sorted(projects, key=lambda p: str(p["name"])):
        name = str(project["name"])
        names.add(name)
        team = team_name(name)
        if team.upper() in seen:
            raise Conflict(f"Projects {seen[team.upper()]!r} and {name!r} would share the team variable "
                           f"{team_env_var(team)}", title=TITLE)
        seen[team.upper()] = name
        folder = dags_root() / project_folder_name(int(project["id"]), name)
        teams.append(ProjectTeam(int(project["id"]), name, team, folder, keys.get(name)))
    unknown = sorted(set(keys) - names)
    if unknown:
        raise BadInput(f"Keys file names projects the Hopsworks connection does not list: {', '.join(unknown)}",
                       title=TITLE)
    return teams


def check_key(team: ProjectTeam, key_projects: list[dict[str, Any]], key_owner: str | None) -> ProjectTeam:
    """A project's key must reach that project and nothing else (``key_projects``: ``GET /project``
    with that key)."""
    reached = sorted(str(p.get("name")) for p in key_projects)
    if team.project_name not in reached:
        raise BadInput(f"The key for {team.project_name!r} is not a member of that project", title=TITLE)
    others = [name for name in reached if name != team.project_name]
    if others:
        raise BadInput(f"The key for {team.project_name!r} also reaches {', '.join(others)}: use the key of an "
                       "account that is a member of this project only", title=TITLE)
    return ProjectTeam(team.project_id, team.project_name, team.team, team.folder, team.key, key_owner)


def connection_json(base: Mapping[str, Any], key: str) -> str:
    """A team's ``hopsworks_default``: the service connection's host, port, scheme and extras with
    the project's own key."""
    return json.dumps({"conn_type": "hopsworks", "host": base.get("host"), "port": base.get("port"),
                       "schema": base.get("schema"), "password": key, "extra": base.get("extra") or {}})


def env_file_text(teams: Iterable[ProjectTeam], base: Mapping[str, Any]) -> str:
    """Lines ``NAME='json'`` (systemd ``EnvironmentFile``, ``docker --env-file`` without quotes is
    not supported: values are single-quoted JSON without single quotes inside)."""
    lines = ["# Team-scoped Hopsworks connections: load into the api-server ONLY (never workers).\n"]
    for team in teams:
        if team.key:
            value = connection_json(base, team.key)
            if "'" in value or "\n" in value:
                raise BadInput(f"The key or connection of {team.project_name!r} contains a quote or newline",
                               title=TITLE)
            lines.append(f"{team_env_var(team.team)}='{value}'\n")
    return "".join(lines)


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` created with mode 0600 (replaced atomically)."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, text.encode())
    finally:
        os.close(fd)
    os.replace(tmp, path)


def bundle_config(teams: Iterable[ProjectTeam]) -> list[dict[str, Any]]:
    return [t.bundle for t in teams]


def ensure_teams(names: Iterable[str]) -> list[str]:
    """Create the missing Airflow teams; returns the created names. (Airflow's own ``Team`` model:
    the ``team`` table is only written here.)"""
    from airflow.models.team import Team
    from airflow.utils.session import create_session

    wanted = set(names)
    with create_session() as session:
        missing = sorted(wanted - Team.get_all_team_names(session=session))
        for name in missing:
            session.add(Team(name=name))
    return missing


def global_connection_exists(conn_id: str = TEAM_CONN_ID) -> bool:
    """Whether a connection every team resolves exists (env ``AIRFLOW_CONN_...`` or a DB row without team)."""
    if os.environ.get(f"AIRFLOW_CONN_{conn_id.upper()}"):
        return True
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        team = session.scalar(select(Connection.team_name).where(Connection.conn_id == conn_id))
        exists = session.scalar(select(Connection.id).where(Connection.conn_id == conn_id)) is not None
    return exists and team is None
