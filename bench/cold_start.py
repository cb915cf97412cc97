"""Cold start: time from ``airflow api-server`` start to the first plugin page served, with and without
the plugin installed (what importing and registering the plugin adds to a start).

Both starts use the web stack's home and DB (on another port) and serve the bench floor plugin's
``/pluginsv2/bench-floor/ping`` (from the plugins folder), so "the first plugin page" is the same page
in both. "Without" runs the same Airflow through :mod:`bench.without_plugin`, which hides this
package's distribution (its ``airflow.plugins`` and ``apache_airflow_provider`` entry points) from
``importlib.metadata`` before Airflow starts: the plugin is then not loaded at all, as if uninstalled.
Starts alternate with and without, so drift on the machine hits both alike.
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from bench.common import Result
from bench.stack import WebStack
from hopsworks_ui_plugin import devstack


def _start_and_wait(stack: WebStack, with_plugin: bool, log: Path) -> tuple[float, float | None]:
    """Seconds to the floor page's first 200 and (with the plugin) to the first page of ours."""
    port = devstack.free_port()
    env = {**stack.env, **devstack.port_env(port)}
    launcher = [devstack.airflow_bin()] if with_plugin else [sys.executable, "-m", "bench.without_plugin"]
    args = [*launcher, "api-server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    url = f"http://127.0.0.1:{port}/pluginsv2"
    ours = f"{url}/hopsworks/my-dags/"  # anonymous: our login_required answers 302 to the login page
    with open(log, "ab") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                cwd=Path(__file__).resolve().parent.parent)
        try:
            floor_s = _first_answer(f"{url}/bench-floor/ping", started, proc, {200})
            ours_s = _first_answer(ours, started, proc, {302}) if with_plugin else None
            if not with_plugin:
                status = _status(ours)
                assert status == 404, f"the plugin was loaded although hidden ({status})"
            return floor_s, ours_s
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def _status(url: str) -> int | None:
    try:
        with _OPENER.open(url, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as err:
        return int(err.code)
    except Exception:  # not listening yet
        return None


def _first_answer(url: str, started: float, proc: subprocess.Popen[bytes], wanted: set[int]) -> float:
    deadline = started + 300
    while time.perf_counter() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"api-server exited early ({proc.returncode})")
        if _status(url) in wanted:
            return time.perf_counter() - started
        time.sleep(0.05)
    raise TimeoutError(f"{url} did not answer {wanted} within 300 s")


IMPORT_PROBE = (
    "import time, airflow.plugins_manager, flask_appbuilder\n"
    "t = time.perf_counter()\n"
    "import hopsworks_ui_plugin.plugin\n"
    "print(time.perf_counter() - t)\n"
)


def import_cost(env: dict[str, str], repeat: int) -> list[float]:
    """Seconds to import the plugin module in a fresh process that has already imported Airflow's
    plugin manager and FAB (what the plugin's own imports add; each run a new interpreter)."""
    runs = []
    for _ in range(repeat):
        out = subprocess.run([sys.executable, "-c", IMPORT_PROBE], env=env, capture_output=True, text=True,
                             check=True, timeout=300)
        runs.append(float(out.stdout.strip().splitlines()[-1]))
    return runs


def run(stack: WebStack, repeat: int) -> list[Result]:
    log = stack.home / "cold-start.log"
    with_floor: list[float] = []
    without_floor: list[float] = []
    ours: list[float] = []
    for _ in range(repeat):
        floor_s, ours_s = _start_and_wait(stack, True, log)
        with_floor.append(floor_s)
        ours.append(ours_s or 0.0)
        without_floor.append(_start_and_wait(stack, False, log)[0])
    imports = import_cost(stack.env, repeat)
    w, wo, o = (statistics.median(x) for x in (with_floor, without_floor, ours))
    details = {"with_s": with_floor, "without_s": without_floor, "first_page_of_ours_s": ours}
    return [
        Result("cold start: api-server start to first plugin page, with the plugin", round(w, 2), "(report)", " s",
               None, details),
        Result("cold start: same, without the plugin installed", round(wo, 2), "(report)", " s", None, details),
        Result("cold start: what the plugin adds (with - without)", round(w - wo, 2), "(report)", " s", None,
               details),
        Result("cold start: importing the plugin on top of Airflow + FAB (fresh process)",
               round(statistics.median(imports), 2), "(report)", " s", None, {"runs_s": imports}),
        Result("cold start: api-server start to the first page of ours (My DAGs)", round(o, 2), "(report)", " s",
               None, details),
    ]
