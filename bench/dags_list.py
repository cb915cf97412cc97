"""Owner-filtered DAG list at scale: the "My DAGs" page vs Airflow's own ``/api/v2/dags`` call, and vs
``/ui/dags``, the call Airflow 3's React DAG list makes (it includes each DAG's recent runs; the card
view asks for 14, ``dag_runs_limit=14``).

DagModel rows (50 owners, alice among them) and ``RUNS_PER_DAG`` finished runs per DAG are inserted
straight into the metadata DB; parsing thousands of files is not what is measured. Both sides ask for
the same owner and page size.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import create_engine, delete, insert, select

from bench.common import Result, ratio, side_by_side
from bench.stack import WebStack

OWNERS = ["alice"] + [f"user{i:02d}" for i in range(1, 50)]
PAGE = 50
ADMIN_API_PARAMS: dict[str, str | int] = {"limit": PAGE, "offset": 0, "order_by": "dag_id"}
RUNS_PER_DAG = 3
REACT_RUNS = 14  # dag_runs_limit of the React DAG list's card view (airflow/ui: display "card" ? 14 : 1)


def fill(stack: WebStack, count: int) -> None:
    """Make the DB hold exactly ``count`` bench DAGs."""
    from airflow.models.dag import DagModel
    from airflow.models.dagbundle import DagBundleModel
    from airflow.models.dagrun import DagRun

    engine = create_engine(stack.env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    folder = stack.env["AIRFLOW__CORE__DAGS_FOLDER"]
    with engine.begin() as conn:
        if conn.execute(select(DagBundleModel.name).where(DagBundleModel.name == "dags-folder")).first() is None:
            conn.execute(insert(DagBundleModel.__table__).values(name="dags-folder", active=True))
        conn.execute(delete(DagRun.__table__).where(DagRun.dag_id.like("bench_%")))
        conn.execute(delete(DagModel.__table__).where(DagModel.dag_id.like("bench_%")))
        rows: list[dict[str, Any]] = []
        for i in range(count):
            project = ("demo_fs", "analytics", "other")[i % 3]
            rows.append({
                "dag_id": f"bench_{i:05d}", "owners": OWNERS[i % len(OWNERS)], "is_paused": i % 2 == 0,
                "is_stale": False, "bundle_name": "dags-folder",
                "fileloc": f"{folder}/{project}/bench_{i:05d}.py", "relative_fileloc": f"{project}/bench_{i:05d}.py",
                "max_active_tasks": 16, "max_consecutive_failed_dag_runs": 0, "has_task_concurrency_limits": False,
                "timetable_summary": "@daily",
            })
        for start in range(0, len(rows), 5000):
            conn.execute(insert(DagModel.__table__), rows[start:start + 5000])
        base = datetime(2026, 1, 1, tzinfo=UTC)
        runs: list[dict[str, Any]] = []
        for i in range(count):
            for r in range(RUNS_PER_DAG):
                day = base + timedelta(days=r)
                runs.append({
                    "dag_id": f"bench_{i:05d}", "run_id": f"scheduled__{day.isoformat()}", "run_type": "scheduled",
                    "state": ("success", "failed", "success")[(i + r) % 3], "logical_date": day, "run_after": day,
                    "data_interval_start": day - timedelta(days=1), "data_interval_end": day,
                    "start_date": day, "end_date": day + timedelta(minutes=5), "queued_at": day, "clear_number": 0,
                })
        for start in range(0, len(runs), 5000):
            conn.execute(insert(DagRun.__table__), runs[start:start + 5000])
    engine.dispose()


def run(stack: WebStack, sizes: tuple[int, ...], repeat: int) -> list[Result]:
    alice, admin = stack.login("alice"), stack.login("admin")
    page_url = f"{stack.url}/pluginsv2/hopsworks/my-dags/"
    api_url = f"{stack.url}/api/v2/dags"
    ui_url = f"{stack.url}/ui/dags"
    results: list[Result] = []
    timings: dict[int, dict[str, float]] = {}
    for count in sizes:
        fill(stack, count)

        def my_page(session: Any = alice, params: dict[str, Any] | None = None) -> None:
            response = session.get(page_url, params=params or {"sort": "dag_id", "per_page": PAGE}, timeout=120)
            assert response.status_code == 200 and "bench_" in response.text, response.status_code

        def api(session: Any = alice, count: int = count) -> None:
            response = session.get(api_url, params={"owners": "alice", "limit": PAGE, "offset": 0,
                                                    "order_by": "dag_id"}, headers=stack.bearer(session), timeout=120)
            assert response.status_code == 200 and response.json()["total_entries"] >= count // 50, response.text[:200]

        def react(session: Any = alice, owners: str | None = "alice", count: int = count) -> None:
            params: dict[str, Any] = {"limit": PAGE, "offset": 0, "order_by": "dag_id", "dag_runs_limit": REACT_RUNS}
            if owners:
                params["owners"] = owners
            response = session.get(ui_url, params=params, headers=stack.bearer(session), timeout=120)
            assert response.status_code == 200 and response.json()["total_entries"] >= count // 50, response.text[:200]
            assert any(d.get("latest_dag_runs") for d in response.json()["dags"]), "no recent runs in /ui/dags"

        page_ui, react_ui = side_by_side(my_page, react, repeat)
        admin_page_ui, admin_react = side_by_side(
            lambda: my_page(admin, {"sort": "dag_id", "per_page": PAGE}), lambda: react(admin, None), repeat)
        page, baseline = side_by_side(my_page, api, repeat)
        admin_page, admin_api = side_by_side(
            lambda: my_page(admin, {"sort": "dag_id", "per_page": PAGE}),
            lambda: admin.get(api_url, params=ADMIN_API_PARAMS,
                              headers=stack.bearer(admin), timeout=120).raise_for_status(),
            repeat,
        )
        timings[count] = {"page_s": page.median, "api_s": baseline.median, "admin_page_s": admin_page.median}
        results.append(ratio(f"My DAGs page ({count:,} DAGs, non-admin) vs /ui/dags?owners= (React list, "
                             f"{REACT_RUNS} recent runs)", page_ui, react_ui, 1.0, page_size=PAGE,
                             runs_per_dag=RUNS_PER_DAG))
        results.append(ratio(f"My DAGs page ({count:,} DAGs, admin, all) vs /ui/dags (React list)", admin_page_ui,
                             admin_react, 1.0, page_size=PAGE, runs_per_dag=RUNS_PER_DAG))
        results.append(ratio(f"My DAGs page ({count:,} DAGs, non-admin) vs /api/v2/dags?owners=", page, baseline,
                             1.5, page_size=PAGE))
        results.append(ratio(f"My DAGs page ({count:,} DAGs, admin, all) vs /api/v2/dags", admin_page, admin_api,
                             1.5, page_size=PAGE))
    smallest, largest = sizes[0], sizes[-1]
    growth = timings[largest]["page_s"] / timings[smallest]["page_s"]
    results.append(Result(f"My DAGs page time at {largest:,} vs {smallest:,} DAGs", round(growth, 3),
                          "flat (~1)", "x", None, {"timings": timings}))
    return results
