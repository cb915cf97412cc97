"""Timing helpers and the result table shared by the benchmarks."""

from __future__ import annotations

import contextlib
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Timing:
    runs: list[float]

    @property
    def min(self) -> float:
        return min(self.runs)

    @property
    def median(self) -> float:
        return statistics.median(self.runs)


def measure(fn: Callable[[], Any], repeat: int = 7, warmup: int = 1) -> Timing:
    """Wall time of ``fn`` over ``repeat`` runs after ``warmup`` runs."""
    for _ in range(warmup):
        fn()
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - started)
    return Timing(runs)


def side_by_side(a: Callable[[], Any], b: Callable[[], Any], repeat: int = 7) -> tuple[Timing, Timing]:
    """Alternate a and b so that drift on the machine hits both alike."""
    a(), b()
    ta: list[float] = []
    tb: list[float] = []
    for _ in range(repeat):
        for fn, sink in ((a, ta), (b, tb)):
            started = time.perf_counter()
            fn()
            sink.append(time.perf_counter() - started)
    return Timing(ta), Timing(tb)


@dataclass
class Result:
    name: str
    value: float
    goal: str
    unit: str = "x"
    met: bool | None = None
    details: dict[str, Any] = field(default_factory=dict)


def ratio(name: str, ours: Timing, baseline: Timing, goal_max: float, *, superseded: bool = False,
          **details: Any) -> Result:
    """``ours / baseline`` (medians) against ``<= goal_max``. ``superseded``: a ratio kept for comparison
    whose goal a floor ratio has replaced (it includes Airflow's own cost of any plugin page): reported
    with its old goal, not judged."""
    value = ours.median / baseline.median
    details.update(ours_median_s=ours.median, baseline_median_s=baseline.median, ours_min_s=ours.min,
                   baseline_min_s=baseline.min, repeat=len(ours.runs))
    if superseded:
        return Result(name, round(value, 3), f"(was <= {goal_max})", "x", None, details)
    return Result(name, round(value, 3), f"<= {goal_max}", "x", value <= goal_max, details)


def print_table(results: list[Result]) -> None:
    width = max(len(r.name) for r in results) + 2
    print(f"\n{'benchmark':<{width}} {'value':>10}  {'goal':<12} met")
    print("-" * (width + 32))
    for r in results:
        met = "-" if r.met is None else ("yes" if r.met else "NO")
        value = f"{r.value:g}{r.unit}"
        print(f"{r.name:<{width}} {value:>10}  {r.goal:<12} {met}")


def as_json(results: list[Result]) -> list[dict[str, Any]]:
    return [asdict(r) for r in results]


@contextlib.contextmanager
def fake_hopsworks_process(seed: str = "test") -> Iterator[tuple[str, str]]:
    """The fake Hopsworks in its own process (its CPU is not ours): yields (url, service key)."""
    from hopsworks_ui_plugin.devstack import service_key
    from hopsworks_ui_plugin.fake_hopsworks import load_seed

    key = service_key(load_seed(seed))
    with tempfile.TemporaryDirectory() as tmp:
        port_file = Path(tmp) / "port"
        proc = subprocess.Popen(
            [sys.executable, "-m", "hopsworks_ui_plugin.fake_hopsworks", "--seed", seed, "--port", "0",
             "--port-file", str(port_file)],
            stdout=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 30
            while not port_file.exists() or not port_file.read_text().strip():
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("fake Hopsworks did not start")
                time.sleep(0.05)
            yield f"http://127.0.0.1:{int(port_file.read_text())}", key
        finally:
            proc.terminate()
            proc.wait(timeout=10)
