"""Checks of an uploaded DAG file, none of which runs it: the name as uploaded, the size cap, UTF-8,
Python syntax (parsed and compiled, never executed); the owners and DAG ids are read by :mod:`.owner_scan`."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import IO

from hopsworks_ui_plugin import settings
from hopsworks_ui_plugin.dag_files.owner_scan import DagIdScan, OwnerScan, scan_dag_ids, scan_owners
from hopsworks_ui_plugin.dag_files.paths import TITLE, dags_root, name_problem
from hopsworks_ui_plugin.errors import BadInput, TooLarge
from hopsworks_ui_plugin.formatting import fmt_size

#: Room for the multipart framing on top of the files themselves.
MULTIPART_SLACK_BYTES = 256 * 1024


def max_file_bytes() -> int:
    return settings.max_dag_file_bytes()


def max_files_per_upload() -> int:
    return settings.max_dag_files_per_upload()


def max_upload_request_bytes() -> int:
    """Largest upload request body: every file at the cap, plus room for the multipart framing."""
    return max_file_bytes() * max_files_per_upload() + MULTIPART_SLACK_BYTES


def upload_name_problem(filename: str | None, content_disposition: str | None) -> str | None:
    """:func:`~.paths.name_problem` for an uploaded file, also looking at the raw multipart header.

    The web server unquotes the ``filename`` parameter, and a backslash there is a quoted-string
    escape: ``sub\\dag.py`` arrives as ``subdag.py``. A backslash in the raw header is a path:
    refuse it rather than save the file under a name the user did not choose.
    """
    if "\\" in (content_disposition or ""):
        return f"The file name {ascii(filename or '')[:80]} contains a path (a backslash); upload a plain file " \
            "name such as my_dag.py."
    return name_problem(filename)


def too_large(name: str, cap: int) -> TooLarge:
    return TooLarge(f"{name} is larger than the limit of {fmt_size(cap)}.", title=TITLE)


def read_capped(stream: IO[bytes], cap: int | None = None, name: str = "The file") -> bytes:
    """At most ``cap`` bytes of ``stream``; :class:`TooLarge` if there is more (reads cap + 1 bytes at most)."""
    cap = max_file_bytes() if cap is None else cap
    data = stream.read(cap + 1)  # one read (an uploaded part is already spooled): no chunk copies
    while len(data) <= cap:  # a stream may return fewer bytes than asked before its end
        more = stream.read(cap + 1 - len(data))
        if not more:
            break
        data += more
    if len(data) > cap:
        raise too_large(name, cap)
    return data


@dataclass(frozen=True)
class CheckedSource:
    name: str
    data: bytes
    owners: OwnerScan
    dag_ids: DagIdScan = DagIdScan()

    @property
    def size(self) -> int:
        return len(self.data)


def check_source(name: str, data: bytes, cap: int | None = None) -> CheckedSource:
    """Validate a DAG file's content without executing it: size, UTF-8, syntax; read its owners."""
    cap = max_file_bytes() if cap is None else cap
    if len(data) > cap:
        raise too_large(name, cap)
    if not data or data.isspace():  # (no stripped copy of a 1 MB file)
        raise BadInput(f"{name} is empty.", title=TITLE)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise BadInput(
            f"{name} is not UTF-8 text: byte 0x{data[err.start]:02x} at line {line} cannot be decoded.", title=TITLE
        ) from None
    try:
        tree = ast.parse(data, filename=name, mode="exec")
        # The compiler catches what the parser lets through ('return' outside a function, ...).
        compile(tree, name, "exec", dont_inherit=True)
    except SyntaxError as err:
        where = f"line {err.lineno}" if err.lineno else "an unknown line"
        if err.lineno and err.offset:
            where += f", column {err.offset}"
        text = (err.text or "").strip()
        shown = f": {text[:120]}" if text else ""
        raise BadInput(f"{name} has a Python syntax error at {where}: {err.msg}{shown}", title=TITLE) from None
    except ValueError as err:  # e.g. "source code string cannot contain null bytes"
        raise BadInput(f"{name} is not valid Python source: {err}", title=TITLE) from None
    except (RecursionError, MemoryError):
        raise BadInput(f"{name} is nested too deeply to be checked.", title=TITLE) from None
    return CheckedSource(name=name, data=data, owners=scan_owners(tree), dag_ids=scan_dag_ids(tree, dags_root()))
