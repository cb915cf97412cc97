"""Real Airflow: how many worker slots launch-and-wait tasks hold while Hopsworks jobs run.

Starts the fake Hopsworks, then Airflow's api-server, scheduler and triggerer (LocalExecutor, SQLite)
with two DAGs of N ``HopsworksLaunchOperator`` tasks each: one deferrable, one polling. Each DAG is
run alone while the metadata DB is sampled every 0.5 s: task instances in state ``running`` hold a
worker slot, ``deferred`` ones wait in the triggerer. Also the triggerer's CPU time and memory.
"""

from __future__ import annotations

import statistics
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import psutil
import requests

from bench.common import Result, fake_hopsworks_process
from hopsworks_ui_plugin import devstack

DAGS = """
import pendulum
from airflow.sdk import DAG
from hopsworks_ui_plugin.operators.hopsworks import HopsworksLaunchOperator

for mode in ("deferrable", "poke"):
    with DAG(f"bench_{mode}", start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), schedule=None,
             default_args={"owner": "alice"}, max_active_tasks=64) as dag:
        for i in range(N):
            HopsworksLaunchOperator(task_id=f"wait_{i}", project_name="demo_fs", job_name="etl",
                                    job_arguments="--duration DURATION", poke_interval_s=POLL,
                                    deferrable=(mode == "deferrable"), copy_logs=False)
    globals()[f"dag_{mode}"] = dag
"""


def _states(dag_id: str, env: dict[str, str]) -> dict[str, int]:
    import sqlite3

    db = env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].removeprefix("sqlite:///")
    with sqlite3.connect(db, timeout=10) as con:
        rows = con.execute("SELECT state, COUNT(*) FROM task_instance WHERE dag_id = ? GROUP BY state",
                           (dag_id,)).fetchall()
    return {str(state): int(count) for state, count in rows}


def _process_tree_usage(pid: int) -> tuple[float, float]:
    """CPU seconds and RSS (MB) of a process and its children."""
    procs = [psutil.Process(pid)]
    procs += procs[0].children(recursive=True)
    cpu = rss = 0.0
    for p in procs:
        try:
            times = p.cpu_times()
            cpu += times.user + times.system
            rss += p.memory_info().rss / 2**20
        except psutil.NoSuchProcess:
            pass
    return cpu, rss


def _run_dag(url: str, headers: dict[str, str], dag_id: str, n: int, env: dict[str, str],
             triggerer_pid: int, timeout: float) -> dict[str, Any]:
    requests.patch(f"{url}/api/v2/dags/{dag_id}", json={"is_paused": False}, headers=headers, timeout=30)
    cpu0, _ = _process_tree_usage(triggerer_pid)
    run = requests.post(f"{url}/api/v2/dags/{dag_id}/dagRuns", json={"logical_date": None}, headers=headers,
                        timeout=30).json()["dag_run_id"]
    samples: list[dict[str, int]] = []
    peak_rss = 0.0
    deadline = time.monotonic() + timeout
    state = "queued"
    while time.monotonic() < deadline:
        samples.append(_states(dag_id, env))
        peak_rss = max(peak_rss, _process_tree_usage(triggerer_pid)[1])
        state = requests.get(f"{url}/api/v2/dags/{dag_id}/dagRuns/{run}", headers=headers, timeout=30).json()["state"]
        if state in ("success", "failed"):
            break
        time.sleep(0.5)
    cpu1, _ = _process_tree_usage(triggerer_pid)
    # The waiting window: samples where every task has launched (none queued/scheduled/None) and
    # some have not finished yet.
    waiting = [s for s in samples
               if sum(s.get(k, 0) for k in ("running", "deferred")) == n - s.get("success", 0) - s.get("failed", 0)
               and s.get("success", 0) + s.get("failed", 0) < n
               and sum(s.get(k, 0) for k in ("running", "deferred")) > 0]
    return {
        "state": state,
        "samples": len(samples),
        "waiting_samples": len(waiting),
        "max_running_while_waiting": max((s.get("running", 0) for s in waiting), default=0),
        "median_running_while_waiting": statistics.median([s.get("running", 0) for s in waiting]) if waiting else 0,
        "mean_running_while_waiting": (sum(s.get("running", 0) for s in waiting) / len(waiting)) if waiting else 0,
        "max_deferred": max((s.get("deferred", 0) for s in samples), default=0),
        "triggerer_cpu_s": cpu1 - cpu0,
        "triggerer_peak_rss_mb": peak_rss,
    }


def run(n: int, duration_s: float, poll_s: float = 2.0, timeout: float = 600) -> list[Result]:
    with fake_hopsworks_process() as (hw_url, key), tempfile.TemporaryDirectory(prefix="hw-bench-") as tmp:
        home = Path(tmp) / "airflow"
        port = devstack.free_port()
        env = devstack.airflow_env(home, port, hopsworks_url=hw_url, service_key=key,
                                   extra={"AIRFLOW__CORE__PARALLELISM": str(max(32, 2 * n)),
                                          "AIRFLOW__FAB__AUTH_RATE_LIMITED": "False"})
        source = DAGS.replace("N)", f"{n})").replace("DURATION", f"{duration_s:g}").replace("POLL", f"{poll_s:g}")
        # In the project's folder: a task may reach only the project whose folder its DAG file is in.
        folder = home / "dags" / "demo_fs"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "bench_dags.py").write_text(textwrap.dedent(source))
        devstack.init_airflow(env)
        devstack.run_airflow(env, "dags", "reserialize")
        services = devstack.start_airflow(env, ["api-server", "scheduler", "triggerer"], home / "logs-svc")
        try:
            url = f"http://127.0.0.1:{port}"
            devstack.wait_http(f"{url}/api/v2/monitor/health", timeout=180, service=services[0])
            headers = devstack.bearer(devstack.login(url, "admin"))
            triggerer = next(s for s in services if s.name == "triggerer")
            deferrable = _run_dag(url, headers, "bench_deferrable", n, env, triggerer.proc.pid, timeout)
            poke = _run_dag(url, headers, "bench_poke", n, env, triggerer.proc.pid, timeout)
        finally:
            for service in services:
                service.stop()
    details = {"tasks": n, "job_duration_s": duration_s, "deferrable": deferrable, "poke": poke}
    ok = deferrable["state"] == "success" and poke["state"] == "success"
    return [
        # Median over the samples taken while jobs ran: a deferrable task holds a slot only for its
        # launch and its resume (seconds), so the typical count is 0; a polling task holds one throughout.
        Result(f"real Airflow: worker slots held while waiting (median), deferrable ({n} tasks)",
               deferrable["median_running_while_waiting"], "= 0", "",
               ok and deferrable["median_running_while_waiting"] == 0, details),
        Result(f"real Airflow: worker slots held while waiting (median), poke ({n} tasks)",
               poke["median_running_while_waiting"], f"(= {n})", "", None),
        Result("real Airflow: triggerer CPU s while waiting, deferrable", round(deferrable["triggerer_cpu_s"], 2),
               "(report)", "s", None),
    ]
