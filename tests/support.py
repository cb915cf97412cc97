"""Helpers shared by the tests (not fixtures: those are in conftest.py). Importable from any test."""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hopsworks_ui_plugin import devstack
from hopsworks_ui_plugin.fake_hopsworks import load_seed

ARTIFACTS = Path(os.environ.get("HW_TEST_ARTIFACTS", Path(__file__).resolve().parent.parent / "test-artifacts"))

TEST_SEED = load_seed("test")


def seed_key(username: str, seed: dict[str, Any] = TEST_SEED) -> str:
    """The first API key of a seed user with scopes JOB and PROJECT."""
    for key in seed["api_keys"]:
        if key["username"] == username and {"JOB", "PROJECT"} <= set(key.get("scopes", [])):
            return str(key["key"])
    raise KeyError(username)


class ScaledClock:
    """Real time, sped up: a 4 s fake job takes 4/speed s, so waiting tests stay fast."""

    def __init__(self, speed: float = 10.0) -> None:
        self.speed = speed
        self._t0 = time.time()

    def now(self) -> float:
        return self._t0 + (time.time() - self._t0) * self.speed


def connection_json(url: str, key: str, **extra: Any) -> str:
    return devstack.hopsworks_connection_json(url, key, **{"timeout": 5, "retries": 2, "retry_backoff": 0.05, **extra})


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'id="csrf_token" name="csrf_token" type="hidden" value="([^"]+)"', html
    )
    assert match, "no csrf_token in page"
    return match.group(1)


CHROMIUM = os.environ.get("HW_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run",
    "--disable-dev-shm-usage",
]


def browser_page_logged_in(browser: Any, server_url: str, username: str, password: str | None = None) -> Any:
    """A new browser context logged in through Airflow's login form: ``(context, page)``."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(f"{server_url}/auth/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password or username)
    page.click("input[type=submit], button[type=submit]")
    page.wait_for_url(lambda url: "/auth/login" not in url)
    assert any(c["name"] == "_token" for c in context.cookies()), f"browser login of {username} failed"
    return context, page


def screenshot(page: Any, name: str) -> Path:
    """Save a full-page screenshot as a test artifact (test-artifacts/screenshots/NAME.png)."""
    target = ARTIFACTS / "screenshots" / f"{name}.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target), full_page=True)
    return target


BULK_PROJECT_ID, BULK_PROJECT = 4119, "bulk_jobs"


def ensure_bulk_project(server: Any) -> int:
    """A project of the fake Hopsworks with 2,000 jobs; only the service accounts are in its team, so
    only admins see it. Created once per server; returns its id."""
    from hopsworks_ui_plugin.fake_hopsworks.state import Project

    state = server.state
    with state.lock:
        if BULK_PROJECT_ID not in state.projects:
            now = state.now()
            state.projects[BULK_PROJECT_ID] = Project(
                BULK_PROJECT_ID, BULK_PROJECT, "airflow", now, "2,000 jobs",
                {"airflow": ("Data owner", now), "airflow_ui": ("Data scientist", now)},
            )
            state.add_jobs(BULK_PROJECT_ID, 2000, prefix="job_")
    return BULK_PROJECT_ID


# --- DAG files (tests/dag_files, tests/core/test_dag_files.py, tests/views/test_dag_files.py) ------

#: File names an upload must refuse: paths, encodings of paths, look-alike slashes and dots,
#: control characters, hidden names, other extensions.
HOSTILE_NAMES = [
    "", "../evil.py", "../../etc/evil.py", "..\\evil.py", "/etc/evil.py", "/tmp/evil.py", "sub/dag.py",
    "sub\\dag.py", "C:\\dags\\evil.py", "..", "...py", "evil..py", "dag.py\x00.txt", "dag\x00.py", "da\ng.py",
    "dag\r.py", "\tdag.py", ".hidden.py", ".py", "dag.txt", "dag.pyc", "dag.py.txt", "dag.PY", "dag",
    "x" * 200 + ".py", "%2e%2e%2fevil.py", "..%2fevil.py", "%2e%2e%5cevil.py", "..%252fevil.py",
    "\u2215etc\u2215evil.py",  # DIVISION SLASH
    "..\u2215evil.py",
    "\uff0e\uff0e\uff0fevil.py",  # FULLWIDTH FULL STOP x2 + FULLWIDTH SOLIDUS
    "..\uff0fevil.py",
    "\u2024\u2024\u2215evil.py",  # ONE DOT LEADER x2 + DIVISION SLASH
    "\u2025/evil.py",  # TWO DOT LEADER
    "dag\u202e.py",  # RIGHT-TO-LEFT OVERRIDE
    "d\u0430.py",  # Cyrillic a
    "my dag.py", "-rf.py", "~root.py", "dag.py/", "dag.py;rm -rf",
]


def dag_source(owner: str | None, dag_id: str, extra: str = "") -> bytes:
    """A small DAG file with ``default_args={'owner': owner}`` (no owner at all for None)."""
    args = f"default_args={{'owner': {owner!r}}}, " if owner else ""
    return (
        f"{DAG_IMPORT}\n{EMPTY_OPERATOR_IMPORT}\n"
        f"{extra}"
        f"with DAG({dag_id!r}, {args}schedule=None):\n"
        "    EmptyOperator(task_id='noop')\n"
    ).encode()


@contextmanager
def project_dag_file(home: Path, prefix: str, owner: str = "alice", project: str = "demo_fs") -> Iterator[Path]:
    """A DAG file ``<prefix>_<8 hex>.py`` (its DAG id is the file's stem, owned by ``owner``) in the
    project's folder of the DAGs folder under the Airflow ``home``; removed afterwards."""
    path = home / "dags" / project / f"{prefix}_{uuid.uuid4().hex[:8]}.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(dag_source(owner, path.stem))
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


def insert_dag(dag_id: str, fileloc: Path, relative: str, owners: str = "alice", paused: bool = False) -> None:
    """A DAG row as the DAG processor would write it for a file of the ``dags-folder`` bundle."""
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session

    with create_session() as session:
        session.merge(
            DagModel(
                dag_id=dag_id, fileloc=str(fileloc), relative_fileloc=relative, bundle_name="dags-folder",
                owners=owners, is_paused=paused, is_stale=False, max_active_tasks=16,
                max_consecutive_failed_dag_runs=0, has_task_concurrency_limits=False,
            )
        )


def insert_import_error(relative: str) -> None:
    from airflow.models.errors import ParseImportError
    from airflow.utils.session import create_session

    with create_session() as session:
        session.add(ParseImportError(filename=relative, bundle_name="dags-folder", stacktrace="Boom: line 3"))


def dag_rows(*dag_ids: str) -> dict[str, bool]:
    """``{dag_id: is_paused}`` of those DAGs that still have a row."""
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.execute(select(DagModel.dag_id, DagModel.is_paused).where(DagModel.dag_id.in_(dag_ids)))
        return {r[0]: r[1] for r in rows}


# --- My DAGs scenario: real DAG files parsed into the shared metadata DB (My DAGs, metadb, auth manager) ---

MDT_PREFIX = "mdt_"

#: dag id -> (folder under the DAGs folder, task owners, schedule)
SCENARIO_DAGS: dict[str, tuple[str, list[str], str | None]] = {
    "mdt_alice_etl": ("mdt_scenario", ["alice"], None),
    "mdt_alice_daily": ("mdt_scenario", ["alice"], "@daily"),
    "mdt_bob_report": ("mdt_scenario", ["bob"], None),
    "mdt_shared": ("mdt_scenario", ["alice", "bob"], None),  # owners "alice, bob"
    "mdt_nospace": ("mdt_scenario", ["alice,bob"], None),  # owners "alice,bob"
    "mdt_alice2": ("mdt_scenario", ["alice2"], None),  # near miss
    "mdt_caps": ("mdt_scenario", ["Alice"], None),  # case: owners compare case-insensitively
    "mdt_carol": ("mdt_scenario", ["carol"], None),
    "mdt_default_owner": ("mdt_scenario", [], None),  # owner "airflow"
    "mdt_demo_fs_bob": ("demo_fs", ["bob"], None),  # in project demo_fs's folder (alice and bob are members)
    "mdt_analytics_carol": ("analytics", ["carol"], None),  # in project analytics's folder (carol only)
    "mdt_stale_alice": ("mdt_scenario", ["alice"], None),  # file removed -> stale
    "mdt_broken_alice": ("mdt_scenario", ["alice"], None),  # file later fails to import
}
MDT_STALE = "mdt_stale_alice"
MDT_BROKEN = "mdt_broken_alice"

#: The My DAGs page: owner-only (exact token, case-insensitive); import-error DAGs shown, stale ones not.
MY_DAGS_EXPECTED = {
    "alice": {"mdt_alice_etl", "mdt_alice_daily", "mdt_shared", "mdt_nospace", "mdt_caps", MDT_BROKEN},
    "bob": {"mdt_bob_report", "mdt_shared", "mdt_nospace", "mdt_demo_fs_bob"},
    "carol": {"mdt_carol", "mdt_analytics_carol"},
    "dave": set(),
    "admin": set(SCENARIO_DAGS) - {MDT_STALE},
}

#: ``/api/v2/dags`` under HopsworksAuthManager: owner OR member of the project folder; stale DAGs (the
#: broken one included) are not listed by Airflow.
AUTH_MANAGER_API_EXPECTED = {
    "alice": {"mdt_alice_etl", "mdt_alice_daily", "mdt_shared", "mdt_nospace", "mdt_caps", "mdt_demo_fs_bob"},
    "bob": {"mdt_bob_report", "mdt_shared", "mdt_nospace", "mdt_demo_fs_bob"},
    "carol": {"mdt_carol", "mdt_analytics_carol"},
    "dave": set(),
    "admin": set(SCENARIO_DAGS) - {MDT_STALE, MDT_BROKEN},
}

_SCENARIO_BUILT: dict[str, bool] = {}


def _scenario_dag_source(dag_id: str, owners: list[str], schedule: str | None) -> str:
    lines = [
        "from datetime import datetime",
        DAG_IMPORT,
        EMPTY_OPERATOR_IMPORT,
        "",
        f"with DAG({dag_id!r}, schedule={schedule!r}, start_date=datetime(2024, 1, 1), catchup=False,",
        "         tags=['my-dags-test']):",
    ]
    for i, owner in enumerate(owners or [None]):  # type: ignore[list-item]
        owner_arg = f", owner={owner!r}" if owner else ""
        lines.append(f"    EmptyOperator(task_id='t{i}'{owner_arg})")
    return "\n".join(lines) + "\n"


def _airflow_2() -> bool:
    from hopsworks_ui_plugin.version_compat import AIRFLOW_V_3

    return not AIRFLOW_V_3


#: How a test DAG file imports DAG and EmptyOperator on the installed Airflow. The comment keeps the
#: words "airflow" and "dag" in every file (Airflow's safe mode skips files without them).
DAG_IMPORT = "from hopsworks_ui_plugin.version_compat import DAG  # airflow.sdk.DAG on 3.x, airflow.DAG on 2.x"
EMPTY_OPERATOR_IMPORT = (
    "from airflow.operators.empty import EmptyOperator" if _airflow_2()
    else "from airflow.providers.standard.operators.empty import EmptyOperator"
)


def parse_dag_files(paths: list[Path]) -> None:
    """Parse these files into the metadata DB like ``airflow dags reserialize`` (only these files),
    with the API of the installed Airflow."""
    from airflow.utils.session import create_session

    from hopsworks_ui_plugin.version_compat import AIRFLOW_V_3, AIRFLOW_V_3_1_PLUS, AIRFLOW_V_3_2_PLUS

    root = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    if not AIRFLOW_V_3:  # Airflow 2: no bundles
        from airflow.models.dagbag import DagBag

        for path in paths:
            with create_session() as session:
                DagBag(dag_folder=str(path), include_examples=False).sync_to_db(session=session)
        return
    from airflow.dag_processing.bundles.manager import DagBundlesManager

    DagBundlesManager().sync_bundles_to_db()
    for path in paths:
        with create_session() as session:
            if AIRFLOW_V_3_2_PLUS:
                from airflow.dag_processing.dagbag import BundleDagBag, sync_bag_to_db

                bag = BundleDagBag(dag_folder=str(path), bundle_path=root, bundle_name="dags-folder")
                sync_bag_to_db(bag, "dags-folder", None, session=session)
            elif AIRFLOW_V_3_1_PLUS:
                from airflow.models.dagbag import BundleDagBag as BundleDagBag31  # type: ignore[attr-defined]
                from airflow.models.dagbag import sync_bag_to_db as sync31  # type: ignore[attr-defined]

                sync31(BundleDagBag31(dag_folder=str(path), bundle_path=root), "dags-folder", None, session=session)
            else:  # Airflow 3.0
                from airflow.models.dagbag import DagBag

                bag30: Any = DagBag(dag_folder=str(path), include_examples=False, bundle_path=root)
                bag30.sync_to_db("dags-folder", None, session=session)


def build_my_dags_scenario() -> dict[str, Path]:
    """Write and parse the ``mdt_*`` DAGs once per test session (every DAG gets a bundle, a serialized
    version and real owners); return their files. Other modules may add DAGs to the same DB: exact-set
    assertions look at ``mdt_*`` ids only."""
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session
    from sqlalchemy import update

    root = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    files = {dag_id: root / folder / f"{dag_id}.py" for dag_id, (folder, _, _) in SCENARIO_DAGS.items()}
    if _SCENARIO_BUILT.get("done"):
        return files
    for dag_id, (_folder, owners, schedule) in SCENARIO_DAGS.items():
        files[dag_id].parent.mkdir(parents=True, exist_ok=True)
        files[dag_id].write_text(_scenario_dag_source(dag_id, owners, schedule))
    parse_dag_files(list(files.values()))
    # The broken DAG: its file now fails to import (Airflow records the error, marks the DAG stale).
    files[MDT_BROKEN].write_text(f"{DAG_IMPORT}\n\nwith DAG('mdt_broken_alice' this is not python\n")
    parse_dag_files([files[MDT_BROKEN]])
    # The stale DAG: its file is gone.
    files[MDT_STALE].unlink()
    with create_session() as session:
        stale = {"is_active": False} if _airflow_2() else {"is_stale": True}
        session.execute(update(DagModel).where(DagModel.dag_id == MDT_STALE).values(**stale))
    _SCENARIO_BUILT["done"] = True
    return files


def page_dag_ids(text: str) -> set[str]:
    """The DAG ids of the rows of a My DAGs page."""
    import html

    return {html.unescape(m) for m in re.findall(r'<tr data-dag-id="([^"]+)"', text)}


def dag_model_row(dag_id: str) -> Any:
    """The DagModel row of a DAG (detached), or None."""
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session

    with create_session() as session:
        dm = session.get(DagModel, dag_id)
        session.expunge_all()
        return dm


def dag_runs_of(dag_id: str) -> list[tuple[str, str, str | None]]:
    """``(run_id, run_type, triggering_user_name)`` of every run of a DAG."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.execute(
            select(DagRun.run_id, DagRun.run_type, DagRun.triggering_user_name).where(DagRun.dag_id == dag_id)
        ).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


class ApiUser:
    """A user's client for one server's REST API (``/api/v2`` with the Bearer token from the real
    login form; Airflow 2: ``/api/v1`` with the login session's cookie)."""

    def __init__(self, server: Any, username: str) -> None:
        self.server = server
        self.username = username
        self.session = server.login(username)
        self.headers = devstack.bearer(self.session)

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        import requests

        url = f"{self.server.url}{devstack.API_BASE}{path}"
        if devstack.AIRFLOW_2:
            return self.session.request(method, url, timeout=60, **kwargs)
        return requests.request(method, url, headers=self.headers, timeout=60, **kwargs)

    def dag_ids(self, **params: Any) -> set[str]:
        params.setdefault("limit", 100)
        response = self.call("GET", "/dags", params=params)
        assert response.status_code == 200, response.text
        return {d["dag_id"] for d in response.json()["dags"]}


def probe_auth_manager_outage(server: Any, hopsworks: Any, retry_s: float) -> dict[str, object]:
    """First requests of a fresh auth-manager server, with Hopsworks failing (nothing cached yet):
    what alice's API list and My DAGs page show, and which Hopsworks paths were asked."""
    hopsworks.clear_requests()
    hopsworks.inject_fault(status=503, count=None, path_contains="/project")
    try:
        alice = ApiUser(server, "alice")
        ids = {d for d in alice.dag_ids(dag_id_pattern=MDT_PREFIX) if d.startswith(MDT_PREFIX)}
        page = alice.session.get(server.page("my-dags/"), params={"q": MDT_PREFIX}, timeout=60)
        asked = [r.path for r in hopsworks.requests]
    finally:
        hopsworks.clear_faults()
    time.sleep(retry_s + 0.5)  # the auth manager asks Hopsworks again after membership_retry_s
    return {"api_ids": ids, "page_status": page.status_code, "page_text": page.text, "asked": asked}


def stop_services(services: list[Any]) -> None:
    """Stop started Airflow services together: all are asked to end (SIGTERM to each process group)
    before waiting for any, so a stack stops in the time of its slowest service, not their sum. One
    still running after 3 s gets a second SIGTERM: a scheduler whose LocalExecutor has run tasks
    otherwise waits for its (already signalled) workers until killed ("Signal again if you don't want
    to wait"); a service still running 2 s later is killed (the scheduler's second shutdown can wait on
    the same worker again)."""
    import signal

    def signal_running() -> None:
        for service in services:
            if service.proc.poll() is None:
                try:
                    os.killpg(service.proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass

    def wait(seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and any(s.proc.poll() is None for s in services):
            time.sleep(0.05)

    signal_running()
    wait(3)
    signal_running()
    wait(2)
    for service in services:  # still waiting for a LocalExecutor worker that will not come back
        if service.proc.poll() is None:
            try:
                os.killpg(service.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        service.stop()


def wait_until(what: str, check: Any, timeout: float = 120.0, server: Any = None, interval: float = 0.25) -> Any:
    """Poll ``check()`` until it returns something truthy (returned); fail naming ``what`` (and the
    server's log tail, when given) after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    tail = f"\n{server.log_tail()}" if server is not None else ""
    raise AssertionError(f"{what} did not happen within {timeout:g} s{tail}")
