"""The benchmarks still run (tiny sizes). Timings are printed by the bench, never asserted here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_bench_smoke_run_produces_every_result(tmp_path):
    out = tmp_path / "bench.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    result = subprocess.run(
        [sys.executable, "-m", "bench.run", "--smoke", "--out", str(out)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(out.read_text())
    names = [r["name"] for r in report["results"]]
    for expected in ("waiting: HTTP requests per poll, deferrable", "jobs page: Hopsworks requests per rendered page",
                     "jobs page (200 jobs, 50/page) vs raw Hopsworks request + empty plugin page",
                     "upload 0.1 MB DAG through the page vs write + compile()",
                     "upload 0.1 MB DAG through the page vs bare multipart endpoint + atomic write + compile()",
                     "My DAGs page (1,000 DAGs, non-admin) vs /api/v2/dags?owners=",
                     "My DAGs page (1,000 DAGs, non-admin) vs /ui/dags?owners= (React list, 14 recent runs)",
                     "projects page (20 projects) vs empty plugin page"):
        assert expected in names, names
    by_name = {r["name"]: r for r in report["results"]}
    # Counts, unlike timings, are exact: one Hopsworks request per poll and per jobs page; the projects
    # page asks nothing per project (one GET /project with the user's own key, nothing when warm).
    assert by_name["waiting: HTTP requests per poll, deferrable"]["value"] == 1
    assert by_name["jobs page: Hopsworks requests per rendered page"]["value"] == 1
    assert by_name["projects page (20 projects), user's own key: Hopsworks requests"]["details"]["calls"] == [
        "GET /project"]
    assert by_name["projects page (20 projects): Hopsworks job-count requests per page (was 20)"]["value"] == 0
    assert by_name["projects page (20 projects), shared connection, warm: Hopsworks requests"]["value"] == 0
    assert by_name["projects page: one row's job count (JSON): Hopsworks requests"]["value"] == 1
    assert "benchmark" in result.stdout and "goal" in result.stdout
