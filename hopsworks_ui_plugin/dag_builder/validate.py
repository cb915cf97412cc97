"""Checks of a :class:`~.model.DagSpec` before it becomes a file, and the schedule preview.

:func:`check` judges the spec alone (names, schedule, dependencies, lengths); :func:`dag_id_taken`
asks Airflow's metadata DB and the project's other DAG files whether the DAG id is in use;
:func:`schedule_preview` says when the DAG would run (the next five times). Each problem names the
form field it belongs to (:class:`Problem`), so the form shows it next to that field.
"""

from __future__ import annotations

import ast
import keyword
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path

from croniter import croniter

from hopsworks_ui_plugin.dag_builder.model import MANUAL, PRESETS, RUN_JOB, WAIT_JOB, WAIT_PATH, DagSpec
from hopsworks_ui_plugin.errors import PluginError

#: A builder DAG id: Airflow's key characters (ASCII only), usable as the file name ``<dag_id>.py``.
DAG_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
MAX_DAG_ID = 120
#: A task name is its task_id and the Python variable holding it.
TASK_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MAX_TASK_NAME = 80  # "    <name> = HopsworksJobSuccessSensor(" stays within 120 columns
CONN_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,249}$")
MAX_TASKS = 100
MAX_TAGS = 20
MAX_TAG = 100  # Airflow's column size
MAX_DESCRIPTION = 500
MAX_JOB_NAME = 255
MAX_ARGUMENTS = 2000
MAX_PATH = 1000
MAX_RETRIES = 10
#: Names the generated module uses itself: a task may not shadow them.
RESERVED_NAMES = frozenset({
    "DAG", "dag", "pendulum", "default_args", "HopsworksLaunchOperator", "HopsworksJobSuccessSensor",
    "HopsworksJobFinishSensor", "HopsworksDatasetSensor",
})
#: Cron aliases the form offers as presets (what Airflow means by each).
PRESET_CRON = {"@hourly": "0 * * * *", "@daily": "0 0 * * *", "@weekly": "0 0 * * 0"}
RUNS_SHOWN = 5


@dataclass(frozen=True)
class Problem:
    """``field``: ``dag_id``, ``description``, ``tags``, ``schedule``, ``start_date``, ``retries``,
    ``tasks`` (the list as a whole), ``graph`` (the dependencies), or ``task.<n>.<field>`` (task n,
    from 1: ``name``, ``job``, ``arguments``, ``path``, ``upstream``)."""

    field: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


def _control(text: str) -> bool:
    return any(ord(c) < 32 or ord(c) == 127 for c in text)


# --- schedule ------------------------------------------------------------------------------------


def schedule_problem(schedule: str) -> str | None:
    """Why ``schedule`` is not a preset or a five-field cron expression, or None."""
    if schedule in PRESETS:
        return None
    if schedule == "@continuous":
        return ("@continuous is not offered: it starts a new run as soon as the last one ends and keeps a worker "
                "busy for good (Hopsworks refuses it too). Use a cron expression such as */5 * * * *.")
    if schedule.startswith("@"):
        presets = ", ".join(p for p in PRESETS if p)
        return f"{schedule[:40]} is not one of the presets ({presets}); or give a cron expression."
    if _control(schedule) or len(schedule) > 200:
        return "The cron expression holds control characters or is too long."
    fields = schedule.split()
    if len(fields) != 5:
        return (f"A cron expression has five fields (minute hour day-of-month month day-of-week), e.g. 30 6 * * 1-5; "
                f"{schedule!r} has {len(fields)}.")
    try:
        croniter(schedule)
    except (ValueError, KeyError) as err:  # croniter's CroniterError family are ValueErrors
        return f"{schedule!r} is not a valid cron expression: {err}."
    return None


def _cron(schedule: str) -> str:
    return PRESET_CRON.get(schedule, schedule)


@dataclass(frozen=True)
class SchedulePreview:
    """When the DAG would run: a sentence, and the next run times (UTC, at most five)."""

    summary: str
    runs: list[datetime]
    error: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {"summary": self.summary, "error": self.error,
                "runs": [r.strftime("%Y-%m-%d %H:%M UTC") for r in self.runs]}


def schedule_preview(schedule: str, start: date, catchup: bool, now: datetime | None = None) -> SchedulePreview:
    """The next :data:`RUNS_SHOWN` runs as Airflow 3 schedules them (``CronTriggerTimetable``): with
    catchup, every fire time from the start date on; without, the latest fire time that has passed
    (run at once when unpaused) and the ones after it, never before the start date."""
    problem = schedule_problem(schedule)
    if problem:
        return SchedulePreview("", [], problem)
    now = now or datetime.now(UTC)
    begin = datetime.combine(start, time(0, 0), UTC)
    if schedule == MANUAL:
        return SchedulePreview("Runs only when someone triggers it.", [])
    if schedule == "@once":
        return SchedulePreview("Runs once, as soon as it is unpaused (not before the start date).", [max(begin, now)])
    expr = _cron(schedule)
    first = croniter(expr, begin - _TICK).get_next(datetime)
    if not catchup:
        latest = croniter(expr, now).get_prev(datetime)
        first = max(first, latest)
    times = [first]
    it = croniter(expr, first)
    while len(times) < RUNS_SHOWN:
        times.append(it.get_next(datetime))
    due = sum(1 for t in times if t <= now)
    summary = f"Cron {expr} (UTC)."
    if due and catchup:
        summary += " Catchup is on: the runs since the start date are made at once when it is unpaused."
    elif due:
        summary += " The latest past run time is run at once when it is unpaused; then on schedule."
    return SchedulePreview(summary, times)


_TICK = datetime(2000, 1, 1, 0, 1, tzinfo=UTC) - datetime(2000, 1, 1, tzinfo=UTC)


# --- dependencies --------------------------------------------------------------------------------


def find_cycle(spec: DagSpec) -> list[str] | None:
    """A dependency cycle as task names, first name repeated at the end (``[a, b, a]``), or None.
    Unknown upstream names are ignored here (:func:`check` reports them)."""
    upstream = {t.name: [u for u in t.upstream] for t in spec.tasks}
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(name: str) -> list[str] | None:
        state[name] = 1
        path.append(name)
        for up in upstream.get(name, []):
            if up not in upstream:
                continue
            if state.get(up) == 1:
                cycle = path[path.index(up):] + [up]
                return list(reversed(cycle))  # in the direction the edges run: upstream first
            if state.get(up) is None:
                found = visit(up)
                if found:
                    return found
        path.pop()
        state[name] = 2
        return None

    for task in spec.tasks:
        if state.get(task.name) is None:
            found = visit(task.name)
            if found:
                return found
    return None


def cycle_message(cycle: list[str]) -> str:
    return f"The dependencies form a cycle: {' → '.join(cycle)}. A DAG cannot wait for itself; remove one of these."


# --- the whole spec ------------------------------------------------------------------------------


def check(spec: DagSpec) -> list[Problem]:
    """Everything that can be judged from the spec alone (not whether the DAG id or the jobs exist)."""
    problems: list[Problem] = []
    add = problems.append
    dag_id = spec.dag_id
    if not dag_id:
        add(Problem("dag_id", "Give the DAG an id, e.g. daily_features."))
    elif len(dag_id) > MAX_DAG_ID:
        add(Problem("dag_id", f"The DAG id is too long ({len(dag_id)} characters; at most {MAX_DAG_ID})."))
    elif not DAG_ID.match(dag_id) or ".." in dag_id:
        add(Problem("dag_id", f"The DAG id {dag_id[:60]!r} may only hold letters A-Z, digits, '_', '-' and '.' "
                              "(not starting with '-' or '.', no '..'): it is also the file name."))
    if len(spec.description) > MAX_DESCRIPTION or _control(spec.description):
        add(Problem("description", f"The description must be one line of at most {MAX_DESCRIPTION} characters."))
    if len(spec.tags) > MAX_TAGS:
        add(Problem("tags", f"At most {MAX_TAGS} tags."))
    for tag in spec.tags:
        if not tag or len(tag) > MAX_TAG or _control(tag):
            add(Problem("tags", f"Tag {tag[:40]!r} must be 1 to {MAX_TAG} characters of plain text."))
            break
    problem = schedule_problem(spec.schedule)
    if problem:
        add(Problem("schedule", problem))
    if not 1970 <= spec.start_date.year <= 2200:
        add(Problem("start_date", "The start date must be between 1970 and 2200."))
    if not CONN_ID.match(spec.conn_id):
        add(Problem("conn_id", "The connection id may only hold letters, digits, '_', '-' and '.' (at most 250)."))
    if not 0 <= spec.retries <= MAX_RETRIES:
        add(Problem("retries", f"Retries must be between 0 and {MAX_RETRIES}."))
    problems += _task_problems(spec)
    return problems


def _task_problems(spec: DagSpec) -> list[Problem]:
    problems: list[Problem] = []
    add = problems.append
    if not spec.tasks:
        add(Problem("tasks", "Add at least one task."))
    if len(spec.tasks) > MAX_TASKS:
        add(Problem("tasks", f"At most {MAX_TASKS} tasks in one DAG."))
    seen: set[str] = set()
    names = {t.name for t in spec.tasks}
    for n, task in enumerate(spec.tasks, start=1):
        where = f"task.{n}"
        label = f"Task {n}" + (f" ({task.name})" if task.name else "")
        name = task.name
        if not name:
            add(Problem(f"{where}.name", f"{label}: give it a name (letters, digits and _, e.g. run_etl)."))
        elif len(name) > MAX_TASK_NAME or not TASK_NAME.match(name) or keyword.iskeyword(name):
            add(Problem(f"{where}.name", f"{label}: the name must be a Python identifier of at most {MAX_TASK_NAME} "
                                         "characters: letters A-Z, digits and _, not starting with a digit, not a "
                                         "Python keyword."))
        elif name in RESERVED_NAMES:
            add(Problem(f"{where}.name", f"{label}: {name} is a name the generated file uses itself; choose another."))
        elif name in seen:
            add(Problem(f"{where}.name", f"{label}: another task is already called {name}; names must be unique."))
        seen.add(name)
        if task.kind in (RUN_JOB, WAIT_JOB):
            if not task.job:
                add(Problem(f"{where}.job", f"{label}: choose a job of the project."))
            elif len(task.job) > MAX_JOB_NAME or _control(task.job):
                add(Problem(f"{where}.job", f"{label}: the job name is too long or holds control characters."))
        if task.kind == RUN_JOB and (len(task.arguments) > MAX_ARGUMENTS or _control(task.arguments)):
            add(Problem(f"{where}.arguments", f"{label}: arguments must be one line of at most {MAX_ARGUMENTS} "
                                              "characters."))
        if task.kind == WAIT_PATH:
            path_problem = dataset_path_problem(task.path)
            if path_problem:
                add(Problem(f"{where}.path", f"{label}: {path_problem}"))
        for up in task.upstream:
            if up == name and name:
                add(Problem(f"{where}.upstream", f"{label} cannot wait for itself."))
            elif up not in names:
                add(Problem(f"{where}.upstream", f"{label} waits for {up[:60]!r}, which is not a task of this DAG."))
    cycle = find_cycle(spec)
    if cycle and len(cycle) > 2:
        add(Problem("graph", cycle_message(cycle)))
    return problems


def dataset_path_problem(path: str) -> str | None:
    """Why ``path`` is not a path inside the project (``Resources/data.csv``), or None."""
    if not path:
        return "give the path to wait for, relative to the project (e.g. Resources/input.csv)."
    if len(path) > MAX_PATH or _control(path) or "\\" in path:
        return "the path is too long or holds control characters or backslashes."
    if path.startswith("/"):
        return "give the path relative to the project (e.g. Resources/input.csv), without a leading /."
    if any(part in ("", ".", "..") for part in path.rstrip("/").split("/")):
        return "the path may not hold empty, '.' or '..' parts."
    return None


# --- is the DAG id in use? -------------------------------------------------------------------------


def dag_ids_defined(source: bytes) -> set[str]:
    """The DAG ids a file defines with literals (``DAG("x")``, ``DAG(dag_id="x")``, ``@dag(dag_id="x")``),
    read without running it; empty when it does not parse."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return set()
    found: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        if name not in ("DAG", "dag"):
            continue
        candidates = [kw.value for kw in node.keywords if kw.arg == "dag_id"]
        if name == "DAG" and node.args:
            candidates.append(node.args[0])
        found.update(c.value for c in candidates if isinstance(c, ast.Constant) and isinstance(c.value, str))
    return found


def dag_id_taken(dag_id: str, directory: Path, own_file: str | None) -> str | None:
    """Why ``dag_id`` cannot be used for the file ``own_file`` of project folder ``directory``: a DAG
    Airflow knows (any project, also one whose file is gone) or another file of this project that
    defines it; None when it is free. Other projects' file names are not revealed."""
    from hopsworks_ui_plugin import dag_files, metadb

    ref = metadb.dag_ref(dag_id)
    if ref is not None:
        where = Path(ref.fileloc).resolve() if ref.fileloc else None
        if where is not None and own_file and where == (directory / own_file).resolve():
            pass  # this very file's DAG
        elif where is not None and where.parent == directory.resolve():
            return f"DAG id {dag_id!r} is already used by {where.name} in this project; choose another."
        else:
            return f"DAG id {dag_id!r} is already used by another DAG in Airflow; choose another."
    files, _skipped = dag_files.list_files(directory)
    for info in files:
        if info.name == own_file or info.size > dag_files.max_file_bytes():
            continue
        try:
            source = dag_files.read_file(directory, info.name)
        except PluginError:  # gone or replaced by a link meanwhile: nothing to compare
            continue
        if dag_id in dag_ids_defined(source):
            return f"DAG id {dag_id!r} is already defined in {info.name} of this project (not parsed by Airflow " \
                "yet, or with an import error); choose another."
    return None
