"""Run the benchmarks and print each ratio next to its goal; save the table as JSON.

    .venv/bin/python -m bench.run                 # full sizes (about 10 minutes)
    .venv/bin/python -m bench.run --smoke         # tiny sizes: checks the bench code still runs
    .venv/bin/python -m bench.run --only waiting,jobs

Goals are printed, never enforced: timings vary between machines; ratios measured side by side in
one run are what to compare.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import Result, as_json, print_table

ALL = ("waiting", "slots", "projects", "jobs", "upload", "dags", "coldstart")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, for CI")
    parser.add_argument("--only", default=",".join(ALL), help=f"comma-separated subset of {','.join(ALL)}")
    parser.add_argument("--out", default="bench/results/latest.json")
    args = parser.parse_args(argv)
    only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = set(only) - set(ALL)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="hw-bench-home-"))
    smoke = args.smoke
    results: list[Result] = []
    started = time.time()

    if "waiting" in only:
        from bench import waiting

        results += waiting.run(n=5 if smoke else 200, duration_s=1 if smoke else 20, poll_s=0.25 if smoke else 2)
    if "slots" in only and not smoke:  # starts a scheduler and triggerer: too heavy for a smoke run
        from bench import worker_slots

        results += worker_slots.run(n=8, duration_s=30)
    if {"projects", "jobs", "upload", "dags", "coldstart"} & set(only):
        from bench.stack import web_stack

        jobs = 200 if smoke else 2000
        ttl = 2.0 if smoke else 30.0  # the membership cache's TTL (the default outside smoke runs)
        with web_stack(big_project_jobs=jobs, membership_ttl_s=ttl) as stack:
            repeat = 3 if smoke else 15
            if "projects" in only:  # first: it needs the api-server's membership cache cold
                from bench import projects_page

                results += projects_page.run(stack, repeat, n=20 if smoke else 200, ttl_s=ttl)
            if "jobs" in only:
                from bench import jobs_page

                results += jobs_page.run(stack, repeat, jobs)
            if "upload" in only:
                from bench import upload

                results += upload.run(stack, repeat, size=100_000 if smoke else 1_000_000)
            if "dags" in only:
                from bench import dags_list

                sizes = (200, 1000) if smoke else (500, 5000, 20000)
                results += dags_list.run(stack, sizes, repeat)
            if "coldstart" in only and not smoke:  # four api-server starts: too slow for a smoke run
                from bench import cold_start

                results += cold_start.run(stack, repeat=3)

    print_table(results)
    report: dict[str, Any] = {
        "smoke": smoke,
        "seconds": round(time.time() - started, 1),
        "machine": {"python": sys.version.split()[0], "platform": platform.platform(), "cpus": os.cpu_count()},
        "results": as_json(results),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, default=str))
    print(f"\nSaved {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
