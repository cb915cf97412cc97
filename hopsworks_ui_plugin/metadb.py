"""DAGs visible to a user, straight from Airflow's metadata DB: filter, sort and page in SQL.

Used by the "My DAGs" page and by :class:`hopsworks_ui_plugin.auth_manager.HopsworksAuthManager`.
Nothing here loads every DAG into Python: a page costs one ``COUNT``, one page query and one
last-run lookup for the DAG ids of that page.

Owner matching (the SQL twin of :func:`hopsworks_ui_plugin.access.owns_dag`)
-------------------------------------------------------------------------------
``DagModel.owners`` is the comma-joined owner list of a DAG's tasks (Airflow joins them with
``", "``; a task owner may itself be ``"alice,bob"``). A user owns a DAG when their username is one
of the comma-separated tokens, compared

* as an **exact token**: ``"alice2"`` is not ``"alice"``; the username's ``%``/``_``/``\\`` are
  escaped, so they never act as LIKE wildcards;
* **ignoring spaces**: ``"alice, bob"`` and ``"alice,bob"`` both belong to alice and bob;
* **ignoring case**, like Airflow itself: ``GET /api/v2/dags?owners=`` filters with
  ``DagModel.owners.ilike('%<owner>%')`` (``airflow/api_fastapi/common/parameters.py``
  ``_OwnersFilter``) and the FAB auth manager looks users up with ``lower(username) = lower(?)``,
  so ``Alice`` and ``alice`` are the same login. Unlike Airflow's filter we do not match substrings.

Stale DAGs
----------
DAGs whose file disappeared (``is_stale``) are left out, as in Airflow's list, except those made
stale by an import error in their file (``has_import_errors``): those are still the owner's DAGs,
broken, and the page shows them with the error so the owner can see why.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import false, func, literal, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from hopsworks_ui_plugin.errors import PluginError

LIKE_ESCAPE = "\\"
SORT_KEYS = ("dag_id", "owners", "last_run", "next_run")
MAX_PAGE_SIZE = 200
#: Keep ``IN (...)`` lists below every backend's bound-parameter limit.
IN_CHUNK = 1000


def escape_like(value: str) -> str:
    """``value`` as a literal inside a LIKE pattern (escape char ``\\``)."""
    return (
        value.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2)
        .replace("%", LIKE_ESCAPE + "%")
        .replace("_", LIKE_ESCAPE + "_")
    )


def owner_key(name: str) -> str:
    """The normal form owners are compared in: spaces removed, lower case."""
    return name.replace(" ", "").lower()


def _models() -> Any:
    from airflow.models.dag import DagModel
    from airflow.models.dagrun import DagRun
    from airflow.models.errors import ParseImportError

    return DagModel, DagRun, ParseImportError


def owner_clause(username: str | None) -> ColumnElement[bool]:
    """SQL: ``username`` is an owner token of ``DagModel.owners`` (see the module docstring)."""
    DagModel, _, _ = _models()
    key = owner_key(username or "")
    if not key or "," in key:
        return false()
    owners = (
        literal(",") + func.lower(func.replace(func.coalesce(DagModel.owners, ""), " ", "")) + literal(",")
    )
    return owners.like(f"%,{escape_like(key)},%", escape=LIKE_ESCAPE)


def _roots() -> list[str]:
    """The DAGs folder as stored in ``fileloc``: resolved and as configured (they differ behind symlinks)."""
    from hopsworks_ui_plugin import dag_files
    from hopsworks_ui_plugin.version_compat import conf_get

    roots = [str(dag_files.dags_root()), os.path.abspath(str(conf_get("core", "dags_folder")))]
    return list(dict.fromkeys(r.rstrip("/") for r in roots))


def folder_clause(folders: Iterable[str]) -> ColumnElement[bool]:
    """SQL: the DAG file lies under ``<dags folder>/<folder>/`` for one of ``folders``."""
    DagModel, _, _ = _models()
    conditions = [
        DagModel.fileloc.like(f"{escape_like(root)}/{escape_like(folder)}/%", escape=LIKE_ESCAPE)
        for folder in dict.fromkeys(folders)
        if folder
        for root in _roots()
    ]
    return or_(*conditions) if conditions else false()


def listed_clause() -> ColumnElement[bool]:
    """Not stale, or stale because its file fails to import (shown with the error)."""
    DagModel, _, _ = _models()
    return or_(DagModel.is_stale.is_(False), DagModel.has_import_errors.is_(True))


@dataclass(frozen=True)
class DagQuery:
    """What the page asks for. ``owner=None`` means every owner (admins only)."""

    owner: str | None = None
    search: str = ""
    folders: tuple[str, ...] | None = None  # project filter: folder names under the DAGs folder
    paused: bool | None = None
    sort: str = "dag_id"
    descending: bool = False
    offset: int = 0
    limit: int = 50

    def __post_init__(self) -> None:
        if self.sort not in SORT_KEYS:
            raise ValueError(f"sort must be one of {SORT_KEYS}")
        if not 1 <= self.limit <= MAX_PAGE_SIZE or self.offset < 0:
            raise ValueError("bad page")


@dataclass
class DagRow:
    dag_id: str
    owners: str
    fileloc: str | None
    is_paused: bool
    is_stale: bool
    schedule: str | None
    schedule_description: str | None
    next_run: datetime | None  # when the next scheduled run will be created (Airflow's "run after")
    next_logical_date: datetime | None
    has_import_errors: bool
    import_error: str | None = None
    last_run_id: str | None = None
    last_run_state: str | None = None
    last_run_at: datetime | None = None  # the run's "run after" (Airflow 3's run time)
    project: Any = None  # filled in by the page: the Hopsworks project whose folder holds the file


@dataclass
class DagPage:
    rows: list[DagRow]
    total: int
    offset: int
    limit: int
    queries: list[str] = field(default_factory=list)  # which statements ran (for tests/benchmarks)


def _filters(q: DagQuery) -> list[ColumnElement[bool]]:
    DagModel, _, _ = _models()
    where: list[ColumnElement[bool]] = [listed_clause()]
    if q.owner is not None:
        where.append(owner_clause(q.owner))
    if q.search:
        where.append(DagModel.dag_id.like(f"%{escape_like(q.search)}%", escape=LIKE_ESCAPE))
    if q.folders is not None:
        where.append(folder_clause(q.folders))
    if q.paused is not None:
        where.append(DagModel.is_paused.is_(q.paused))
    return where


def _ordered(column: Any, descending: bool) -> list[Any]:
    """NULLs last in both directions, portable (MySQL has no NULLS LAST)."""
    return [column.is_(None), column.desc() if descending else column.asc()]


def _session_scope(session: Session | None) -> Any:
    from contextlib import nullcontext

    from airflow.utils.session import create_session

    return nullcontext(session) if session is not None else create_session()


def list_dags(q: DagQuery, session: Session | None = None) -> DagPage:
    """One page of DAGs: a COUNT, the page query and one last-run lookup for the page's ids."""
    DagModel, DagRun, ParseImportError = _models()
    where = _filters(q)
    import_error = (
        select(ParseImportError.stacktrace)
        .where(
            ParseImportError.bundle_name == DagModel.bundle_name,
            ParseImportError.filename == DagModel.relative_fileloc,
        )
        .order_by(ParseImportError.id.desc())
        .limit(1)
        .correlate(DagModel)
        .scalar_subquery()
    )
    stmt = select(
        DagModel.dag_id,
        DagModel.owners,
        DagModel.fileloc,
        DagModel.is_paused,
        DagModel.is_stale,
        DagModel.timetable_summary,
        DagModel.timetable_description,
        DagModel.next_dagrun_create_after,
        DagModel.next_dagrun,
        DagModel.has_import_errors,
        import_error.label("import_error"),
    ).where(*where)
    if q.sort == "last_run":
        latest = (
            select(DagRun.dag_id.label("dag_id"), func.max(DagRun.id).label("run_pk"))
            .group_by(DagRun.dag_id)
            .subquery("latest_run")
        )
        stmt = stmt.outerjoin(latest, latest.c.dag_id == DagModel.dag_id).outerjoin(
            DagRun, DagRun.id == latest.c.run_pk
        )
        order = _ordered(DagRun.run_after, q.descending)
    elif q.sort == "next_run":
        order = _ordered(DagModel.next_dagrun_create_after, q.descending)
    elif q.sort == "owners":
        order = _ordered(func.lower(DagModel.owners), q.descending)
    else:
        order = []
    id_order = DagModel.dag_id.desc() if (q.descending and q.sort == "dag_id") else DagModel.dag_id.asc()
    stmt = stmt.order_by(*order, id_order).offset(q.offset).limit(q.limit)
    count_stmt = select(func.count()).select_from(DagModel).where(*where)

    with _session_scope(session) as s:
        total = int(s.scalar(count_stmt) or 0)
        rows = [
            DagRow(
                dag_id=r.dag_id,
                owners=r.owners or "",
                fileloc=r.fileloc,
                is_paused=bool(r.is_paused),
                is_stale=bool(r.is_stale),
                schedule=r.timetable_summary,
                schedule_description=r.timetable_description,
                next_run=r.next_dagrun_create_after,
                next_logical_date=r.next_dagrun,
                has_import_errors=bool(r.has_import_errors),
                import_error=r.import_error,
            )
            for r in s.execute(stmt)
        ]
        queries = ["count", "page"]
        if rows:
            runs = latest_runs([r.dag_id for r in rows], s)
            for row in rows:
                if row.dag_id in runs:
                    row.last_run_id, row.last_run_state, row.last_run_at = runs[row.dag_id]
            queries.append("last_runs")
    return DagPage(rows=rows, total=total, offset=q.offset, limit=q.limit, queries=queries)


def latest_runs(
    dag_ids: Sequence[str], session: Session
) -> dict[str, tuple[str, str | None, datetime | None]]:
    """``{dag_id: (run_id, state, run_after)}`` of each DAG's latest run (highest id, as Airflow's
    DAG list does), in one query."""
    _, DagRun, _ = _models()
    if not dag_ids:
        return {}
    newest = select(func.max(DagRun.id)).where(DagRun.dag_id.in_(list(dag_ids))).group_by(DagRun.dag_id)
    stmt = select(DagRun.dag_id, DagRun.run_id, DagRun.state, DagRun.run_after).where(DagRun.id.in_(newest))
    return {r.dag_id: (r.run_id, r.state, r.run_after) for r in session.execute(stmt)}


@dataclass(frozen=True)
class DagRef:
    """What access checks need to know about one DAG."""

    dag_id: str
    owners: str
    fileloc: str | None
    is_stale: bool
    is_paused: bool
    has_import_errors: bool


def dag_refs(dag_ids: Iterable[str], session: Session | None = None) -> dict[str, DagRef]:
    """Owners and file of the given DAG ids, with one query per 1000 ids."""
    DagModel, _, _ = _models()
    ids = list(dict.fromkeys(d for d in dag_ids if d))
    result: dict[str, DagRef] = {}
    if not ids:
        return result
    with _session_scope(session) as s:
        for start in range(0, len(ids), IN_CHUNK):
            stmt = select(
                DagModel.dag_id,
                DagModel.owners,
                DagModel.fileloc,
                DagModel.is_stale,
                DagModel.is_paused,
                DagModel.has_import_errors,
            ).where(DagModel.dag_id.in_(ids[start : start + IN_CHUNK]))
            for r in s.execute(stmt):
                result[r.dag_id] = DagRef(
                    r.dag_id,
                    r.owners or "",
                    r.fileloc,
                    bool(r.is_stale),
                    bool(r.is_paused),
                    bool(r.has_import_errors),
                )
    return result


def dag_ref(dag_id: str, session: Session | None = None) -> DagRef | None:
    return dag_refs([dag_id], session).get(dag_id)


def visible_dag_ids(
    username: str | None,
    folders: Iterable[str] = (),
    dag_ids: Iterable[str] | None = None,
    session: Session | None = None,
) -> set[str]:
    """Ids of DAGs (stale ones included) that ``username`` owns or whose file lies in one of
    ``folders``, optionally restricted to ``dag_ids``; computed in SQL."""
    DagModel, _, _ = _models()
    folders = [f for f in folders if f]
    rule = or_(owner_clause(username), folder_clause(folders)) if folders else owner_clause(username)
    with _session_scope(session) as s:
        if dag_ids is None:
            return set(s.scalars(select(DagModel.dag_id).where(rule)))
        ids = list(dict.fromkeys(dag_ids))
        found: set[str] = set()
        for start in range(0, len(ids), IN_CHUNK):
            chunk = ids[start : start + IN_CHUNK]
            found.update(s.scalars(select(DagModel.dag_id).where(DagModel.dag_id.in_(chunk), rule)))
        return found


def owner_choices(session: Session | None = None, limit: int = 500) -> list[str]:
    """Distinct owner tokens for the admin's owner filter (from the distinct ``owners`` strings)."""
    DagModel, _, _ = _models()
    with _session_scope(session) as s:
        values = s.scalars(
            select(DagModel.owners).where(listed_clause()).distinct().order_by(DagModel.owners).limit(limit)
        ).all()
    tokens: dict[str, str] = {}
    for value in values:
        for token in (value or "").split(","):
            token = token.strip()
            if token:
                tokens.setdefault(owner_key(token), token)
    return sorted(tokens.values(), key=str.lower)


# --- actions ----------------------------------------------------------------------------------


class ActionError(PluginError):
    """A refused action with the HTTP status to answer (400, 404, 409)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason, status=status, title="Not done")


def set_paused(dag_id: str, paused: bool, username: str) -> None:
    """Pause/unpause like ``PATCH /api/v2/dags/{dag_id}`` (``is_paused``), and audit it."""
    DagModel, _, _ = _models()
    from airflow.models.log import Log
    from airflow.utils.session import create_session

    with create_session() as session:
        changed = session.execute(
            update(DagModel).where(DagModel.dag_id == dag_id).values(is_paused=paused)
        ).rowcount  # type: ignore[attr-defined]
        if not changed:
            raise ActionError(404, f"There is no DAG {dag_id!r}.")
        session.add(
            Log(
                event="paused" if paused else "unpaused",
                owner=username,
                dag_id=dag_id,
                extra='{"source": "hopsworks my-dags"}',
            )
        )


def trigger_run(dag_id: str, username: str) -> str:
    """Create a manual DagRun exactly as ``POST /api/v2/dags/{dag_id}/dagRuns`` does in 3.3
    (same checks, ``TriggerDAGRunPostBody.validate_context`` and ``SerializedDAG.create_dagrun``).
    Returns the run id."""
    DagModel, _, _ = _models()
    from airflow.api_fastapi.core_api.datamodels.dag_run import TriggerDAGRunPostBody
    from airflow.models.dagbag import DBDagBag
    from airflow.models.log import Log
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState
    from airflow.utils.types import DagRunTriggeredByType, DagRunType

    with create_session() as session:
        dm = session.scalar(
            select(DagModel).where(DagModel.is_stale.is_(False), DagModel.dag_id == dag_id).limit(1)
        )
        if dm is None:
            if session.get(DagModel, dag_id) is not None:
                raise ActionError(409, f"DAG {dag_id!r} is not active (its file is gone or fails to import).")
            raise ActionError(404, f"There is no DAG {dag_id!r}.")
        if dm.has_import_errors:
            raise ActionError(400, f"DAG {dag_id!r} has import errors and cannot be triggered.")
        if dm.allowed_run_types is not None and DagRunType.MANUAL not in dm.allowed_run_types:
            raise ActionError(400, f"DAG {dag_id!r} does not allow manual runs.")
        dag = DBDagBag().get_latest_version_of_dag(dag_id, session=session)
        if dag is None:
            raise ActionError(409, f"DAG {dag_id!r} has not been serialized yet; try again shortly.")
        try:
            # The React UI's trigger form defaults the logical date to "now".
            params = TriggerDAGRunPostBody(logical_date=datetime.now(UTC)).validate_context(dag)
            run = dag.create_dagrun(
                run_id=params["run_id"],
                logical_date=params["logical_date"],
                data_interval=params["data_interval"],
                run_after=params["run_after"],
                conf=params["conf"],
                run_type=DagRunType.MANUAL,
                triggered_by=DagRunTriggeredByType.UI,
                triggering_user_name=username,
                state=DagRunState.QUEUED,
                partition_key=params["partition_key"],
                partition_date=params["partition_date"],
                session=session,
            )
        except ValueError as err:  # ParamValidationError is a ValueError
            raise ActionError(400, f"DAG {dag_id!r} could not be triggered: {err}") from None
        session.add(
            Log(
                event="trigger_dag_run",
                owner=username,
                dag_id=dag_id,
                run_id=run.run_id,
                extra='{"source": "hopsworks my-dags"}',
            )
        )
        return str(run.run_id)
