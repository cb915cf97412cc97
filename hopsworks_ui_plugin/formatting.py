"""Display helpers for the web pages: the one time formatter, durations, the one size formatter, long logs.

Plain functions, framework-neutral. The web pages use them as Jinja filters registered once
(:data:`JINJA_FILTERS`): ``{{ job.creationTime | fmt_ts }}``, ``{{ size | fmt_size }}``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hopsworks_ui_plugin import states

#: Hopsworks dates: ``2024-03-01T10:15:30.123Z`` (Jackson pattern) or epoch milliseconds (newer clients).
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")


def parse_ts(value: Any) -> datetime | None:
    """A datetime (naive = UTC), an ISO-8601 string or integer epoch-ms as an aware UTC datetime;
    None when absent or unparsable."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
    if isinstance(value, (int, float)):
        try:
            return datetime.fromtimestamp(float(value) / 1000.0, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    text = str(value).strip()
    if text.isdigit():
        return parse_ts(int(text))
    if not _ISO.match(text):
        return None
    text = text.replace("Z", "+00:00")
    if re.search(r"[+-]\d{4}$", text):
        text = text[:-2] + ":" + text[-2:]
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def fmt_ts(value: Any, empty: str = "—") -> str:
    """``2024-03-01 10:15:30 UTC``: every time a page shows (Hopsworks dates, DAG runs, file times).

    File times (epoch seconds) go in as ``datetime.fromtimestamp(ts, UTC)``.
    """
    parsed = parse_ts(value)
    return parsed.strftime("%Y-%m-%d %H:%M:%S UTC") if parsed else empty


def fmt_duration(ms: Any, empty: str = "—") -> str:
    """Milliseconds as ``850 ms``, ``4.2 s``, ``3 min 05 s``, ``2 h 07 min``, ``3 d 4 h``."""
    try:
        total_ms = int(ms)
    except (TypeError, ValueError):
        return empty
    if total_ms <= 0:
        return empty
    if total_ms < 1000:
        return f"{total_ms} ms"
    if total_ms < 60_000:
        return f"{total_ms / 1000:.1f} s"
    seconds = total_ms // 1000
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def fmt_size(n_bytes: float) -> str:
    """``512 B``, ``256 KiB``, ``3.3 MiB``: every size a page or message shows."""
    size = float(n_bytes)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            if unit == "B":
                return f"{int(size)} B"
            return f"{size:.1f} {unit}".replace(".0 ", " ")
        size /= 1024
    return f"{size:.1f} GiB"  # pragma: no cover


@dataclass(frozen=True)
class LogExcerpt:
    """A log cut to a size cap; ``cut`` says whether anything was left out."""

    text: str
    total_bytes: int
    shown_bytes: int
    cut: bool
    from_end: bool

    @property
    def note(self) -> str:
        if not self.cut:
            return ""
        where = "last" if self.from_end else "first"
        return f"Showing the {where} {fmt_size(self.shown_bytes)} of {fmt_size(self.total_bytes)}."


def cap_log(text: str, max_bytes: int, from_end: bool = True) -> LogExcerpt:
    """Keep at most ``max_bytes`` (UTF-8) of ``text``: its end (default) or its start, on whole lines."""
    data = text.encode("utf-8")
    if len(data) <= max_bytes:
        return LogExcerpt(text, len(data), len(data), False, from_end)
    if from_end:
        part = data[len(data) - max_bytes:]
        newline = part.find(b"\n")
        if 0 <= newline < len(part) - 1:
            part = part[newline + 1:]
    else:
        part = data[:max_bytes]
        newline = part.rfind(b"\n")
        if newline > 0:
            part = part[: newline + 1]
    return LogExcerpt(part.decode("utf-8", errors="ignore"), len(data), len(part), True, from_end)


def python_identifier(name: str, prefix: str = "launch_") -> str:
    """A valid Airflow task id from a job name: ``<script>x</script>`` -> ``launch_script_x_script``."""
    slug = re.sub(r"[^0-9A-Za-z_]+", "_", name).strip("_") or "job"
    return (prefix + slug)[:200]


#: The import line every launch snippet starts with.
LAUNCH_IMPORT = "from hopsworks_ui_plugin.operators.hopsworks import HopsworksLaunchOperator"


def launch_snippet(project_name: str, job_name: str) -> str:
    """The DAG lines that launch this job, its import line first (pasted as is, it runs); names are
    written as (JSON = Python) string literals."""
    return (
        f"{LAUNCH_IMPORT}\n\n"
        f"HopsworksLaunchOperator(task_id={json.dumps(python_identifier(job_name))}, "
        f"project_name={json.dumps(project_name)}, job_name={json.dumps(job_name)})"
    )


#: The formatting helpers as Jinja filters, registered once for all the plugin's templates.
JINJA_FILTERS = {
    "fmt_ts": fmt_ts,
    "fmt_duration": fmt_duration,
    "fmt_size": fmt_size,
    "badge_class": states.badge_class,
    "dag_run_badge_class": states.dag_run_badge_class,
    "is_final": states.is_final,
}
