"""A :class:`~.model.DagSpec` as the DAG file a careful engineer would write for Airflow 3.

``from airflow.sdk import DAG``, this package's operators and sensors, ``default_args`` with the
owner and retries, one assignment per task, the dependencies after the tasks. The output is
deterministic (the same spec gives the same bytes), fits ``ruff`` with this repository's rules
(120 columns, sorted imports, double quotes) and never holds an API key: tasks call Hopsworks through
an Airflow connection.

The spec itself is written at the top as a JSON comment block between two marker lines
(:data:`BEGIN`, :data:`END`); :mod:`.parse` reads it back and checks that the code below is what
:func:`generate` writes for it.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator

from hopsworks_ui_plugin.dag_builder.model import (
    DEFAULT_CONN_ID,
    MANUAL,
    RUN_JOB,
    SPEC_VERSION,
    WAIT_JOB,
    WAIT_PATH,
    DagSpec,
    TaskSpec,
)
from hopsworks_ui_plugin.dag_builder.validate import RESERVED_NAMES, TASK_NAME

LINE = 120
INDENT = "    "
BEGIN = f"# hopsworks-dag-builder v{SPEC_VERSION} begin"
END = "# hopsworks-dag-builder end"
HEADER = (
    "# Made with the DAG builder of the Hopsworks plugin for Airflow. Change it in the builder (Hopsworks DAG\n"
    "# files > project > Open in builder): it writes the code below from this block. Once edited by hand, the\n"
    "# file opens in the editor instead.\n"
)
OPERATORS = "hopsworks_ui_plugin.operators.hopsworks"
SENSORS = "hopsworks_ui_plugin.sensors.hopsworks"
SENSOR_CLASSES = {"succeeded": "HopsworksJobSuccessSensor", "finished": "HopsworksJobFinishSensor"}


def py_str(text: str) -> str:
    """A double-quoted Python string literal of ``text``: backslashes and quotes escaped, and every
    character that is not printable (controls, bidi overrides, zero-width) as an escape."""
    out = ['"']
    for ch in text:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x100:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


def _pieces(text: str, width: int) -> list[str]:
    """``text`` as literals of at most ``width`` characters each (split between characters, never
    inside an escape; a piece does not end in a space, so no line ends in one either)."""
    pieces: list[str] = []
    current = ""
    for ch in text:
        candidate = current + ch
        if len(py_str(candidate)) > width and current:
            cut = len(current)
            while cut > 1 and current[cut - 1] == " ":
                cut -= 1
            pieces.append(current[:cut])
            current = current[cut:] + ch
        else:
            current = candidate
    pieces.append(current)
    return [py_str(p) for p in pieces]


def _kwarg(name: str, value: str, indent: str, sep: str = "=") -> list[str]:
    """``name=value,`` (a string) on one line, or a parenthesised implicit concatenation when it is too long."""
    line = f"{indent}{name}{sep}{py_str(value)},"
    if len(line) <= LINE:
        return [line]
    inner = indent + INDENT
    return [f"{indent}{name}{sep}(", *(inner + p for p in _pieces(value, LINE - len(inner))), f"{indent}),"]


def _list(name: str, values: list[str], indent: str) -> list[str]:
    line = f"{indent}{name}=[{', '.join(py_str(v) for v in values)}],"
    if len(line) <= LINE:
        return [line]
    inner = indent + INDENT
    lines = [f"{indent}{name}=["]
    for value in values:
        if len(py_str(value)) <= LINE - len(inner) - 1:
            lines.append(f"{inner}{py_str(value)},")
        else:
            lines += [f"{inner}(", *(inner + INDENT + p for p in _pieces(value, LINE - len(inner) - 4)), f"{inner}),"]
    return [*lines, f"{indent}],"]


def spec_block(spec: DagSpec) -> str:
    """The spec as comment lines of JSON between the markers, one line per field and per task. Long
    JSON lines are cut into pieces of at most 120 columns; the pieces concatenate (no separator) back
    into the JSON."""
    data = spec.to_dict()
    tasks = data.pop("tasks")
    top = [f" {json.dumps(key)}: {json.dumps(value, ensure_ascii=True)}," for key, value in data.items()]
    width = LINE - 2
    rows: list[str] = []
    for number, task in enumerate(tasks, start=1):
        comma = "," if number < len(tasks) else ""
        line = f"  {json.dumps(task, ensure_ascii=True)}{comma}"
        if len(line) <= width:
            rows.append(line)
            continue
        items = [f"   {json.dumps(key)}: {json.dumps(value, ensure_ascii=True)}," for key, value in task.items()]
        items[-1] = items[-1][:-1]
        rows += ["  {", *items, "  }" + comma]
    text = "\n".join(["{", *top, ' "tasks": [', *rows, " ]", "}"])
    lines = [BEGIN]
    for json_line in text.split("\n"):
        rest = json_line
        while len(rest) > width:
            cut = width
            while cut > 1 and rest[cut - 1] == " ":  # no trailing spaces (W291)
                cut -= 1
            lines.append("# " + rest[:cut])
            rest = rest[cut:]
        lines.append("# " + rest)
    lines.append(END)
    return "\n".join(lines) + "\n"


def _docstring(spec: DagSpec) -> str:
    """The module docstring: the description (printable characters only; the exact text is the DAG's
    ``description``), wrapped so that no line is longer than allowed."""
    text = spec.description or f"{spec.dag_id}: a DAG of Hopsworks project {spec.project}, made with the DAG builder."
    text = "".join(c for c in text if c.isprintable())
    if not text.endswith((".", "!", "?")):
        text += "."
    for width in (100, 50):
        wrapped = [py_str(line)[1:-1] for line in textwrap.wrap(text, width, break_on_hyphens=False)]
        if all(len(line) <= LINE - 6 for line in wrapped):
            break
    if len(wrapped) == 1:
        return f'"""{wrapped[0]}"""\n'
    return '"""' + "\n".join(wrapped) + '\n"""\n'


def _imports(spec: DagSpec) -> str:
    operators = sorted({"HopsworksLaunchOperator" for t in spec.tasks if t.kind == RUN_JOB})
    sensors = sorted(
        {SENSOR_CLASSES[t.condition] for t in spec.tasks if t.kind == WAIT_JOB}
        | {"HopsworksDatasetSensor" for t in spec.tasks if t.kind == WAIT_PATH}
    )
    lines = ["import pendulum", "from airflow.sdk import DAG", ""]
    if operators:
        lines.append(f"from {OPERATORS} import {', '.join(operators)}")
    if sensors:
        lines.append(f"from {SENSORS} import {', '.join(sensors)}")
    if not operators and not sensors:
        lines.pop()
    return "\n".join(lines) + "\n"


def _dag_call(spec: DagSpec) -> list[str]:
    i = INDENT
    lines = ["with DAG("]
    lines += _kwarg("dag_id", spec.dag_id, i)
    if spec.description:
        lines += _kwarg("description", spec.description, i)
    if spec.schedule == MANUAL:
        lines.append(f"{i}schedule=None,")
    else:
        lines += _kwarg("schedule", spec.schedule, i)
    d = spec.start_date
    lines.append(f'{i}start_date=pendulum.datetime({d.year}, {d.month}, {d.day}, tz="UTC"),')
    lines.append(f"{i}catchup={spec.catchup},")
    args = f'{i}default_args={{"owner": {py_str(spec.owner)}, "retries": {spec.retries}}},'
    if len(args) <= LINE:
        lines.append(args)
    else:
        lines += [f"{i}default_args={{", *_kwarg('"owner"', spec.owner, i + INDENT, ": "),
                  f'{i}{INDENT}"retries": {spec.retries},', f"{i}}},"]
    if spec.tags:
        lines += _list("tags", spec.tags, i)
    lines.append("):")
    return lines


def _task_call(task: TaskSpec, spec: DagSpec) -> list[str]:
    i = INDENT * 2
    if task.kind == RUN_JOB:
        cls = "HopsworksLaunchOperator"
    elif task.kind == WAIT_JOB:
        cls = SENSOR_CLASSES[task.condition]
    else:
        cls = "HopsworksDatasetSensor"
    lines = [f"{INDENT}{task.name} = {cls}("]
    lines += _kwarg("task_id", task.name, i)
    lines += _kwarg("project_name", spec.project, i)
    if task.kind in (RUN_JOB, WAIT_JOB):
        lines += _kwarg("job_name", task.job, i)
    if task.kind == RUN_JOB:
        if task.arguments:
            lines += _kwarg("job_arguments", task.arguments, i)
        if task.wait == "none":
            lines.append(f"{i}wait_for_completion=False,")
        else:
            lines.append(f"{i}deferrable={task.wait == 'deferred'},")
    if task.kind == WAIT_PATH:
        lines += _kwarg("path", task.path, i)
    if task.kind in (WAIT_JOB, WAIT_PATH):
        lines.append(f'{i}mode="reschedule",')  # free the worker slot between looks
    if spec.conn_id != DEFAULT_CONN_ID:
        lines += _kwarg("hopsworks_conn_id", spec.conn_id, i)
    lines.append(f"{INDENT})")
    return lines


def _dependencies(spec: DagSpec) -> Iterator[str]:
    """One line per task with upstream tasks: ``a >> b`` or ``[a, b] >> c``."""
    for task in spec.tasks:
        if not task.upstream:
            continue
        left = task.upstream[0] if len(task.upstream) == 1 else f"[{', '.join(task.upstream)}]"
        line = f"{INDENT}{left} >> {task.name}"
        if len(line) <= LINE:
            yield line
            continue
        yield f"{INDENT}["
        for up in task.upstream:
            yield f"{INDENT * 2}{up},"
        yield f"{INDENT}] >> {task.name}"


def generate(spec: DagSpec) -> str:
    """The DAG file for ``spec`` (validated by :func:`.validate.check` first; a task name that is not
    an identifier is refused here too, so broken code is never written)."""
    spec = spec.normalized()
    for task in spec.tasks:
        if not TASK_NAME.match(task.name) or task.name in RESERVED_NAMES:
            raise ValueError(f"task name {task.name!r} is not a usable Python name")
    parts = [HEADER + spec_block(spec), _docstring(spec), _imports(spec)]
    body = _dag_call(spec)
    for task in spec.tasks:
        body += _task_call(task, spec)
    dependencies = list(_dependencies(spec))
    if dependencies:
        body += ["", *dependencies]
    parts.append("\n".join(body) + "\n")
    return "\n".join(parts)
