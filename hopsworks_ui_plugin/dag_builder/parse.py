"""Read a builder-made DAG file back into its :class:`~.model.DagSpec`.

A file opens in the builder only when it is exactly what the builder writes: its spec block (the JSON
comment between :data:`~.codegen.BEGIN` and :data:`~.codegen.END`) reads as a spec, and the whole file
is byte for byte what :func:`~.codegen.generate` writes for that spec. Anything else (no block, a
damaged block, a line changed by hand, code added) gives a sentence saying why, and the page opens the
editor instead: the builder never silently drops a hand edit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from hopsworks_ui_plugin.dag_builder import codegen
from hopsworks_ui_plugin.dag_builder.model import DagSpec, SpecError

#: Bytes of a file's start looked at to tell whether the builder made it (the block starts on line 4).
MARKER_WINDOW = 1024


@dataclass(frozen=True)
class Parsed:
    """``spec`` when the builder can open the file, else ``reason`` (one sentence for the user)."""

    spec: DagSpec | None
    reason: str | None = None


def looks_builder_made(head: bytes) -> bool:
    """Whether the start of a file carries the builder's block (cheap: for the listing's links)."""
    return codegen.BEGIN.encode() in head[:MARKER_WINDOW]


def _spec_text(lines: list[str]) -> tuple[str | None, str | None]:
    """The JSON of the spec block, or the reason there is none."""
    try:
        start = lines.index(codegen.BEGIN)
    except ValueError:
        if any(line.startswith("# hopsworks-dag-builder v") for line in lines[:10]):
            return None, "it was written by another version of the DAG builder, which this one cannot read"
        return None, "it was not made with the DAG builder (it has no builder block at the top)"
    try:
        end = lines.index(codegen.END, start)
    except ValueError:
        return None, "its builder block at the top is damaged (the end marker is missing)"
    chunks = lines[start + 1 : end]
    if not all(line.startswith("# ") for line in chunks):
        return None, "its builder block at the top is damaged (a line of it is not a comment)"
    return "".join(line[2:] for line in chunks), None


def _first_difference(actual: list[str], expected: list[str]) -> str:
    for number, (have, want) in enumerate(zip(actual, expected, strict=False), start=1):
        if have != want:
            shown = have.strip()[:80]
            return f"line {number} ({shown!r}) is not what the builder wrote there" if shown else \
                f"line {number} is not what the builder wrote there"
    if len(actual) > len(expected):
        return f"lines were added after line {len(expected)}"
    if len(actual) < len(expected):
        return f"it ends after line {len(actual)}, before the builder's code does"
    return "its line endings or its last line break were changed"


def parse(source: bytes, project: str | None = None) -> Parsed:
    """The spec of a builder-made file, or why the builder cannot open it. ``project``: the project
    whose folder holds the file (a file made for another project is not opened as it is)."""
    try:
        text = source.decode("utf-8")
    except UnicodeDecodeError:
        return Parsed(None, _sentence("it is not UTF-8 text"))
    lines = text.split("\n")
    raw, reason = _spec_text(lines)
    if raw is None:
        return Parsed(None, _sentence(reason or "it has no builder block"))
    try:
        spec = DagSpec.from_dict(json.loads(raw))
    except json.JSONDecodeError as err:
        return Parsed(None, _sentence(f"its builder block at the top is damaged ({err.msg})"))
    except SpecError as err:
        return Parsed(None, _sentence(f"its builder block cannot be read: {err}"))
    if project is not None and spec.project != project:
        return Parsed(None, _sentence(f"it was made for project {spec.project!r}, not this one"))
    try:
        expected = codegen.generate(spec)
    except ValueError as err:
        return Parsed(None, _sentence(f"its builder block cannot be read: {err}"))
    if expected != text:
        return Parsed(None, _sentence(f"it was edited by hand after the builder wrote it: "
                                      f"{_first_difference(text.splitlines(), expected.splitlines())}"))
    return Parsed(spec)


def _sentence(why: str) -> str:
    return f"This file opens in the editor, not the builder: {why}. The builder only opens files it wrote " \
        "and that were not changed since, so that no hand edit is lost."
