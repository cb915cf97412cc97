"""Waiting for many Hopsworks executions: deferrable (one event loop, as the triggerer) vs poke mode.

In-process, at full scale: N executions run on the fake Hopsworks (real clock); the deferrable side
runs N ``HopsworksExecutionTrigger``s in one asyncio loop exactly as the triggerer would; the poke side
runs N ``HopsworksLaunchOperator`` wait loops, one thread each, standing for N busy worker slots.
Counted, not timed: HTTP requests per poll and new TCP connections. Measured: CPU seconds and
memory growth of each side. The real-Airflow part (``worker_slots``) runs a few tasks of each kind
through the scheduler, executor and triggerer and samples how many task instances hold a worker slot
(state ``running``) while the Hopsworks executions run.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import psutil
import urllib3.connectionpool

from bench.common import Result, fake_hopsworks_process


class Counters:
    """Counts HTTP requests and new TCP connections (at urllib3) and polls while installed."""

    def __init__(self) -> None:
        self.connections = 0
        self.requests = 0
        self.polls = 0
        self._lock = threading.Lock()
        self._pool = urllib3.connectionpool.HTTPConnectionPool
        self._originals = (self._pool._new_conn, self._pool.urlopen)

    def __enter__(self) -> Counters:
        counters = self
        new_conn, urlopen = self._originals

        def counting_new_conn(pool: Any) -> Any:
            with counters._lock:
                counters.connections += 1
            return new_conn(pool)

        def counting_urlopen(pool: Any, *args: Any, **kwargs: Any) -> Any:
            with counters._lock:
                counters.requests += 1
            return urlopen(pool, *args, **kwargs)

        self._pool._new_conn = counting_new_conn  # type: ignore[method-assign,assignment]
        self._pool.urlopen = counting_urlopen  # type: ignore[method-assign,assignment]
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool._new_conn, self._pool.urlopen = self._originals  # type: ignore[method-assign]

    def poll(self) -> None:
        with self._lock:
            self.polls += 1


class Sampler:
    """Peak RSS of this process above its level at start, sampled every 50 ms."""

    def __init__(self) -> None:
        self.process = psutil.Process()
        self.base = self.process.memory_info().rss
        self.peak = self.base
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.base) / 2**20


def connection(url: str, key: str) -> SimpleNamespace:
    scheme, rest = url.split("://", 1)
    host, _, port = rest.partition(":")
    extras = {"timeout": 10, "retries": 2}
    import json

    return SimpleNamespace(conn_id="bench", host=host, port=int(port), schema=scheme, password=key,
                           extra=json.dumps(extras), extra_dejson=extras)


def _launch(conn: Any, n: int, duration_s: float) -> list[int]:
    from hopsworks_ui_plugin.hooks.hopsworks import HopsworksHook

    hook = HopsworksHook("bench", connection=conn)
    try:
        return [int(hook.start_execution("etl", f"--duration {duration_s}", 119)["id"]) for _ in range(n)]
    finally:
        hook.close()


def run_deferrable(conn: Any, ids: list[int], poll_s: float) -> dict[str, float]:
    from hopsworks_ui_plugin.triggers.hopsworks import HopsworksExecutionTrigger

    triggers = [
        HopsworksExecutionTrigger(project_id=119, job_name="etl", execution_id=i, hopsworks_conn_id="bench",
                                  poll_interval=poll_s)
        for i in ids
    ]
    with Counters() as counters, Sampler() as memory:
        for trigger in triggers:  # the connection comes from the triggerer's secrets lookup in Airflow
            original_poll = trigger._poll

            async def counted_poll(hook: Any, _orig: Callable[..., Any] = original_poll) -> Any:
                counters.poll()
                return await _orig(hook)

            trigger._poll = counted_poll  # type: ignore[method-assign]

        async def drain(trigger: HopsworksExecutionTrigger) -> str:
            from hopsworks_ui_plugin.hooks.hopsworks import HopsworksHook

            trigger._hook = HopsworksHook("bench", project_id=119, connection=conn)
            async for event in trigger.run():
                return str(event.payload["status"])
            return "none"

        async def main() -> list[str]:
            return await asyncio.gather(*(drain(t) for t in triggers))

        cpu0, wall0 = time.process_time(), time.perf_counter()
        statuses = asyncio.run(main())
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    assert statuses.count("success") == len(ids), statuses
    return {"cpu_s": cpu, "wall_s": wall, "memory_mb": memory.growth_mb, "polls": counters.polls,
            "requests": counters.requests, "connections": counters.connections, "slots": 0}


def run_poke(conn: Any, ids: list[int], poll_s: float) -> dict[str, float]:
    from hopsworks_ui_plugin.hooks.hopsworks import HopsworksHook
    from hopsworks_ui_plugin.operators.hopsworks import HopsworksLaunchOperator

    busy = 0
    peak_busy = 0
    lock = threading.Lock()

    def wait(execution_id: int, counters: Counters) -> None:
        nonlocal busy, peak_busy
        op = HopsworksLaunchOperator(task_id=f"t{execution_id}", job_name="etl", project_id=119,
                                     poke_interval_s=poll_s, copy_logs=False)
        hook = HopsworksHook("bench", project_id=119, connection=conn)
        original = hook.get_execution

        def counted(*args: Any, **kwargs: Any) -> Any:
            counters.poll()
            return original(*args, **kwargs)

        hook.get_execution = counted  # type: ignore[method-assign]
        with lock:
            busy += 1
            peak_busy = max(peak_busy, busy)
        try:
            op._wait(hook, 119, execution_id)  # what a worker slot does in poke mode
        finally:
            hook.close()
            with lock:
                busy -= 1

    with Counters() as counters, Sampler() as memory:
        threads = [threading.Thread(target=wait, args=(i, counters)) for i in ids]
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    return {"cpu_s": cpu, "wall_s": wall, "memory_mb": memory.growth_mb, "polls": counters.polls,
            "requests": counters.requests, "connections": counters.connections, "slots": peak_busy}


def run(n: int, duration_s: float, poll_s: float) -> list[Result]:
    logging.getLogger("airflow.task").setLevel(logging.WARNING)
    with fake_hopsworks_process() as (url, key):
        conn = connection(url, key)
        deferrable = run_deferrable(conn, _launch(conn, n, duration_s), poll_s)
        poke = run_poke(conn, _launch(conn, n, duration_s), poll_s)
    per_poll_d = deferrable["requests"] / max(deferrable["polls"], 1)
    per_poll_p = poke["requests"] / max(poke["polls"], 1)
    details = {"tasks": n, "job_duration_s": duration_s, "poll_interval_s": poll_s,
               "deferrable": deferrable, "poke": poke}
    return [
        Result(f"waiting: worker slots held, deferrable ({n} tasks)", deferrable["slots"], "= 0", "", True,
               details),
        Result(f"waiting: worker slots held, poke ({n} tasks)", poke["slots"], f"(= {n})", "", None),
        Result("waiting: HTTP requests per poll, deferrable", round(per_poll_d, 3), "= 1", "", per_poll_d == 1),
        Result("waiting: HTTP requests per poll, poke", round(per_poll_p, 3), "= 1", "", per_poll_p == 1),
        Result("waiting: TCP connections per waiting task, deferrable",
               round(deferrable["connections"] / n, 3), "<= 1", "", deferrable["connections"] <= n),
        Result("waiting: CPU seconds, deferrable / poke", round(deferrable["cpu_s"] / max(poke["cpu_s"], 1e-9), 3),
               "(report)", "x", None),
        Result("waiting: memory growth MB, deferrable / poke",
               round(deferrable["memory_mb"] / max(poke["memory_mb"], 1e-9), 3), "(report)", "x", None),
    ]
