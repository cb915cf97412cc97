"""Test fixtures: a real fake-Hopsworks HTTP server, a real Airflow metadata DB and api-server.

The Airflow environment is set before anything imports airflow: one temporary AIRFLOW_HOME per
test session, shared by the in-process tests (operators, dag.test) and the api-server subprocess.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from hopsworks_ui_plugin import devstack

_HOME = Path(tempfile.mkdtemp(prefix="hw-airflow-test-"))
_API_PORT = devstack.free_port()
os.environ.update(
    devstack.airflow_env(_HOME, _API_PORT, extra={
        "AIRFLOW__FAB__AUTH_RATE_LIMITED": "False",
        # The operator/sensor tests run DAG files from the DAGs folder's root or call execute()
        # directly (outside every project folder); tests/test_task_support.py turns this back off.
        "AIRFLOW__HOPSWORKS__ALLOW_SHARED_KEY_OUTSIDE_PROJECTS": "True",
        # The tests' DAG processors look for new and removed DAG files every second (devstack: every 5 s),
        # so a test that writes a DAG file waits ~1 s for it to be parsed instead of up to 5 s.
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "1",
        "AIRFLOW__DAG_PROCESSOR__BUNDLE_REFRESH_CHECK_INTERVAL": "1",
    })
)
os.environ.pop("PYTHONWARNINGS", None)

from hopsworks_ui_plugin.fake_hopsworks import FakeHopsworks  # noqa: E402
from tests.support import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    TEST_SEED,
    ScaledClock,
    browser_page_logged_in,
    connection_json,
    csrf_token,
    seed_key,
    stop_services,
)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``pytest -n 2 --dist loadfile`` (scripts/test.sh): each worker takes whole test modules, so a
    module's fixtures (its own Airflow stack, a module's browser) start once; the browser modules
    count as one module: they share one worker's api-server, auth-manager server and Chromium
    instead of starting them on both. Work is handed out in collection order (the browser modules,
    the longest unit, first), not by number of tests. (xdist's ``loadgroup`` cannot do this on
    pytest 9: it renames node ids through an attribute pytest no longer reads.)"""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ModuleScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return "tests/browser/" if module.startswith("tests/browser/") else module

        def schedule(self) -> None:
            self.config.option.loadscopereorder = False
            super().schedule()

    return ModuleScheduling(config, log)


@pytest.fixture(scope="session")
def hopsworks() -> Iterator[FakeHopsworks]:
    """The fake Hopsworks (test seed, 10x time) and the connections pointing at it.

    Like a Hopsworks-installed Airflow: ``hopsworks_default`` (what DAGs use) holds the AGENT key of
    the ``airflow`` service user; the pages use ``hopsworks_ui`` (``[hopsworks] conn_id``), a
    HOPS_USER key of the ``airflow_ui`` account, since an AGENT key may not browse projects or jobs.
    """
    server = FakeHopsworks(seed=TEST_SEED, clock=ScaledClock(10.0)).start()  # type: ignore[arg-type]
    os.environ["AIRFLOW_CONN_HOPSWORKS_DEFAULT"] = connection_json(server.url, seed_key("airflow"))
    os.environ.update(devstack.pages_connection_env(
        server.url, seed_key("airflow_ui"), timeout=5, retries=2, retry_backoff=0.05))
    yield server
    server.stop()


@pytest.fixture()
def hw(hopsworks: FakeHopsworks) -> Iterator[FakeHopsworks]:
    """The session's fake Hopsworks with a clean request log and no faults."""
    hopsworks.clear_faults()
    hopsworks.clear_requests()
    yield hopsworks
    hopsworks.clear_faults()


@pytest.fixture(scope="session")
def airflow_db(hopsworks: FakeHopsworks) -> Path:
    """Metadata DB migrated and users created (admin, alice, bob, carol, dave)."""
    devstack.init_airflow(dict(os.environ))
    return _HOME


@dataclass
class AirflowServer:
    url: str
    home: Path
    env: dict[str, str]
    services: list[devstack.Service] = field(default_factory=list)

    def login(self, username: str, password: str | None = None) -> requests.Session:
        """Log in through Airflow's real ``/auth/login/`` form; the session holds the cookies."""
        return devstack.login(self.url, username, password)

    def page(self, path: str) -> str:
        return f"{self.url}{devstack.PAGES_PREFIX}/hopsworks/{path.lstrip('/')}"

    def log_tail(self) -> str:
        return "\n".join(s.tail() for s in self.services)


@pytest.fixture(scope="session")
def airflow_server(airflow_db: Path, hopsworks: FakeHopsworks) -> Iterator[AirflowServer]:
    """The real ``airflow api-server`` with the plugin, on 127.0.0.1."""
    env = dict(os.environ)
    services = devstack.start_airflow(env, ["api-server"], _HOME / "service-logs")
    server = AirflowServer(f"http://127.0.0.1:{_API_PORT}", _HOME, env, services)
    try:
        devstack.wait_http(f"{server.url}{devstack.HEALTH_PATH}", timeout=180, service=services[0])
        yield server
    finally:
        stop_services(services)


@pytest.fixture(scope="module")
def user_sessions(airflow_server: AirflowServer) -> Iterator[Any]:
    """``user_sessions("alice")`` -> that user's logged-in ``requests.Session``, one per module."""
    cache: dict[str, requests.Session] = {}

    def get(username: str) -> requests.Session:
        if username not in cache:
            cache[username] = airflow_server.login(username)
        return cache[username]

    yield get
    for session in cache.values():
        session.close()


@pytest.fixture(scope="module")
def airflow_dag_processor(airflow_server: AirflowServer) -> Iterator[devstack.Service]:
    """A real ``airflow dag-processor`` parsing the test DAGs folder (re-scans every few seconds).

    Module-scoped: left running, it would re-parse (and mark stale) DAG rows that later test
    modules insert directly into the metadata DB.
    """
    (service,) = devstack.start_airflow(airflow_server.env, ["dag-processor"], _HOME / "service-logs")
    airflow_server.services.append(service)
    yield service
    stop_services([service])
    airflow_server.services.remove(service)


@pytest.fixture(scope="module")
def api(auth_server: AirflowServer) -> Any:
    """``api("alice")`` -> that user's :class:`tests.support.ApiUser` of Airflow's REST API on the
    auth-manager server (logged in once per module)."""
    from tests.support import ApiUser

    cache: dict[str, ApiUser] = {}

    def get(username: str) -> ApiUser:
        if username not in cache:
            cache[username] = ApiUser(auth_server, username)
        return cache[username]

    return get


@pytest.fixture(scope="module")
def airflow_scheduler(
    airflow_server: AirflowServer, airflow_dag_processor: devstack.Service
) -> Iterator[devstack.Service]:
    """A real ``airflow scheduler`` (LocalExecutor on the test SQLite DB): DAG runs of the module run in
    Airflow's own supervised task processes. Module-scoped, like the dag-processor."""
    (service,) = devstack.start_airflow(airflow_server.env, ["scheduler"], airflow_server.home / "service-logs")
    airflow_server.services.append(service)
    yield service
    stop_services([service])
    airflow_server.services.remove(service)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright (no browser download).

    Module-scoped: Playwright's sync API keeps an event loop running in this thread, and later
    tests of the same process that call ``asyncio.run()`` (triggers, dag.test) need it gone.
    """
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/setup-test-env.sh (installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture()
def browser_login(browser: Any, airflow_server: AirflowServer) -> Iterator[Any]:
    """``browser_login("alice")`` -> a Playwright page logged in through Airflow's login form."""
    contexts = []

    def login(username: str, password: str | None = None) -> Any:
        context, page = browser_page_logged_in(browser, airflow_server.url, username, password)
        contexts.append(context)
        return page

    yield login
    for context in contexts:
        context.close()


# --- in-process page client: the real /pluginsv2 Flask app, no api-server ------------------------


@pytest.fixture(scope="session")
def plugin_app(airflow_db: Path, hopsworks: FakeHopsworks) -> Any:
    """Airflow 3's ``/pluginsv2`` Flask app (FAB, with this plugin), built in this process; on
    Airflow 2 the webserver's own Flask app (the plugin's views are native there).

    Page tests use it through :func:`web`: the same views, templates, CSRF and JWT login as behind
    the api-server, without a subprocess and an HTTP hop. Real-server tests stay for what crosses
    apps (the login across ``/auth`` and ``/pluginsv2``, the auth manager, browsers).
    """
    from hopsworks_ui_plugin.version_compat import AIRFLOW_V_3

    if not AIRFLOW_V_3:
        from airflow.www.app import create_app as create_app_2

        app = create_app_2(testing=True)
        app.config["WTF_CSRF_ENABLED"] = True  # the pages' forms are tested with their CSRF tokens
        return app
    from airflow.providers.fab.www.app import create_app
    from airflow.providers_manager import ProvidersManager

    ProvidersManager().initialize_providers_configuration()  # [fab] defaults (3.0 loads them lazily)
    return create_app(enable_plugins=True)


class PageClient:
    """A logged-in user of the in-process app: ``get``/``post`` take paths below ``/hopsworks/``."""

    def __init__(self, app: Any, username: str | None) -> None:
        self.app = app
        self.username = username
        self.client = app.test_client()
        if username:
            from hopsworks_ui_plugin.version_compat import AIRFLOW_V_3

            if not AIRFLOW_V_3:  # Airflow 2: the webserver's own login form (flask-login session)
                self._login_v2(username)
                return
            from airflow.api_fastapi.app import get_auth_manager

            with app.app_context():
                user = app.appbuilder.sm.find_user(username=username)
                assert user is not None, f"no Airflow user {username}"
                self.client.set_cookie("_token", get_auth_manager().generate_jwt(user))

    def _login_v2(self, username: str) -> None:
        form = self.client.get(devstack.LOGIN_PATH).get_data(as_text=True)
        response = self.client.post(
            devstack.LOGIN_PATH, data={"username": username, "password": username, "csrf_token": csrf_token(form)}
        )
        assert response.status_code == 302 and "/login" not in response.headers["Location"], f"login of {username}"

    @staticmethod
    def path(path: str) -> str:
        return path if path.startswith("/") else f"/hopsworks/{path}"

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.client.get(self.path(path), **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.client.post(self.path(path), **kwargs)

    def csrf(self, path: str) -> str:
        """A CSRF token from a form on ``path`` (a GET of this user's session)."""
        return csrf_token(self.get(path).get_data(as_text=True))


@pytest.fixture()
def web(plugin_app: Any, hw: FakeHopsworks) -> Any:
    """``web("alice")`` -> :class:`PageClient` for that user (``web(None)``: anonymous), with fresh
    membership caches so each test sees the fake's current teams."""
    from hopsworks_ui_plugin import access

    access.MEMBERSHIPS.clear()
    return lambda username: PageClient(plugin_app, username)


# --- the opt-in auth manager on a second api-server ----------------------------------------------


@pytest.fixture(scope="session")
def auth_server(airflow_db: Path, hopsworks: FakeHopsworks) -> Iterator[AirflowServer]:
    """A second api-server with ``[core] auth_manager = ...HopsworksAuthManager`` on the same DB, over
    the My DAGs scenario; shared by the auth-manager and browser tests (one start per session).
    ``server.outage``: what its very first requests saw with Hopsworks failing."""
    from tests.support import build_my_dags_scenario, probe_auth_manager_outage

    build_my_dags_scenario()
    port = devstack.free_port()
    env = dict(os.environ)
    env.update({
        **devstack.port_env(port),
        "AIRFLOW__CORE__AUTH_MANAGER": "hopsworks_ui_plugin.auth_manager.HopsworksAuthManager",
        "AIRFLOW__HOPSWORKS__MEMBERSHIP_RETRY_S": "2",
    })
    services = devstack.start_airflow(env, ["api-server"], _HOME / "service-logs-auth-manager")
    server = AirflowServer(f"http://127.0.0.1:{port}", _HOME, env, services)
    try:
        devstack.wait_http(f"{server.url}{devstack.HEALTH_PATH}", timeout=180, service=services[0])
        server.outage = probe_auth_manager_outage(server, hopsworks, retry_s=2)  # type: ignore[attr-defined]
        yield server
    finally:
        stop_services(services)
