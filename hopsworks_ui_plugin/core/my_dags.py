"""My DAGs: the DAGs a user owns (admins: every DAG, with an owner filter), with pause and trigger.

The flow without a web framework: :func:`parse_params` turns the page's query arguments (a plain
dict) into :class:`ListParams`, :func:`list_page` builds what the page shows, :func:`dag_for_action`
decides whether a user may act on a DAG, :func:`set_paused`/:func:`trigger` do it. Refusals raise
:mod:`hopsworks_ui_plugin.errors` errors.

The listing runs in the metadata DB (:mod:`hopsworks_ui_plugin.metadb`): one COUNT, one page query,
one last-run lookup. Ownership is the one owner rule (:func:`hopsworks_ui_plugin.access.owns_dag`).
Unlike the opt-in auth manager, this page is owner-only: membership of the project whose folder
holds a DAG does not make it "mine".
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hopsworks_ui_plugin import access, metadb
from hopsworks_ui_plugin.dag_files.paths import project_folder_name, project_of_file
from hopsworks_ui_plugin.errors import BadInput, Forbidden, HopsworksError, NotFound

PAGE_SIZES = (25, 50, 100, 200)
DEFAULT_PAGE_SIZE = 50
MAX_SEARCH = 250
SORT_LABELS = {"dag_id": "DAG id", "owners": "Owners", "last_run": "Last run", "next_run": "Next run"}
ORDERS = ("asc", "desc")
PAUSED_CHOICES: dict[str, bool | None] = {"": None, "paused": True, "active": False}
TITLE = "My DAGs: bad request"


# --- the list's query ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListParams:
    """The list's query: ``page``, ``per_page``, ``sort``, ``order``, ``q`` and the page's own
    filters ``owner`` (admins), ``project``, ``paused``."""

    q: str = ""
    owner: str | None = None  # whose DAGs are listed; None: everyone's (admins)
    owner_filter: str = ""  # the admin's owner filter as asked (empty for non-admins)
    project: int | None = None
    paused: str = ""
    sort: str = "dag_id"
    order: str = "asc"
    page: int = 1
    per_page: int = DEFAULT_PAGE_SIZE

    @property
    def filtered(self) -> bool:
        return bool(self.q or self.owner_filter or self.project or self.paused)

    def args(self, **changes: Any) -> dict[str, Any]:
        """The query arguments of this list, some changed, without empty or default values."""
        values: dict[str, Any] = {
            "q": self.q,
            "owner": self.owner_filter,
            "project": self.project or "",
            "paused": self.paused,
            "sort": self.sort,
            "order": self.order,
            "per_page": self.per_page if self.per_page != DEFAULT_PAGE_SIZE else "",
            "page": self.page if self.page != 1 else "",
        }
        values.update(changes)
        return {k: v for k, v in values.items() if v not in ("", None)}

    def sort_args(self, column: str) -> dict[str, Any]:
        """Sorting by ``column``: the same column flips the order, another starts ascending; page 1."""
        order = "desc" if column == self.sort and self.order == "asc" else "asc"
        return self.args(sort=column, order=order, page="")

    def query(self, folders: tuple[str, ...] | None) -> metadb.DagQuery:
        return metadb.DagQuery(
            owner=self.owner,
            search=self.q,
            folders=folders,
            paused=PAUSED_CHOICES[self.paused],
            sort=self.sort,
            descending=self.order == "desc",
            offset=(self.page - 1) * self.per_page,
            limit=self.per_page,
        )


def _int_arg(args: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    raw = str(args.get(name, "") or "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadInput(f"{name} must be a whole number, not {raw[:40]!r}.", title=TITLE) from None
    if value < minimum:
        raise BadInput(f"{name} must be at least {minimum}.", title=TITLE)
    return value


def parse_params(args: Mapping[str, str], username: str, admin: bool) -> ListParams:
    """The list's query from the request's arguments; :class:`BadInput` for a bad value,
    :class:`Forbidden` for a non-admin asking for another owner's DAGs."""
    q = str(args.get("q", "") or "").strip()
    if len(q) > MAX_SEARCH:
        raise BadInput(f"The search text is longer than {MAX_SEARCH} characters.", title=TITLE)
    owner = str(args.get("owner", "") or "").strip()
    if not admin:
        if owner and not access.owns_dag(owner, username):
            raise Forbidden(f"Only Airflow admins can list other users' DAGs (you are {username}).",
                            title="My DAGs")
        owner = username
    sort = str(args.get("sort", "") or "dag_id")
    if sort not in SORT_LABELS:
        raise BadInput(f"Unknown sort {sort[:40]!r}; use one of: {', '.join(SORT_LABELS)}.", title=TITLE)
    order = str(args.get("order", "") or "asc")
    if order not in ORDERS:
        raise BadInput("order must be asc or desc.", title=TITLE)
    paused = str(args.get("paused", "") or "")
    if paused not in PAUSED_CHOICES:
        raise BadInput("paused must be empty, 'paused' or 'active'.", title=TITLE)
    per_page = _int_arg(args, "per_page", DEFAULT_PAGE_SIZE, 1)
    if per_page not in PAGE_SIZES:
        raise BadInput(f"per_page must be one of {', '.join(map(str, PAGE_SIZES))}.", title=TITLE)
    project = _int_arg(args, "project", 0, 1) or None
    return ListParams(
        q=q,
        owner=owner or None,
        owner_filter=owner if admin else "",
        project=project,
        paused=paused,
        sort=sort,
        order=order,
        page=_int_arg(args, "page", 1, 1),
        per_page=per_page,
    )


# --- the page --------------------------------------------------------------------------------------


@dataclass
class ProjectName:
    """A project as the project column needs it."""

    id: int
    name: str


@dataclass
class MyDagsPage:
    """What the My DAGs page shows."""

    params: ListParams
    result: metadb.DagPage
    pages: int
    project_choices: list[Any] = field(default_factory=list)  # projects the user may filter by
    owner_choices: list[str] = field(default_factory=list)  # admins: every owner token
    hopsworks_problem: str | None = None  # why the project column and filter are off
    notices: list[str] = field(default_factory=list)


def require_list_permission(user: Any) -> None:
    """Refuse (403) a user whose Airflow role may not read DAGs (:data:`access.ACTIONS`)."""
    access.require_airflow_permission(user, "browse")


def all_projects(hook_factory: Any) -> tuple[list[ProjectName], str | None]:
    """Every project the page's key sees (the user's own key, else the shared connection; for the project
    column), or why not (an AGENT shared key: the one clear sentence of :mod:`hopsworks_ui_plugin.core.keys`)."""
    from hopsworks_ui_plugin.core.keys import shared_problem_text

    try:
        listed = access.MEMBERSHIPS.project_list(hook_factory())
    except Exception as err:  # HopsworksError, the connection is not configured, ...
        return [], shared_problem_text(err)
    return [ProjectName(int(p["id"]), str(p["name"])) for p in listed if p.get("id") is not None], None


def list_page(params: ListParams, username: str, admin: bool, hook_factory: Any = None) -> MyDagsPage:
    """One page of the user's DAGs with their Hopsworks projects. Without Hopsworks the page still
    answers (no project column, a warning); a project filter the user may not use raises
    :class:`NotFound`/:class:`Forbidden`."""
    if hook_factory is None:
        from hopsworks_ui_plugin.hooks.hopsworks import service_hook as hook_factory
    projects, problem = all_projects(hook_factory)
    choices: list[Any] = []
    notices: list[str] = []
    folders: tuple[str, ...] | None = None
    if problem is None:
        try:
            choices = [p for p, _role in access.visible_projects(hook_factory(), username, admin)]
        except HopsworksError as err:
            problem = str(err)
    if params.project is not None:
        if problem is not None:
            notices.append("The project filter was not applied: Hopsworks could not be asked which folder "
                           "belongs to the project.")
        else:
            grant = access.project_access(hook_factory(), username, admin, params.project)
            try:
                folders = (project_folder_name(grant.project.id, grant.project.name),)
            except ValueError as err:
                raise BadInput(str(err), title="My DAGs") from None
    result = metadb.list_dags(params.query(folders))
    if projects:
        for row in result.rows:
            row.project = project_of_file(row.fileloc, projects)
    return MyDagsPage(
        params=params,
        result=result,
        pages=max(1, math.ceil(result.total / params.per_page)),
        project_choices=choices,
        owner_choices=metadb.owner_choices() if admin else [],
        hopsworks_problem=problem,
        notices=notices,
    )


# --- actions ---------------------------------------------------------------------------------------


def dag_for_action(dag_id: str, user: Any, verb: str, *, run: bool = False) -> metadb.DagRef:
    """The DAG ``user`` wants to ``verb`` (an action of :data:`access.ACTIONS`, e.g. ``"pause"``,
    ``"trigger"``), if they may. :class:`NotFound`, with one sentence for both, for an unknown DAG and
    for a DAG the user is neither an owner of, nor a member of its project, nor an admin (it is not
    theirs to see); :class:`Forbidden` when :func:`access.may_act_on_dag` or the configured auth
    manager refuses the action's Airflow permission on this DAG (FAB roles, e.g. a Viewer)."""
    action = verb if verb in access.ACTIONS else ("trigger" if run else "pause")
    username, admin = access.username_of(user), access.is_admin(user)
    dag = metadb.dag_ref(dag_id)
    owner = dag is not None and access.owns_dag(dag.owners, username)
    member = dag is not None and not admin and not owner and access.dag_project_member(
        dag.fileloc, username)  # the project rule (access.POLICY): asked only when it decides
    if dag is None or not (admin or owner or member):
        # A DAG of a project the user is not in looks like no DAG at all (as Hopsworks answers 404 for
        # another project's job): the same sentence, so a refusal does not tell which ids exist.
        raise NotFound(
            f"There is no DAG {dag_id!r} among yours: no such DAG exists, or it is neither owned by you "
            f"({username}) nor in a Hopsworks project you are a member of.",
            title=f"DAG {dag_id} not found",
        )
    access.require_dag_actor(dag_id, dag.owners, username, admin, verb, member=member)
    access.require_airflow_permission(user, action, dag_id)
    return dag


def parse_paused(raw: str | None) -> bool:
    """The pause form's value: ``"true"``/``"false"``."""
    if raw not in ("true", "false"):
        raise BadInput("paused must be 'true' or 'false'.", title="Pause DAG")
    return raw == "true"


def set_paused(dag: metadb.DagRef, paused: bool, username: str) -> str:
    """Pause or unpause; returns the message to show."""
    metadb.set_paused(dag.dag_id, paused, username)
    return f"DAG {dag.dag_id} is {'paused' if paused else 'active (unpaused)'}."


MAX_CONF_CHARS = 64 * 1024


def parse_trigger_options(conf_text: str | None, logical_date_text: str | None) -> tuple[dict[str, Any] | None,
                                                                                     datetime | None]:
    """The trigger dialog's options, as Airflow's own dialog takes them: run conf as a JSON object, and an
    optional logical date (ISO 8601; without a time zone it is UTC). Raises :class:`BadInput`."""
    conf: dict[str, Any] | None = None
    text = (conf_text or "").strip()
    if text:
        if len(text) > MAX_CONF_CHARS:
            raise BadInput(f"The run conf is limited to {MAX_CONF_CHARS} characters.", title="Trigger DAG")
        try:
            parsed = json.loads(text)
        except ValueError as err:
            raise BadInput(f"The run conf is not valid JSON: {err}. Nothing was triggered.",
                           title="Trigger DAG") from None
        if not isinstance(parsed, dict):
            raise BadInput("The run conf must be a JSON object ({...}). Nothing was triggered.", title="Trigger DAG")
        conf = parsed
    when: datetime | None = None
    raw = (logical_date_text or "").strip()
    if raw:
        try:
            when = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            raise BadInput(f"Invalid logical date {raw!r}: use YYYY-MM-DDTHH:MM (UTC). Nothing was triggered.",
                           title="Trigger DAG") from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
    return conf, when


def trigger(dag: metadb.DagRef, username: str, *, conf: dict[str, Any] | None = None,
            logical_date: datetime | None = None) -> str:
    """Queue a manual run; returns the message to show."""
    run_id = metadb.trigger_run(dag.dag_id, username, conf=conf, logical_date=logical_date)
    return f"Triggered DAG {dag.dag_id}: run {run_id} is queued."

