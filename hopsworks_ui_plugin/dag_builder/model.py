"""What the DAG builder edits: a plain description of one DAG of a Hopsworks project.

A :class:`DagSpec` is what the builder's form holds, what :mod:`.codegen` turns into a DAG file, and
what :mod:`.parse` reads back out of one. It converts to and from plain JSON-able dicts
(:meth:`DagSpec.to_dict` / :meth:`DagSpec.from_dict`); :meth:`DagSpec.from_dict` refuses values of the
wrong shape (:class:`SpecError`) while :mod:`.validate` judges the content (cron, cycles, names, ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

#: Version of the spec embedded in generated files (bumped when codegen's output changes shape).
SPEC_VERSION = 1

#: Schedule presets of the form. ``""`` is "manual": only when triggered (``schedule=None``).
MANUAL = ""
PRESETS: dict[str, str] = {
    MANUAL: "Manual (only when triggered)",
    "@once": "Once",
    "@hourly": "Hourly",
    "@daily": "Daily (midnight UTC)",
    "@weekly": "Weekly (Sunday midnight UTC)",
}

RUN_JOB = "run_job"
WAIT_JOB = "wait_job"
WAIT_PATH = "wait_path"
#: Task kinds, in the words the form shows.
KINDS: dict[str, str] = {
    RUN_JOB: "Run a job",
    WAIT_JOB: "Wait for a job",
    WAIT_PATH: "Wait for a dataset path",
}

#: How a "run a job" task waits for the execution it launched.
WAIT_MODES: dict[str, str] = {
    "none": "Don't wait (succeed once launched)",
    "worker": "Wait in the worker",
    "deferred": "Wait deferred (in the triggerer, frees the worker)",
}
#: What a "wait for a job" sensor waits for (the job's latest execution).
CONDITIONS: dict[str, str] = {
    "succeeded": "latest execution succeeded",
    "finished": "latest execution finished (any final state)",
}

DEFAULT_START = date(2024, 1, 1)
#: The connection the operators use when the DAG names none (``HopsworksHook.default_conn_name``).
DEFAULT_CONN_ID = "hopsworks_default"


class SpecError(ValueError):
    """A spec (from a form or a file) that does not have the expected shape."""


@dataclass
class TaskSpec:
    """One task. Which fields count depends on ``kind``: ``job``/``arguments``/``wait`` (run a job),
    ``job``/``condition`` (wait for a job), ``path`` (wait for a dataset path)."""

    name: str
    kind: str = RUN_JOB
    job: str = ""
    arguments: str = ""
    wait: str = "worker"
    condition: str = "succeeded"
    path: str = ""
    upstream: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Only the fields of this kind, so a spec block says nothing the code does not do."""
        data: dict[str, Any] = {"name": self.name, "kind": self.kind}
        if self.kind == RUN_JOB:
            data.update(job=self.job, arguments=self.arguments, wait=self.wait)
        elif self.kind == WAIT_JOB:
            data.update(job=self.job, condition=self.condition)
        elif self.kind == WAIT_PATH:
            data.update(path=self.path)
        data["upstream"] = list(self.upstream)
        return data

    @classmethod
    def from_dict(cls, raw: Any, position: int) -> TaskSpec:
        where = f"Task {position}"
        if not isinstance(raw, dict):
            raise SpecError(f"{where} is not an object.")
        kind = _text(raw, "kind", where, RUN_JOB)
        if kind not in KINDS:
            raise SpecError(f"{where} has an unknown kind {kind!r} (one of {', '.join(KINDS)}).")
        upstream = raw.get("upstream", [])
        if not isinstance(upstream, list) or not all(isinstance(u, str) for u in upstream):
            raise SpecError(f"{where}: upstream must be a list of task names.")
        task = cls(
            name=_text(raw, "name", where).strip(),
            kind=kind,
            job=_text(raw, "job", where).strip(),
            arguments=_text(raw, "arguments", where),
            wait=_text(raw, "wait", where, "worker"),
            condition=_text(raw, "condition", where, "succeeded"),
            path=_text(raw, "path", where).strip(),
            upstream=[u.strip() for u in upstream],
        )
        if task.wait not in WAIT_MODES:
            raise SpecError(f"{where} has an unknown wait mode {task.wait!r} (one of {', '.join(WAIT_MODES)}).")
        if task.condition not in CONDITIONS:
            raise SpecError(f"{where} has an unknown condition {task.condition!r} (one of {', '.join(CONDITIONS)}).")
        return task


@dataclass
class DagSpec:
    """One DAG as the builder describes it. ``schedule``: ``""`` (manual), a preset of
    :data:`PRESETS`, or a five-field cron expression. ``conn_id``: the Airflow connection every task
    calls Hopsworks with (its key must be allowed to do what the tasks do: Hopsworks' own AGENT
    service key may run and watch jobs but not read datasets). ``owner`` and ``project`` are set by the
    server (the user saving it, the project whose folder it is in), never taken from a form."""

    dag_id: str
    project: str = ""
    owner: str = ""
    description: str = ""
    tags: list[str] = field(default_factory=list)
    schedule: str = MANUAL
    start_date: date = DEFAULT_START
    catchup: bool = False
    retries: int = 0
    conn_id: str = DEFAULT_CONN_ID
    tasks: list[TaskSpec] = field(default_factory=list)

    def task(self, name: str) -> TaskSpec | None:
        return next((t for t in self.tasks if t.name == name), None)

    def edges(self) -> list[tuple[str, str]]:
        """``(upstream, downstream)`` pairs in task order."""
        return [(u, t.name) for t in self.tasks for u in t.upstream]

    def normalized(self) -> DagSpec:
        """The same DAG with upstream lists in task order and without duplicates, tags without
        duplicates: what codegen writes, so equal DAGs give equal files."""
        order = {t.name: i for i, t in enumerate(self.tasks)}
        tasks = [
            replace(t, upstream=sorted(dict.fromkeys(t.upstream), key=lambda u: (order.get(u, len(order)), u)))
            for t in self.tasks
        ]
        return replace(self, tags=list(dict.fromkeys(self.tags)), tasks=tasks)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": SPEC_VERSION,
            "dag_id": self.dag_id,
            "project": self.project,
            "owner": self.owner,
            "description": self.description,
            "tags": list(self.tags),
            "schedule": self.schedule,
            "start_date": self.start_date.isoformat(),
            "catchup": self.catchup,
            "retries": self.retries,
            "conn_id": self.conn_id,
            "tasks": [t.to_dict() for t in self.tasks],
        }

    @classmethod
    def from_dict(cls, raw: Any) -> DagSpec:
        """A spec from plain data (the form's JSON, or a file's spec block); :class:`SpecError` when a
        value has the wrong type. ``version`` may be missing (a form) but not another number."""
        if not isinstance(raw, dict):
            raise SpecError("The DAG description is not an object.")
        version = raw.get("version", SPEC_VERSION)
        if version != SPEC_VERSION:
            raise SpecError(f"it was written by builder version {version!r}; this builder reads version "
                            f"{SPEC_VERSION}")
        tags = raw.get("tags", [])
        if isinstance(tags, str):  # the form's comma-separated field
            tags = [t for t in (s.strip() for s in tags.split(",")) if t]
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise SpecError("Tags must be a list of words.")
        tasks = raw.get("tasks", [])
        if not isinstance(tasks, list):
            raise SpecError("Tasks must be a list.")
        retries = raw.get("retries", 0)
        if isinstance(retries, str) and retries.strip().isdigit():
            retries = int(retries.strip())
        if isinstance(retries, bool) or not isinstance(retries, int):
            raise SpecError("Retries must be a whole number.")
        catchup = raw.get("catchup", False)
        if not isinstance(catchup, bool):
            raise SpecError("Catchup must be true or false.")
        start = _text(raw, "start_date", "The DAG", DEFAULT_START.isoformat()).strip()
        try:
            start_date = date.fromisoformat(start)
        except ValueError:
            raise SpecError(f"The start date {start[:40]!r} is not a date (YYYY-MM-DD).") from None
        return cls(
            dag_id=_text(raw, "dag_id", "The DAG").strip(),
            project=_text(raw, "project", "The DAG"),
            owner=_text(raw, "owner", "The DAG"),
            description=_text(raw, "description", "The DAG").strip(),
            tags=[t.strip() for t in tags],
            schedule=_text(raw, "schedule", "The DAG").strip(),
            start_date=start_date,
            catchup=catchup,
            retries=retries,
            conn_id=_text(raw, "conn_id", "The DAG", DEFAULT_CONN_ID).strip() or DEFAULT_CONN_ID,
            tasks=[TaskSpec.from_dict(t, i) for i, t in enumerate(tasks, start=1)],
        )


def _text(raw: dict[str, Any], key: str, where: str, default: str = "") -> str:
    value = raw.get(key, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise SpecError(f"{where}: {key} must be text.")
    return value
