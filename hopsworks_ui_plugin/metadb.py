"""The one module that reads and writes Airflow's metadata DB (DAGs, runs, import errors, audit log).

Every query on Airflow's tables lives here, behind small functions, and so does every difference
between Airflow versions in those tables; the branches ask the flags of
:mod:`hopsworks_ui_plugin.version_compat`:

============================  ===============================  ==================================
what                          Airflow 3                        Airflow 2
============================  ===============================  ==================================
a DAG whose file is gone      ``DagModel.is_stale``            ``not DagModel.is_active``
file of a DAG / import error  ``bundle_name`` +                absolute ``fileloc`` /
                              ``relative_fileloc``             ``ParseImportError.filename``
when a run ran                ``DagRun.run_after``             ``DagRun.execution_date``
schedule shown                ``timetable_summary``            ``timetable_description``
serialized DAG to trigger     ``DBDagBag`` (3.1+),             ``trigger_dag`` (reads the
                              ``DagBag(read_dags_from_db)``    serialized DAG)
                              (3.0)
============================  ===============================  ==================================

Used by the "My DAGs" flow (:mod:`hopsworks_ui_plugin.core.my_dags`), the auth manager and the DAG
files' DB records. Nothing here loads every DAG into Python: a My DAGs page costs one ``COUNT``, one
page query and one last-run lookup for the DAG ids of that page.

Owner matching: :func:`owner_clause` is the SQL twin of :func:`hopsworks_ui_plugin.access.owns_dag`
(exact token of the comma-separated owners, ASCII case and surrounding spaces ignored; see there).

Stale DAGs: DAGs whose file disappeared are left out of lists, as in Airflow's list, except those
made stale by an import error in their file (``has_import_errors``): those are still the owner's
DAGs, broken, and the page shows them with the error so the owner can see why.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, false, func, literal, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from hopsworks_ui_plugin.access import owner_key
from hopsworks_ui_plugin.errors import BadInput, Conflict, NotFound
from hopsworks_ui_plugin.version_compat import (
    AIRFLOW_V_3,
    AIRFLOW_V_3_1_PLUS,
    AIRFLOW_V_3_2_PLUS,
    AIRFLOW_V_3_3_PLUS,
    manual_run_params,
)

log = logging.getLogger(__name__)
LIKE_ESCAPE = "\\"
SORT_KEYS = ("dag_id", "owners", "last_run", "next_run")
MAX_PAGE_SIZE = 200
#: Keep ``IN (...)`` lists below every backend's bound-parameter limit.
IN_CHUNK = 1000
#: ``replace(x, '  ', ' ')`` passes in :func:`owner_clause`: runs of up to 2**7 spaces become one.
_SPACE_PASSES = 7
#: ``extra`` of every audit entry says where it came from.
AUDIT_SOURCE = "hopsworks plugin"
#: Parts of a name that never go into an audit entry's ``extra`` (keys, passwords, tokens).
_SECRET_WORDS = ("key", "password", "secret", "token")


def escape_like(value: str) -> str:
    """``value`` as a literal inside a LIKE pattern (escape char ``\\``)."""
    return (
        value.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2)
        .replace("%", LIKE_ESCAPE + "%")
        .replace("_", LIKE_ESCAPE + "_")
    )


def _models() -> Any:
    from airflow.models.dag import DagModel
    from airflow.models.dagrun import DagRun
    from airflow.models.errors import ParseImportError

    return DagModel, DagRun, ParseImportError


def _session_scope(session: Session | None) -> Any:
    from airflow.utils.session import create_session

    return nullcontext(session) if session is not None else create_session()


def _read_scope(session: Session | None) -> Any:
    """For a read on a hot path (every upload): the caller's session, else a plain connection of
    Airflow's engine (no ORM session to set up, commit and close)."""
    from airflow import settings as airflow_settings

    if session is not None or airflow_settings.engine is None:
        return _session_scope(session)
    return airflow_settings.engine.connect()


# --- the version differences in the tables --------------------------------------------------------


def stale_column() -> ColumnElement[bool]:
    """SQL: the DAG's file is gone (3.x ``is_stale``; 2.x ``is_active`` false)."""
    DagModel, _, _ = _models()
    if AIRFLOW_V_3:
        return DagModel.is_stale  # type: ignore[no-any-return]
    return DagModel.is_active.is_(False)  # type: ignore[no-any-return]  # pragma: no cover - Airflow 2


def _not_stale() -> ColumnElement[bool]:
    DagModel, _, _ = _models()
    if AIRFLOW_V_3:
        return DagModel.is_stale.is_(False)  # type: ignore[no-any-return]
    return DagModel.is_active.is_(True)  # type: ignore[no-any-return]  # pragma: no cover - Airflow 2


def run_time_column() -> Any:
    """When a run is for: 3.x ``run_after``; 2.x ``execution_date``."""
    _, DagRun, _ = _models()
    return DagRun.run_after if AIRFLOW_V_3 else DagRun.execution_date


def schedule_columns() -> tuple[Any, Any]:
    """(short schedule, its description): 3.x ``timetable_summary``; 2.x ``timetable_description``."""
    DagModel, _, _ = _models()
    if AIRFLOW_V_3:
        return DagModel.timetable_summary, DagModel.timetable_description
    return DagModel.timetable_description, DagModel.timetable_description  # pragma: no cover - Airflow 2


def _dag_import_error() -> Any:
    """Correlated subquery: the newest import-error text of the DAG's file."""
    DagModel, _, ParseImportError = _models()
    same_file: tuple[Any, ...]
    if AIRFLOW_V_3:
        same_file = (
            ParseImportError.bundle_name == DagModel.bundle_name,
            ParseImportError.filename == DagModel.relative_fileloc,
        )
    else:  # pragma: no cover - Airflow 2
        same_file = (ParseImportError.filename == DagModel.fileloc,)
    return (
        select(ParseImportError.stacktrace)
        .where(*same_file)
        .order_by(ParseImportError.id.desc())
        .limit(1)
        .correlate(DagModel)
        .scalar_subquery()
    )


# --- who sees what ---------------------------------------------------------------------------------


def owner_clause(username: str | None) -> ColumnElement[bool]:
    """SQL: ``username`` is an owner token of ``DagModel.owners``, by the rule of
    :func:`hopsworks_ui_plugin.access.owns_dag` (tests/test_owner_rule.py proves they agree).

    ``"," + lower(owners) + ","`` with runs of spaces collapsed to one and the space beside each
    comma removed is the list of normalised tokens; the username (escaped, so ``%``/``_`` are
    literal) must appear between two commas.
    """
    DagModel, _, _ = _models()
    key = owner_key(username)
    if not key or "," in key or " " in key:
        return false()
    owners: Any = literal(",") + func.lower(func.coalesce(DagModel.owners, "")) + literal(",")
    for _ in range(_SPACE_PASSES):
        owners = func.replace(owners, "  ", " ")
    owners = func.replace(func.replace(owners, ", ", ","), " ,", ",")
    return owners.like(f"%,{escape_like(key)},%", escape=LIKE_ESCAPE)  # type: ignore[no-any-return]


def _roots() -> list[str]:
    """The DAGs folder as stored in ``fileloc``: resolved and as configured (they differ behind symlinks)."""
    from hopsworks_ui_plugin.dag_files.paths import dags_root
    from hopsworks_ui_plugin.version_compat import conf_get

    roots = [str(dags_root()), os.path.abspath(str(conf_get("core", "dags_folder")))]
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
    return or_(_not_stale(), DagModel.has_import_errors.is_(True))


# --- the My DAGs list ------------------------------------------------------------------------------


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


#: How many of each DAG's last runs My DAGs shows as squares.
RECENT_RUNS = 10


@dataclass(frozen=True)
class RunSquare:
    """One of a DAG's last runs, as a coloured square on My DAGs."""

    run_id: str
    state: str | None
    start: datetime | None  # when it started (None: not started yet)
    run_at: datetime | None  # its run time ("run after")


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
    recent_runs: list[RunSquare] = field(default_factory=list)  # the last RECENT_RUNS runs, oldest first
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


def list_dags(q: DagQuery, session: Session | None = None) -> DagPage:
    """One page of DAGs: a COUNT, the page query and one last-run lookup for the page's ids."""
    DagModel, DagRun, _ = _models()
    where = _filters(q)
    schedule, schedule_description = schedule_columns()
    stmt = select(
        DagModel.dag_id,
        DagModel.owners,
        DagModel.fileloc,
        DagModel.is_paused,
        stale_column().label("is_stale"),
        schedule.label("schedule"),
        schedule_description.label("schedule_description"),
        DagModel.next_dagrun_create_after,
        DagModel.next_dagrun,
        DagModel.has_import_errors,
        _dag_import_error().label("import_error"),
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
        order = _ordered(run_time_column(), q.descending)
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
                schedule=r.schedule,
                schedule_description=r.schedule_description,
                next_run=r.next_dagrun_create_after,
                next_logical_date=r.next_dagrun,
                has_import_errors=bool(r.has_import_errors),
                import_error=r.import_error,
            )
            for r in s.execute(stmt)
        ]
        queries = ["count", "page"]
        if rows:
            runs = recent_runs([r.dag_id for r in rows], s)
            for row in rows:
                row.recent_runs = runs.get(row.dag_id, [])
                if row.recent_runs:
                    last = row.recent_runs[-1]
                    row.last_run_id, row.last_run_state, row.last_run_at = last.run_id, last.state, last.run_at
            queries.append("recent_runs")
    return DagPage(rows=rows, total=total, offset=q.offset, limit=q.limit, queries=queries)


def recent_runs(dag_ids: Sequence[str], session: Session, limit: int = RECENT_RUNS) -> dict[str, list[RunSquare]]:
    """``{dag_id: [RunSquare, ...]}``: each DAG's last ``limit`` runs (highest ids, as Airflow's DAG
    list), oldest first, in ONE query (``row_number()`` over each DAG's runs)."""
    _, DagRun, _ = _models()
    if not dag_ids:
        return {}
    numbered = (
        select(
            DagRun.dag_id.label("dag_id"), DagRun.run_id.label("run_id"), DagRun.state.label("state"),
            DagRun.start_date.label("start"), run_time_column().label("run_at"), DagRun.id.label("pk"),
            func.row_number().over(partition_by=DagRun.dag_id, order_by=DagRun.id.desc()).label("n"),
        )
        .where(DagRun.dag_id.in_(list(dag_ids)))
        .subquery("recent_run")
    )
    stmt = select(numbered).where(numbered.c.n <= limit).order_by(numbered.c.dag_id, numbered.c.pk)
    result: dict[str, list[RunSquare]] = {}
    for r in session.execute(stmt):
        result.setdefault(r.dag_id, []).append(RunSquare(r.run_id, r.state, r.start, r.run_at))
    return result


def owner_choices(session: Session | None = None, limit: int = 500) -> list[str]:
    """Distinct owner tokens for the admin's owner filter (from the distinct ``owners`` strings)."""
    from hopsworks_ui_plugin.access import owner_tokens

    DagModel, _, _ = _models()
    with _session_scope(session) as s:
        values = s.scalars(
            select(DagModel.owners).where(listed_clause()).distinct().order_by(DagModel.owners).limit(limit)
        ).all()
    tokens: dict[str, str] = {}
    for value in values:
        for token in owner_tokens(value):
            tokens.setdefault(owner_key(token), token)
    return sorted(tokens.values(), key=str.lower)


# --- single DAGs ----------------------------------------------------------------------------------


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
                stale_column().label("is_stale"),
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


# --- actions ---------------------------------------------------------------------------------------


def audit(
    event: str,
    username: str,
    *,
    dag_id: str | None = None,
    extra: dict[str, Any] | None = None,
    run_id: str | None = None,
    session: Session | None = None,
) -> None:
    """One entry in Airflow's own event log (the ``log`` table: Airflow's Audit Log, ``/api/v2/eventLogs``)
    for a plugin action: ``event`` (``hopsworks.launch`` ...), who (``owner``), the DAG if any, and in
    ``extra`` (JSON) the source and what it was about (project, job, file, execution id). Entries whose
    name looks like a secret (key, password, token) are left out: an audit entry never holds a key.
    With ``session`` it joins that transaction (written with the action or not at all); without, the
    action (a Hopsworks call, a file) is already done, so a failing write is logged as an error rather
    than raised (a retry of the request would repeat the action)."""
    from airflow.models.log import Log

    details: dict[str, Any] = {"source": AUDIT_SOURCE}
    details.update({k: v for k, v in (extra or {}).items()
                    if v is not None and not any(word in k.lower() for word in _SECRET_WORDS)})
    entry = Log(event=event, owner=username, dag_id=dag_id, run_id=run_id,
                extra=json.dumps(details, sort_keys=True, default=str))
    if session is not None:
        session.add(entry)
        return
    try:
        with _session_scope(None) as s:
            s.add(entry)
    except Exception:
        log.exception("Could not write the audit entry %s by %s (%s)", event, username, details)


def audit_entries(
    *, event_prefix: str = "hopsworks.", owner: str | None = None, dag_id: str | None = None, limit: int = 200,
    session: Session | None = None,
) -> list[dict[str, Any]]:
    """The plugin's newest audit entries (``event``, ``owner``, ``dag_id``, ``extra`` as a dict), newest
    first; filtered by owner / dag_id when given."""
    from airflow.models.log import Log

    query = select(Log.event, Log.owner, Log.dag_id, Log.run_id, Log.extra).where(
        Log.event.like(escape_like(event_prefix) + "%", escape=LIKE_ESCAPE))
    if owner is not None:
        query = query.where(Log.owner == owner)
    if dag_id is not None:
        query = query.where(Log.dag_id == dag_id)
    with _session_scope(session) as s:
        rows = s.execute(query.order_by(Log.id.desc()).limit(limit)).all()
    return [{"event": r.event, "owner": r.owner, "dag_id": r.dag_id, "run_id": r.run_id,
             "extra": json.loads(r.extra) if r.extra else {}} for r in rows]


def audit_scopes(prefix: str, session: Session | None = None) -> set[str]:
    """The distinct ``dag_id`` values of event-log entries starting with ``prefix`` (the plugin's
    per-project audit scopes, see :func:`hopsworks_ui_plugin.access.audit_scope`)."""
    from airflow.models.log import Log

    with _session_scope(session) as s:
        return set(s.scalars(select(Log.dag_id).where(
            Log.dag_id.like(escape_like(prefix) + "%", escape=LIKE_ESCAPE)).distinct()))


def set_paused(dag_id: str, paused: bool, username: str) -> None:
    """Pause/unpause like ``PATCH /api/v2/dags/{dag_id}`` (``is_paused``), and audit it.
    Raises :class:`NotFound` for an unknown DAG."""
    DagModel, _, _ = _models()
    from airflow.utils.session import create_session

    with create_session() as session:
        changed = session.execute(
            update(DagModel).where(DagModel.dag_id == dag_id).values(is_paused=paused)
        ).rowcount  # type: ignore[attr-defined]
        if not changed:
            raise NotFound(f"There is no DAG {dag_id!r}.", title=f"Could not {'pause' if paused else 'unpause'}")
        audit("hopsworks.pause" if paused else "hopsworks.unpause", username, dag_id=dag_id, session=session)


def trigger_run(dag_id: str, username: str, *, conf: dict[str, Any] | None = None,
                logical_date: datetime | None = None) -> str:
    """Create a manual DagRun as ``POST /api/v2/dags/{dag_id}/dagRuns`` does (same checks; ``conf`` and
    ``logical_date`` as in Airflow's trigger dialog, the date defaulting to now), and audit it. Returns the
    run id. Raises :class:`NotFound` (no such DAG), :class:`Conflict` (stale,
    not serialized yet) or :class:`BadInput` (import errors, manual runs not allowed, bad params)."""
    DagModel, _, _ = _models()
    from airflow.utils.session import create_session

    title = f"Could not trigger {dag_id}"
    with create_session() as session:
        dm = session.scalar(select(DagModel).where(_not_stale(), DagModel.dag_id == dag_id).limit(1))
        if dm is None:
            if session.get(DagModel, dag_id) is not None:
                raise Conflict(f"DAG {dag_id!r} is not active (its file is gone or fails to import).", title=title)
            raise NotFound(f"There is no DAG {dag_id!r}.", title=title)
        if dm.has_import_errors:
            raise BadInput(f"DAG {dag_id!r} has import errors and cannot be triggered.", title=title)
        allowed = dm.allowed_run_types if AIRFLOW_V_3_2_PLUS else None  # the column exists from 3.2
        if allowed is not None and "manual" not in {str(getattr(t, "value", t)) for t in allowed}:
            raise BadInput(f"DAG {dag_id!r} does not allow manual runs.", title=title)
        try:
            when = logical_date or datetime.now(UTC)
            run_id = (_create_manual_run(dag_id, username, session, conf=conf, logical_date=when) if AIRFLOW_V_3
                      else _trigger_v2(dag_id, conf=conf, logical_date=when))
        except ValueError as err:  # ParamValidationError is a ValueError
            raise BadInput(f"DAG {dag_id!r} could not be triggered: {err}", title=title) from None
        if run_id is None:
            raise Conflict(f"DAG {dag_id!r} has not been serialized yet; try again shortly.", title=title)
        audit("hopsworks.trigger", username, dag_id=dag_id, run_id=run_id, extra={"run_id": run_id},
              session=session)
        return run_id


def _serialized_dag(dag_id: str, session: Session) -> Any:
    """The latest serialized DAG, as the API's trigger endpoint reads it."""
    if AIRFLOW_V_3_1_PLUS:
        from airflow.models.dagbag import DBDagBag

        return DBDagBag().get_latest_version_of_dag(dag_id, session=session)
    from airflow.models.dagbag import DagBag  # pragma: no cover - Airflow 3.0

    return DagBag(read_dags_from_db=True).get_dag(dag_id, session=session)  # pragma: no cover


def _create_manual_run(dag_id: str, username: str, session: Session, *, conf: dict[str, Any] | None,
                       logical_date: datetime) -> str | None:
    """Airflow 3: ``TriggerDAGRunPostBody.validate_context`` and ``create_dagrun``, like the API."""
    from airflow.utils.state import DagRunState
    from airflow.utils.types import DagRunTriggeredByType, DagRunType

    dag = _serialized_dag(dag_id, session)
    if dag is None:
        return None
    params = manual_run_params(dag, logical_date=logical_date, conf=conf)
    # Partitioned runs: validate_context returns partition_key from 3.2, partition_date from 3.3.
    partition = ("partition_key", "partition_date") if AIRFLOW_V_3_3_PLUS else ("partition_key",)
    extra: dict[str, Any] = {k: params[k] for k in partition} if AIRFLOW_V_3_2_PLUS else {}
    if AIRFLOW_V_3_1_PLUS:
        extra["triggering_user_name"] = username
    run = dag.create_dagrun(
        run_id=params["run_id"],
        logical_date=params["logical_date"],
        data_interval=params["data_interval"],
        run_after=params["run_after"],
        conf=params["conf"],
        run_type=DagRunType.MANUAL,
        triggered_by=DagRunTriggeredByType.UI,
        state=DagRunState.QUEUED,
        session=session,
        **extra,
    )
    return str(run.run_id)


def _trigger_v2(dag_id: str, *, conf: dict[str, Any] | None,
                logical_date: datetime) -> str | None:  # pragma: no cover - Airflow 2
    """Airflow 2: ``trigger_dag`` reads the serialized DAG and creates the manual run."""
    from airflow.api.common.trigger_dag import trigger_dag
    from airflow.exceptions import DagNotFound

    try:
        run = trigger_dag(dag_id=dag_id, conf=conf, execution_date=logical_date)  # type: ignore[call-arg]
    except DagNotFound:
        return None
    return str(run.run_id) if run is not None else None


# --- DB records of DAG files (the DAG-file pages: listing, delete) ---------------------------------


@dataclass(frozen=True)
class DagFileRow:
    """A DAG row as the DAG-file pages need it (``relative_fileloc``/``bundle_name``: None on 2.x)."""

    dag_id: str
    owners: str
    is_paused: bool
    is_stale: bool
    fileloc: str
    relative_fileloc: str | None
    bundle_name: str | None


@dataclass(frozen=True)
class ImportErrorRow:
    """An import error; ``filename`` relative to the DAGs folder (``<folder>/<file>.py``) on every version."""

    filename: str
    bundle_name: str | None
    timestamp: datetime | None
    stacktrace: str


def dags_under(relative_prefix: str, absolute_prefixes: Iterable[str]) -> list[DagFileRow]:
    """DAG rows whose file lies under a folder: ``relative_fileloc`` starts with ``relative_prefix``
    (3.x) or ``fileloc`` with one of ``absolute_prefixes`` (each ending with ``/``). One query."""
    DagModel, _, _ = _models()
    conditions = [DagModel.fileloc.like(escape_like(p) + "%", escape=LIKE_ESCAPE) for p in absolute_prefixes]
    columns = [DagModel.dag_id, DagModel.owners, DagModel.is_paused, stale_column().label("is_stale"),
               DagModel.fileloc]
    if AIRFLOW_V_3:
        conditions.append(DagModel.relative_fileloc.like(escape_like(relative_prefix) + "%", escape=LIKE_ESCAPE))
        columns += [DagModel.relative_fileloc, DagModel.bundle_name]
    with _session_scope(None) as session:
        rows = session.execute(select(*columns).where(or_(*conditions) if conditions else false())).all()
    return [
        DagFileRow(str(r.dag_id), str(r.owners or ""), bool(r.is_paused), bool(r.is_stale), str(r.fileloc or ""),
                   getattr(r, "relative_fileloc", None), getattr(r, "bundle_name", None))
        for r in rows
    ]


def _import_error_filter(relative: str, bundles: Iterable[str], absolute: Iterable[str], prefix: bool) -> Any:
    """Import-error rows of one file (``prefix=False``) or of every file under a folder (``True``):
    3.x by bundle and relative file name, 2.x by absolute file name."""
    _, _, ParseImportError = _models()

    def match(value: str) -> Any:
        if prefix:
            return ParseImportError.filename.like(escape_like(value) + "%", escape=LIKE_ESCAPE)
        return ParseImportError.filename == value

    if AIRFLOW_V_3:
        return (match(relative), ParseImportError.bundle_name.in_(list(bundles)))
    absolute = list(absolute)  # pragma: no cover - Airflow 2
    return (or_(*[match(a) for a in absolute]) if absolute else false(),)  # pragma: no cover


def import_errors_under(
    relative_prefix: str, bundles: Iterable[str], absolute_prefixes: Iterable[str] = ()
) -> list[ImportErrorRow]:
    """Import errors of the files under a folder (``relative_prefix`` ends with ``/``; on 2.x the
    absolute folder paths ``absolute_prefixes``, each ending with ``/``, are matched instead)."""
    _, _, ParseImportError = _models()
    absolute_prefixes = list(absolute_prefixes)
    columns = [ParseImportError.filename, ParseImportError.timestamp, ParseImportError.stacktrace]
    if AIRFLOW_V_3:
        columns.append(ParseImportError.bundle_name)
    where = _import_error_filter(relative_prefix, bundles, absolute_prefixes, prefix=True)
    with _session_scope(None) as session:
        rows = session.execute(select(*columns).where(*where)).all()
    result = []
    for r in rows:
        filename = str(r.filename or "")
        if not AIRFLOW_V_3:  # pragma: no cover - Airflow 2: make it relative like 3.x
            base = next((p for p in absolute_prefixes if filename.startswith(p)), None)
            filename = relative_prefix + filename[len(base):] if base else filename
        result.append(ImportErrorRow(filename, getattr(r, "bundle_name", None), r.timestamp, str(r.stacktrace or "")))
    return result


def count_import_errors(relative_name: str, bundles: Iterable[str], absolute_names: Iterable[str] = ()) -> int:
    """How many import-error rows one file has."""
    _, _, ParseImportError = _models()
    where = _import_error_filter(relative_name, list(bundles), list(absolute_names), prefix=False)
    with _session_scope(None) as session:
        return int(session.scalar(select(func.count()).select_from(ParseImportError).where(*where)) or 0)


def delete_import_errors(relative_name: str, bundles: Iterable[str], absolute_names: Iterable[str] = ()) -> None:
    """Delete one file's import errors."""
    _, _, ParseImportError = _models()
    where = _import_error_filter(relative_name, list(bundles), list(absolute_names), prefix=False)
    with _session_scope(None) as session:
        session.execute(delete(ParseImportError).where(*where))


def pause_dags(dag_ids: Iterable[str]) -> None:
    """Pause these DAGs (no audit: the caller is removing their file)."""
    DagModel, _, _ = _models()
    ids = sorted(set(dag_ids))
    with _session_scope(None) as session:
        for start in range(0, len(ids), IN_CHUNK):
            session.execute(
                update(DagModel).where(DagModel.dag_id.in_(ids[start : start + IN_CHUNK])).values(is_paused=True)
            )


def delete_dag_records(dag_id: str) -> None:
    """Airflow's own ``delete_dag`` (runs, task instances, serialized DAG …; the audit log is kept).
    A DAG already gone counts as deleted; other failures (running task instances, …) are raised."""
    from airflow.api.common.delete_dag import delete_dag
    from airflow.exceptions import DagNotFound

    try:
        with _session_scope(None) as session:
            delete_dag(dag_id, keep_records_in_log=True, session=session)
    except DagNotFound:
        return


# --- assets: which DAGs an asset is about (the auth manager's asset rule) ---------------------------


def asset_dag_ids(asset_id: int, session: Session | None = None) -> set[str]:
    """DAGs that schedule on, produce (task outlets) or read (task inlets) asset ``asset_id``: the DAGs
    through which a user may see it. Airflow 3 only (empty on Airflow 2)."""
    if not AIRFLOW_V_3:  # pragma: no cover - Airflow 2 has datasets, not assets
        return set()
    from airflow.models.asset import DagScheduleAssetReference, TaskInletAssetReference, TaskOutletAssetReference

    with _session_scope(session) as s:
        found: set[str] = set()
        for model in (DagScheduleAssetReference, TaskOutletAssetReference, TaskInletAssetReference):
            found.update(s.scalars(select(model.dag_id).where(model.asset_id == int(asset_id))))
        return found | asset_consumer_dag_ids(asset_id, session=s)


def asset_consumer_dag_ids(asset_id: int, session: Session | None = None) -> set[str]:
    """DAGs an event of asset ``asset_id`` may start: scheduled on the asset, or on an alias the asset
    belongs to (counted even when paused: conservative)."""
    if not AIRFLOW_V_3:  # pragma: no cover
        return set()
    from airflow.models.asset import DagScheduleAssetAliasReference, DagScheduleAssetReference, alias_association_table

    with _session_scope(session) as s:
        found = set(s.scalars(select(DagScheduleAssetReference.dag_id).where(
            DagScheduleAssetReference.asset_id == int(asset_id))))
        aliases = select(alias_association_table.c.alias_id).where(alias_association_table.c.asset_id == int(asset_id))
        found.update(s.scalars(select(DagScheduleAssetAliasReference.dag_id).where(
            DagScheduleAssetAliasReference.alias_id.in_(aliases))))
        return found


# --- where a DAG id was defined: collisions and contested DAGs (issue 11) --------------------------
#
# Airflow 3.3 keeps one ``dag`` row per DAG id: when two files define the same id, each parse of either
# file overwrites its ``fileloc`` (last writer wins) and writes a new DAG version whose ``dag_code`` row
# keeps that file's location; no import error is recorded (each file is parsed in its own DagBag).
# The locations a DAG id was recorded at are therefore the row's ``fileloc`` plus every ``dag_code``
# ``fileloc`` (Airflow 2 has no ``dag_code.dag_id``: the row's only).


def dag_id_filelocs(dag_ids: Iterable[str], session: Session | None = None) -> dict[str, set[str]]:
    """Every file location Airflow recorded for each of ``dag_ids`` (stale rows included); ids that
    Airflow never recorded are absent."""
    DagModel, _, _ = _models()
    ids = list(dict.fromkeys(d for d in dag_ids if d))
    found: dict[str, set[str]] = {}
    with _read_scope(session) as s:
        for start in range(0, len(ids), IN_CHUNK):
            chunk = ids[start : start + IN_CHUNK]
            query: Any = select(DagModel.dag_id, DagModel.fileloc).where(DagModel.dag_id.in_(chunk))
            if AIRFLOW_V_3:  # and where its code was recorded: one round trip for both
                from airflow.models.dagcode import DagCode
                from sqlalchemy import union

                query = union(query, select(DagCode.dag_id, DagCode.fileloc).where(DagCode.dag_id.in_(chunk)))
            for dag_id, fileloc in s.execute(query):
                if fileloc:
                    found.setdefault(dag_id, set()).add(str(fileloc))
    return found


def _multi_location_ids(dag_ids: Iterable[str] | None, s: Session) -> set[str]:
    """SQL: ids with more than one distinct recorded file location (the rare candidates)."""
    DagModel, _, _ = _models()
    if not AIRFLOW_V_3:  # pragma: no cover - Airflow 2: one location per row
        return set()
    from airflow.models.dagcode import DagCode
    from sqlalchemy import distinct, union

    locations = union(select(DagModel.dag_id, DagModel.fileloc), select(DagCode.dag_id, DagCode.fileloc)).subquery()
    query = (select(locations.c.dag_id).group_by(locations.c.dag_id)
             .having(func.count(distinct(locations.c.fileloc)) > 1))
    if dag_ids is None:
        return set(s.scalars(query))
    ids = list(dict.fromkeys(dag_ids))
    found: set[str] = set()
    for start in range(0, len(ids), IN_CHUNK):
        found.update(s.scalars(query.where(locations.c.dag_id.in_(ids[start : start + IN_CHUNK]))))
    return found


def location_folder(fileloc: str) -> str:
    """The folder a recorded file location belongs to: its top folder under the DAGs folder (a project
    folder), ``""`` for a file directly in the DAGs folder, else its directory."""
    for root in _roots():
        if fileloc.startswith(root + "/"):
            rest = fileloc[len(root) + 1 :]
            return rest.split("/", 1)[0] if "/" in rest else ""
    return os.path.dirname(fileloc)


def contested_dag_ids(dag_ids: Iterable[str] | None = None, session: Session | None = None) -> set[str]:
    """DAG ids whose recorded files lie in more than one folder: the current row's file, and every other
    recorded file that still exists (a deleted intruder stops counting once its file is gone and the
    rightful file was parsed again). When the DAGs folder is not visible here, every recorded location
    counts (fail closed)."""
    from pathlib import Path

    DagModel, _, _ = _models()
    with _session_scope(session) as s:
        candidates = _multi_location_ids(dag_ids, s)
        if not candidates:
            return set()
        rows = s.execute(select(DagModel.dag_id, DagModel.fileloc).where(DagModel.dag_id.in_(candidates)))
        current = {dag_id: fileloc for dag_id, fileloc in rows}
        locations = dag_id_filelocs(candidates, session=s)
    disk_visible = any(os.path.isdir(root) for root in _roots())
    contested = set()
    for dag_id, files in locations.items():
        counted = {f for f in files if f == current.get(dag_id) or not disk_visible or Path(f).exists()}
        if len({location_folder(f) for f in counted}) > 1:
            contested.add(dag_id)
    return contested
