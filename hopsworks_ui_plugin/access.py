"""Who may do what: Hopsworks project membership, roles and DAG ownership.

Every rule lives here once and is reused by the operators (owner check before launching), the
web pages (projects, jobs, DAG files, "My DAGs") and the owner-filtering auth manager.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from hopsworks_ui_plugin import settings
from hopsworks_ui_plugin.errors import Forbidden, HopsworksError, NotFound
from hopsworks_ui_plugin.hooks.hopsworks import HopsworksHook, team_members

#: Team roles allowed to see a project's jobs and DAG files, launch and stop jobs.
MEMBER_ROLES = frozenset({"Data owner", "Data scientist"})


# --- who is this user ----------------------------------------------------------------------------

def username_of(user: Any) -> str:
    """The Airflow username of a user object of any auth manager (FAB user, SimpleAuthManager user)."""
    name = getattr(user, "username", None)
    if not name and hasattr(user, "get_name"):
        name = user.get_name()
    return str(name or "")


def is_admin(user: Any) -> bool:
    """An Airflow admin: a FAB role listed in ``[hopsworks] admin_roles`` (default "Admin"), or the
    SimpleAuthManager's ADMIN role."""
    if user is None:
        return False
    admin_roles = settings.admin_roles()
    roles = getattr(user, "roles", None) or []
    if any(getattr(r, "name", r) in admin_roles for r in roles):
        return True
    return str(getattr(user, "role", "") or "").upper() == "ADMIN"


def member_role(project: dict[str, Any], username: str | None) -> str | None:
    """The team role in a ProjectDTO of the member named ``username`` by the owner rule
    (:func:`owner_key`: case and surrounding spaces ignored), or None when not an active member."""
    key = owner_key(username)
    if not key:
        return None
    role = next((r for member, r in team_members(project).items() if owner_key(member) == key), None)
    return role if role in MEMBER_ROLES else None


# --- the owner rule: who owns a DAG or a task ------------------------------------------------------
#
# One meaning everywhere (task-owner check, DAG-file upload check, My DAGs, the auth manager): a user
# owns a DAG when their username is one of the comma-separated tokens of its owners, compared as an
# exact token, ignoring ASCII case and the spaces around each token. "alice, bob" belongs to alice and
# bob, "Alice" to alice, "alice2" not to alice. A username that is empty or holds a comma or a space
# owns nothing. The SQL twin is :func:`hopsworks_ui_plugin.metadb.owner_clause`; tests/test_owner_rule.py
# runs one table of cases against both.


def owner_key(name: str | None) -> str:
    """The form owners and usernames are compared in: surrounding spaces removed, lower case."""
    return (name or "").strip(" ").lower()


def owner_tokens(owners: str | Iterable[str] | None) -> list[str]:
    """``"alice, bob"`` -> ``["alice", "bob"]`` (Airflow joins a DAG's task owners with ", ")."""
    if owners is None:
        return []
    parts = owners.split(",") if isinstance(owners, str) else [t for o in owners for t in (o or "").split(",")]
    return [p.strip(" ") for p in parts if p.strip(" ")]


def owns_dag(owners: str | Iterable[str] | None, username: str | None) -> bool:
    """True when ``username`` is one of ``owners`` by the owner rule (see above)."""
    key = owner_key(username)
    if not key or "," in key or " " in key:
        return False
    return any(owner_key(token) == key for token in owner_tokens(owners))


# --- Airflow permissions: which Airflow permission each plugin action needs ----------------------
#
# Hopsworks membership says *where* a user may act; the user's Airflow role says *what* they may do at
# all. Every action of the plugin's pages is listed here once, with the Airflow DAG permission it needs
# (asked through the configured auth manager, so FAB roles and HopsworksAuthManager both count). A FAB
# Viewer (read-only) may browse and nothing more. ``views.base``'s decorators check this table before a
# handler runs.


@dataclass(frozen=True)
class AirflowPermission:
    """A DAG-level permission as the auth manager is asked for it: ``method`` on DAGs, or on their
    runs (``run=True``, Airflow's ``DagAccessEntity.RUN``)."""

    method: str  # "GET" | "PUT" | "POST"
    run: bool = False

    @property
    def label(self) -> str:
        """The permission as Airflow's FAB roles name it."""
        action = {"GET": "can_read", "PUT": "can_edit", "POST": "can_create", "DELETE": "can_delete"}[self.method]
        return f"{action} on {'DAG Runs' if self.run else 'DAGs'}"


READ_DAGS = AirflowPermission("GET")
EDIT_DAGS = AirflowPermission("PUT")
TRIGGER_RUNS = AirflowPermission("POST", run=True)

#: action -> (what the user is doing, in words; the Airflow permission it needs)
ACTIONS: dict[str, tuple[str, AirflowPermission]] = {
    "browse": ("look at Hopsworks projects, jobs and DAGs", READ_DAGS),
    "launch": ("launch jobs", TRIGGER_RUNS),
    "stop": ("stop executions", TRIGGER_RUNS),
    "upload": ("upload DAG files", EDIT_DAGS),
    "replace": ("replace DAG files", EDIT_DAGS),
    "delete": ("delete DAG files", EDIT_DAGS),
    "pause": ("pause or unpause DAGs", EDIT_DAGS),
    "unpause": ("pause or unpause DAGs", EDIT_DAGS),
    "trigger": ("trigger DAGs", TRIGGER_RUNS),
}


def action_words(action: str) -> str:
    """What ``action`` is, in words (``"launch"`` -> ``"launch jobs"``); KeyError for an unknown action."""
    return ACTIONS[action][0]


def has_airflow_permission(user: Any, action: str, dag_id: str | None = None) -> bool:
    """The configured auth manager's answer for ``action`` (:data:`ACTIONS`), on DAGs in general or
    on DAG ``dag_id``."""
    from hopsworks_ui_plugin.version_compat import is_authorized_dag

    permission = ACTIONS[action][1]
    return is_authorized_dag(user, permission.method, dag_id, run=permission.run)


def require_airflow_permission(user: Any, action: str, dag_id: str | None = None) -> None:
    """Refuse (403) a user whose Airflow role lacks the permission ``action`` needs; the message
    names the permission."""
    words, permission = ACTIONS[action]
    if not has_airflow_permission(user, action, dag_id):
        target = f" (DAG {dag_id!r})" if dag_id else ""
        raise Forbidden(
            f"Your Airflow role does not allow you to {words}{target}: that needs the Airflow permission "
            f"{permission.label!r}. Hopsworks project membership alone is not enough; "
            "ask an Airflow admin for a role with that permission.",
            title="Airflow permission missing",
        )


# --- the audit trail's scope -------------------------------------------------------------------------
#
# Plugin actions on a DAG (pause, unpause, trigger) go into Airflow's event log under that DAG's id:
# whoever may read the DAG sees them. Actions on a project's jobs and files (launch, stop, upload,
# replace, delete) have no DAG. Airflow lists event-log entries without a DAG to *everyone* who may read
# the audit log, so under HopsworksAuthManager they are filed under a pseudo DAG id
# ``hopsworks:<project folder>`` (a colon cannot be part of a real dag_id), which the auth manager
# lets admins and the project's members read, and nobody else. Under other auth managers (no project
# isolation there) they carry no DAG and Airflow shows them to every audit-log reader.

AUDIT_SCOPE_PREFIX = "hopsworks:"


def audit_scope(folder: str | None) -> str | None:
    """The ``dag_id`` of an event-log entry about a project's jobs or files (see above)."""
    from hopsworks_ui_plugin.version_compat import get_auth_manager

    try:
        from hopsworks_ui_plugin.auth_manager import HopsworksAuthManager

        isolated = isinstance(get_auth_manager(), HopsworksAuthManager)
    except Exception:  # no auth manager initialised (CLI, tests without a web app) or FAB missing
        isolated = False
    return f"{AUDIT_SCOPE_PREFIX}{folder or ''}" if isolated else None


def project_audit_scope(project: ProjectRef) -> str | None:
    """:func:`audit_scope` of a project's folder (``hopsworks:`` alone, admins only, when its name
    cannot be a folder name)."""
    from hopsworks_ui_plugin.dag_files.paths import project_folder_name

    try:
        folder: str | None = project_folder_name(project.id, project.name)
    except ValueError:
        folder = None
    return audit_scope(folder)


def audit_scope_folder(dag_id: str | None) -> str | None:
    """The project folder of an audit scope ``hopsworks:<folder>``, or None for any other id."""
    if dag_id and dag_id.startswith(AUDIT_SCOPE_PREFIX):
        return dag_id[len(AUDIT_SCOPE_PREFIX):] or None
    return None


# --- the policy: who may do what, the one table ----------------------------------------------------
#
# Hopsworks' project model (a project's members act on its jobs, files and DAGs) plus Airflow's roles
# (a read-only Airflow role may only look: :data:`ACTIONS` names the permission each action needs).
# Every surface asks :func:`may`: the pages (``views.base`` decorators, ``core.my_dags``), the auth
# manager (owner or member of the DAG's project folder, in SQL: ``metadb.visible_dag_ids``) and the
# operators (the task-owner check: a task's owner must be a member). ``policy_markdown()`` renders it
# for the README; tests/test_policy.py walks it on every surface.

#: Actions on a project's jobs and DAG files (need membership) and on DAGs (owners too).
PROJECT_ACTIONS = ("browse", "launch", "stop", "upload", "replace", "delete")
DAG_ACTIONS = ("browse", "pause", "trigger")
POLICY_ACTIONS = ("browse", "launch", "stop", "upload", "replace", "delete", "pause", "trigger")

#: subject -> the actions it allows (on the project's jobs, files and DAGs; a DAG owner: on that DAG).
#: A user may act when any subject they are allows it AND their Airflow role has the action's
#: permission (:data:`ACTIONS`): an Airflow Viewer role allows "browse" only, whatever the project role.
POLICY: dict[str, frozenset[str]] = {
    "Data owner": frozenset(POLICY_ACTIONS),
    "Data scientist": frozenset(POLICY_ACTIONS),
    "other project role": frozenset(),  # not a member for the plugin (Hopsworks: Data owner/scientist act)
    "DAG owner": frozenset(DAG_ACTIONS),  # a DAG's owner, even outside its project: that DAG only
    "Airflow admin": frozenset(POLICY_ACTIONS),  # every project (``[hopsworks] admin_roles``)
}


def may(action: str, *, admin: bool = False, role: str | None = None, owner: bool = False,
        airflow_allows: bool = True) -> bool:
    """The policy (:data:`POLICY`): may a user with this Airflow admin flag, project role (in the
    project of the job, file or DAG; None: not in the team), DAG ownership and Airflow permission do
    ``action``?"""
    if action not in POLICY_ACTIONS:
        raise KeyError(action)
    if not airflow_allows:
        return False
    subjects = ["Airflow admin"] if admin else []
    if role:
        subjects.append(role if role in POLICY else "other project role")
    if owner:
        subjects.append("DAG owner")
    return any(action in POLICY[s] for s in subjects)


def policy_markdown() -> str:
    """The policy as a markdown table (for the README), computed from :func:`may`."""
    columns: list[tuple[str, dict[str, Any]]] = [
               ("Airflow Viewer (any project role)", {"role": "Data owner", "airflow_allows": None}),
               ("Data owner", {"role": "Data owner"}), ("Data scientist", {"role": "Data scientist"}),
               ("other project role", {"role": "Data observer"}), ("DAG owner, not a member", {"owner": True}),
               ("Airflow admin", {"admin": True})]
    lines = ["| action | " + " | ".join(c for c, _ in columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for action in POLICY_ACTIONS:
        cells = []
        for _label, kwargs in columns:
            kw = dict(kwargs)
            if kw.pop("airflow_allows", True) is None:  # a read-only Airflow role: only READ permissions
                kw["airflow_allows"] = ACTIONS[action][1] == READ_DAGS
            cells.append("yes" if may(action, **kw) else "no")
        lines.append(f"| {action} ({action_words(action)}) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def may_act_on_dag(owners: str | None, username: str | None, admin: bool, member: bool = False,
                   action: str = "trigger") -> bool:
    """Pause, unpause or trigger a DAG from the plugin's pages (:func:`may`): its owners, the members
    of the project whose folder holds it (``member``), Airflow admins."""
    return may("pause" if action == "unpause" else action, admin=admin,
               role="Data scientist" if member else None, owner=owns_dag(owners, username))


def require_dag_actor(dag_id: str, owners: str | None, username: str, admin: bool, verb: str,
                      member: bool = False) -> None:
    """Refuse (403) a user who may not ``verb`` this DAG (:func:`may_act_on_dag`)."""
    action = verb if verb in POLICY_ACTIONS else "pause"
    if not may_act_on_dag(owners, username, admin, member, action):
        raise Forbidden(
            f"DAG {dag_id!r} is owned by {owners or 'nobody'!s}, not by you ({username}), and its file is not "
            "in a Hopsworks project you are a member of. A DAG's owners, the Data owners and Data scientists "
            "of its project and Airflow admins can pause, unpause or trigger it.",
            title=f"Cannot {verb} {dag_id}",
        )


def dag_project_member(fileloc: str | None, username: str) -> bool:
    """Is ``username`` a member (Data owner or Data scientist) of the project whose folder holds the
    DAG file ``fileloc`` (the auth manager's project rule)?"""
    from pathlib import Path

    from hopsworks_ui_plugin.dag_files import paths

    if not fileloc or not username:
        return False
    try:
        relative = Path(fileloc).resolve().relative_to(paths.dags_root())
    except (ValueError, OSError):
        return False
    if len(relative.parts) < 2:
        return False
    return relative.parts[0] in member_project_folders(username)


class _Outage:
    """Remembers that Hopsworks could not be asked, for ``[hopsworks] membership_retry_s`` seconds."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._until = 0.0

    def active(self) -> bool:
        with self._lock:
            return time.monotonic() < self._until

    def start(self) -> None:
        with self._lock:
            self._until = time.monotonic() + settings.membership_retry_s()

    def clear(self) -> None:
        with self._lock:
            self._until = 0.0


OUTAGE = _Outage()


def member_project_folders(username: str) -> list[str]:
    """Folder names (under the DAGs folder) of the Hopsworks projects ``username`` is a member of
    (Data owner or Data scientist), from the cached :data:`MEMBERSHIPS`.

    A user with their own key (My Hopsworks key) gets the projects Hopsworks lists for that key;
    others (or when their key fails) the service connection's view of the teams.
    Fails closed: when Hopsworks (or the connection) is unavailable, returns ``[]`` and logs a
    warning, so non-admins keep only the DAGs they own.
    """
    import logging

    from hopsworks_ui_plugin.dag_files.paths import project_folder_name
    from hopsworks_ui_plugin.hooks.hopsworks import hook_for, service_hook

    log = logging.getLogger("hopsworks_ui_plugin.auth_manager")
    if not username or OUTAGE.active():
        return []
    projects = None
    try:
        own = hook_for(username)
        if own is not None:
            projects = visible_projects(own, username, admin=False)
    except Exception as err:  # a revoked key, the key table unreadable, Hopsworks down: try the shared view
        log.warning("The own Hopsworks key of %s could not be used for memberships (%s); using the shared "
                    "connection.", username, err)
    try:
        if projects is None:
            projects = visible_projects(service_hook(), username, admin=False)
    except Exception as err:  # HopsworksError, a missing connection, anything: fail closed
        OUTAGE.start()
        log.warning(
            "Hopsworks project memberships are unavailable (%s); until it answers again, non-admin "
            "users only get the DAGs they own.",
            err,
        )
        return []
    folders = []
    for project, _role in projects:
        try:
            folders.append(project_folder_name(project.id, project.name))
        except ValueError:
            continue
    return folders


class TaskOwnerNotMember(PermissionError):
    pass


def check_task_owner(hook: HopsworksHook, owner: str | None, project_id: int, project_name: str) -> str:
    """Refuse a task that would use the shared key for a project its owner is not a member of.

    Hopsworks' own rule: "Hopsworks will fail to execute the tasks if your username is not correct".
    Without it any DAG author could launch jobs in any project the shared key can reach.
    The team comes from ``getProjectInfo`` (by name), which an AGENT key (Hopsworks' Airflow service
    user) may call, unlike ``GET /project/{id}``.
    """
    project = hook.get_project_info(project_name)
    if int(project.get("projectId") or -1) != int(project_id):  # a name that now means another project
        raise TaskOwnerNotMember(
            f"Hopsworks project {project_name!r} has id {project.get('projectId')}, not {project_id}; "
            "check the task's project_id/project_name."
        )
    tokens = owner_tokens(owner)
    roles = [member_role(project, t) for t in tokens]
    if tokens and all(roles):
        return str(roles[0])
    members = ", ".join(sorted(team_members(project))) or "nobody"
    raise TaskOwnerNotMember(
        f"Task owner {owner!r} is not a member (Data owner or Data scientist) of Hopsworks project "
        f"{project_name!r} (id {project_id}); members: {members}. Set the task's owner to your Hopsworks "
        "username, or pass your own API key in params={'hw_api_key': ...}."
    )


class SharedKeyOutOfScope(PermissionError):
    pass


def check_shared_key_scope(
    dag_file: str | None,
    project_id: int,
    project_name: str,
    is_project_folder: Callable[[str], bool],
    how_found: str = "",
) -> None:
    """Which project may this task's shared key reach: the one whose folder holds its DAG file.

    ``dag_file`` is the file the task runtime loaded the DAG from (see
    :func:`hopsworks_ui_plugin.task_support.loaded_dag_file`), never ``dag.fileloc``, the owner or
    anything else the DAG code sets. A file in ``<dags_folder>/<folder>/...`` may reach only the
    project whose folder (``[hopsworks] dag_folder_scheme``) is ``<folder>``. A file outside every
    project folder (directly in the DAGs folder, another bundle, unknown) may reach none, unless
    ``[hopsworks] allow_shared_key_outside_projects`` is on; ``is_project_folder(folder)`` tells a
    project's folder from another subfolder (fail closed: True when in doubt). The target's
    id/name pair must be consistent, which :func:`check_task_owner` (the second condition, run
    right after, before anything is launched) verifies with Hopsworks.
    Raises :class:`SharedKeyOutOfScope` saying why.
    """
    from pathlib import Path

    from hopsworks_ui_plugin.dag_files import paths

    try:
        target: str | None = paths.project_folder_name(int(project_id), project_name)
    except ValueError:
        target = None
    where = f" ({how_found})" if how_found else ""
    folder = None
    if dag_file:
        try:
            relative = Path(dag_file).resolve().relative_to(paths.dags_root())
        except ValueError:
            relative = None
        if relative is not None and len(relative.parts) >= 2:
            folder = relative.parts[0]
    if folder is not None and folder == target:
        return
    advice = ("Put the DAG file in that project's folder (upload it there), or pass your own API key in "
              "params={'hw_api_key': ...}.")
    if folder is not None and is_project_folder(folder):
        raise SharedKeyOutOfScope(
            f"This DAG's file {dag_file}{where} is in the folder of another project ({folder!r}); with the "
            f"shared Hopsworks key its tasks may reach only that project's jobs, not project "
            f"{project_name!r} (id {project_id}), whatever the task's owner says. {advice}"
        )
    if settings.allow_shared_key_outside_projects():
        return
    shown = dag_file or "unknown"
    raise SharedKeyOutOfScope(
        f"This DAG's file ({shown}{where}) is outside every project folder, so its tasks may not use the "
        f"shared Hopsworks key (for project {project_name!r}, id {project_id}); an admin can allow that "
        f"with [hopsworks] allow_shared_key_outside_projects = True. {advice}"
    )


@dataclass(frozen=True)
class ProjectRef:
    id: int
    name: str
    description: str
    members: dict[str, str]

    def role_of(self, username: str | None) -> str | None:
        role = self.members.get(username or "")
        return role if role in MEMBER_ROLES else None


def membership_scope(hook: HopsworksHook) -> str:
    """Whose view of Hopsworks a hook gives, as a cache key: the connection id for the shared
    connection, the user and key version for a user's own key (:class:`~hopsworks_ui_plugin.hooks.
    hopsworks.UserKeyHook`), so no user's answers are ever served from another key's cache."""
    return str(getattr(hook, "membership_scope", None) or hook.hopsworks_conn_id)


def uses_own_key(hook: HopsworksHook) -> bool:
    """The hook calls Hopsworks with a user's own key (My Hopsworks key), not the shared connection's."""
    return getattr(hook, "key_owner", None) is not None


class MembershipCache:
    """Projects and their teams as a hook's key sees them, cached for ``ttl`` seconds per
    :func:`membership_scope` (the shared connection, or one user's own key).

    Browsing pages ask "is Alice a member of project 119?" on every request; one cached team
    lookup per project per TTL keeps that from costing a Hopsworks call each time.
    """

    def __init__(self, ttl: float | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._projects: dict[tuple[str, int], tuple[float, ProjectRef]] = {}
        self._lists: dict[str, tuple[float, list[dict[str, Any]]]] = {}

    @property
    def ttl(self) -> float:
        return settings.membership_ttl_s() if self._ttl is None else self._ttl

    def clear(self) -> None:
        with self._lock:
            self._projects.clear()
            self._lists.clear()

    def discard(self, scope_prefix: str) -> None:
        """Forget what was cached for scopes starting with ``scope_prefix`` (a user's replaced key)."""
        with self._lock:
            for key in [k for k in self._lists if k.startswith(scope_prefix)]:
                del self._lists[key]
            for pkey in [k for k in self._projects if k[0].startswith(scope_prefix)]:
                del self._projects[pkey]

    def project_list(self, hook: HopsworksHook) -> list[dict[str, Any]]:
        """Projects the hook's key sees (``GET /project``), cached."""
        key = membership_scope(hook)
        now = self._clock()
        with self._lock:
            hit = self._lists.get(key)
            if hit and now - hit[0] < self.ttl:
                return hit[1]
        projects = hook.get_projects()
        with self._lock:
            self._lists[key] = (now, projects)
        return projects

    def project(self, hook: HopsworksHook, project_id: int) -> ProjectRef:
        """A project with its team, cached. Raises HopsworksError (404) for unknown projects."""
        key = (membership_scope(hook), int(project_id))
        now = self._clock()
        with self._lock:
            hit = self._projects.get(key)
            if hit and now - hit[0] < self.ttl:
                return hit[1]
        dto = hook.get_project(int(project_id))
        ref = ProjectRef(
            id=int(dto["projectId"]),
            name=str(dto["projectName"]),
            description=str(dto.get("description") or ""),
            members=team_members(dto),
        )
        with self._lock:
            self._projects[key] = (now, ref)
        return ref


MEMBERSHIPS = MembershipCache()


@dataclass(frozen=True)
class ProjectAccess:
    """What one Airflow user may do in one Hopsworks project."""

    project: ProjectRef
    role: str | None  # the user's team role; None for an admin who is not a member
    admin: bool
    username: str = ""  # who asked (for the audit trail)

    @property
    def can_operate(self) -> bool:
        """Launch/stop jobs, upload/delete DAG files: members with an allowed role, and admins."""
        return self.admin or self.role in MEMBER_ROLES


def project_access(
    hook: HopsworksHook, username: str, admin: bool, project_id: int, cache: MembershipCache | None = None
) -> ProjectAccess:
    """Check that ``username`` may see project ``project_id``; raise :class:`NotFound` or :class:`Forbidden`.

    Membership is the project's team as the service connection sees it (Airflow username =
    Hopsworks username). Airflow admins see every project the connection sees.
    With the user's own key (:func:`uses_own_key`) Hopsworks decides: membership is the projects
    ``GET /project`` returns for that key, the role comes from those rows; admins see no more.
    Raises :class:`NotFound`/:class:`Forbidden`, or HopsworksError when Hopsworks cannot be asked.
    """
    cache = cache or MEMBERSHIPS
    if uses_own_key(hook):
        return _own_key_access(hook, username, admin, int(project_id), cache)
    try:
        project = cache.project(hook, int(project_id))
    except HopsworksError as err:
        if err.http_status == 404:
            raise NotFound(f"There is no Hopsworks project with id {project_id}.") from None
        if err.http_status == 403 and err.error_code != 320003:
            raise NotFound(f"Project {project_id} is not visible to Airflow's Hopsworks connection.") from None
        raise
    return _member_access(project, username, admin)


def _member_access(project: ProjectRef, username: str, admin: bool) -> ProjectAccess:
    """The user's access to a project whose team is known: their role, or a 403 for a non-member."""
    role = project.role_of(username)
    if role is None and not admin:
        raise Forbidden(
            f"You ({username}) are not a member of Hopsworks project {project.name!r}. Ask a Data owner "
            "of the project to add you.",
            title="Not a member of this project",
        )
    return ProjectAccess(project=project, role=role, admin=admin, username=username)


def _own_projects(hook: HopsworksHook, username: str, cache: MembershipCache) -> list[tuple[ProjectRef, str | None]]:
    """``(project, role)`` of every ``GET /project`` row of the user's own key (cached)."""
    result = []
    for entry in cache.project_list(hook):
        role = entry.get("role") if entry.get("role") in MEMBER_ROLES else None
        members = {username: str(entry.get("role") or "")}
        result.append((ProjectRef(id=int(entry["id"]), name=str(entry["name"]),
                                  description=str(entry.get("description") or ""), members=members), role))
    return result


def _own_key_access(
    hook: HopsworksHook, username: str, admin: bool, project_id: int, cache: MembershipCache
) -> ProjectAccess:
    listed = next(((p, r) for p, r in _own_projects(hook, username, cache) if p.id == project_id), None)
    if listed is not None and (listed[1] is not None or admin):
        return ProjectAccess(project=listed[0], role=listed[1], admin=admin, username=username)
    # Not among the key's projects: ask Hopsworks (with the user's key) whether it exists at all.
    try:
        project = cache.project(hook, project_id)
    except HopsworksError as err:
        if err.http_status == 404:
            raise NotFound(f"There is no Hopsworks project with id {project_id}.") from None
        if err.http_status == 403 and err.error_code != 320003:
            raise Forbidden(
                f"Hopsworks does not let your key ({username}) see project {project_id}: you are not a member. "
                "Ask a Data owner of the project to add you.",
                title="Not a member of this project",
            ) from None
        raise
    return _member_access(project, username, admin)  # (joined since the cached list)


def require_operator(grant: ProjectAccess, action: str) -> None:
    """Refuse (403) a user who may look at the project but not change things in it."""
    if not grant.can_operate:
        raise Forbidden(
            f"Only Data owners and Data scientists of project {grant.project.name!r} may {action}; "
            f"your role is {grant.role or 'none'}."
        )


def visible_projects(
    hook: HopsworksHook, username: str, admin: bool, cache: MembershipCache | None = None
) -> list[tuple[ProjectRef, str | None]]:
    """``(project, role)`` for each project the user may see: their memberships, or all for admins.
    With the user's own key: exactly the projects Hopsworks lists for that key."""
    cache = cache or MEMBERSHIPS
    if uses_own_key(hook):
        return [(p, r) for p, r in _own_projects(hook, username, cache) if r is not None or admin]
    result = []
    for entry in cache.project_list(hook):
        project = cache.project(hook, int(entry["id"]))
        role = project.role_of(username)
        if role is not None or admin:
            result.append((project, role))
    return result
