"""Start a real local Airflow (3.x, or 2.10/2.11) and the fake Hopsworks for the demo, the tests and the benchmarks.

Nothing here is used by the plugin at run time; it is the one place that knows how to configure,
initialise and start Airflow with the plugin, so the demo and the tests cannot drift apart.
"""

from __future__ import annotations

import argparse
import base64
import importlib.metadata
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import requests

FAB_AUTH_MANAGER = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"


def airflow_major() -> int:
    """Major version of the installed Airflow, from its distribution's version number.

    Not :mod:`hopsworks_ui_plugin.version_compat`: that imports ``airflow``, and this module must
    configure ``AIRFLOW_HOME`` & co. *before* anything imports ``airflow`` (the test session and the
    demo set the environment first). Same number as ``airflow.__version__``.
    """
    return int(importlib.metadata.version("apache-airflow").split(".", 1)[0])


AIRFLOW_2 = airflow_major() < 3
#: Where the plugin's pages are served (Airflow 3 mounts the FAB app at ``/pluginsv2``).
PAGES_PREFIX = "" if AIRFLOW_2 else "/pluginsv2"
#: Airflow's login form: Airflow 2's webserver is the FAB app; Airflow 3 mounts it at ``/auth``.
LOGIN_PATH = "/login/" if AIRFLOW_2 else "/auth/login/"
#: Health endpoint of the web server, and the REST API's DAG list.
HEALTH_PATH = "/health" if AIRFLOW_2 else "/api/v2/monitor/health"
API_BASE = "/api/v1" if AIRFLOW_2 else "/api/v2"
API_DAGS_PATH = f"{API_BASE}/dags"
#: The web server command: ``webserver`` (Airflow 2) or ``api-server`` (3); callers say ``api-server``.
WEB_SERVER = "webserver" if AIRFLOW_2 else "api-server"

#: Airflow logins; the non-admin usernames match Hopsworks usernames of the seeds.
DEFAULT_USERS: list[dict[str, str]] = [
    {"username": "admin", "password": "admin", "role": "Admin"},
    {"username": "alice", "password": "alice", "role": "User"},
    {"username": "bob", "password": "bob", "role": "User"},
    {"username": "carol", "password": "carol", "role": "User"},
    {"username": "dave", "password": "dave", "role": "User"},
    # A read-only Airflow role, member (Data scientist) of demo_fs in Hopsworks: may browse the
    # pages, may not change anything (membership alone is not enough; see access.ACTIONS).
    {"username": "victor", "password": "victor", "role": "Viewer"},
]
#: Roles that get the plugin's menu entries in Airflow 3's navigation.
NAV_ROLES = ("User", "Viewer", "Op")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def airflow_bin() -> str:
    return str(Path(sys.executable).parent / "airflow")


def airflow_env(
    home: Path,
    port: int,
    *,
    hopsworks_url: str | None = None,
    service_key: str | None = None,
    pages_key: str | None = None,
    auth_manager: str = FAB_AUTH_MANAGER,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """Environment for every Airflow process of one local installation.

    ``service_key`` goes into ``hopsworks_default`` (what DAGs use: in a real installation the AGENT
    key of Hopsworks' ``airflow`` service user). ``pages_key``, when given, goes into a second
    connection ``hopsworks_ui`` that ``[hopsworks] conn_id`` points the web pages at: browsing
    projects, jobs and logs needs a HOPS_USER (or HOPS_ADMIN) key, which an AGENT key is not.
    """
    home = home.resolve()
    (home / "dags").mkdir(parents=True, exist_ok=True)
    secret_file = home / "secrets.json"
    if secret_file.exists():
        keys = json.loads(secret_file.read_text())
    else:
        keys = {"flask": secrets.token_hex(32), "jwt": secrets.token_hex(64)}
    if "fernet" not in keys:  # Airflow's Fernet key: encrypts connections and users' own Hopsworks keys
        keys["fernet"] = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    secret_file.write_text(json.dumps(keys))
    secret_file.chmod(0o600)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(_version_env(port, {**keys, **component_secret_files(home, keys)}))
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__AUTH_MANAGER": auth_manager,
            "AIRFLOW__CORE__FERNET_KEY": keys["fernet"],
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "5",
            "AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL": "5",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "AIRFLOW__FAB__CACHE_TTL": "1",
            "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",  # the Connections page's "Test" button
            "PYTHONWARNINGS": "ignore::DeprecationWarning",
        }
    )
    if hopsworks_url and service_key:
        env["AIRFLOW_CONN_HOPSWORKS_DEFAULT"] = hopsworks_connection_json(
            hopsworks_url, service_key, timeout=5, retries=1, retry_backoff=0.2
        )
    if hopsworks_url and pages_key:
        env.update(pages_connection_env(hopsworks_url, pages_key, timeout=5, retries=1, retry_backoff=0.2))
    env.update(extra or {})
    return env


def component_secret_files(home: Path, keys: dict[str, str]) -> dict[str, str]:
    """The Flask and JWT secrets as files (mode 0600 in a 0700 folder) for ``*_CMD`` options, so no
    Airflow process has them in its environment (a task's environment is the scheduler's)."""
    folder = home / "component-secrets"
    folder.mkdir(mode=0o700, exist_ok=True)
    folder.chmod(0o700)
    files = {}
    for name in ("flask", "jwt"):
        path = folder / name
        if not path.exists() or path.read_text() != keys[name]:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(keys[name])
        path.chmod(0o600)
        files[f"{name}_file"] = str(path)
    return files


def port_env(port: int) -> dict[str, str]:
    """The settings that name the web server's port (for a second server on the same home)."""
    env = {"AIRFLOW__API__PORT": str(port)}
    if AIRFLOW_2:
        env.update({"AIRFLOW__WEBSERVER__BASE_URL": f"http://127.0.0.1:{port}",
                    "AIRFLOW__WEBSERVER__WEB_SERVER_PORT": str(port)})
    else:
        env.update({"AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
                    "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/"})
    return env


def _version_env(port: int, keys: dict[str, str]) -> dict[str, str]:
    """What differs between Airflow 2's webserver and Airflow 3's api-server (SQLite in both)."""
    if AIRFLOW_2:
        return {
            **port_env(port),
            # Airflow 2 refuses LocalExecutor with SQLite; SequentialExecutor runs one task at a time.
            "AIRFLOW__CORE__EXECUTOR": "SequentialExecutor",
            "AIRFLOW__WEBSERVER__SECRET_KEY": keys["flask"],
            "AIRFLOW__WEBSERVER__WORKERS": "1",
            "AIRFLOW__API__AUTH_BACKENDS": "airflow.api.auth.backend.session",
        }
    return {
        **port_env(port),
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        # Not the secrets themselves: commands that read them from files only their owner may read
        # (component_secret_files). Task processes inherit the scheduler's environment; with the values
        # in it, any DAG could forge an admin token (docs/security-model.md).
        "AIRFLOW__API__SECRET_KEY_CMD": f"cat {keys['flask_file']}",
        "AIRFLOW__API_AUTH__JWT_SECRET_CMD": f"cat {keys['jwt_file']}",
        # 3.0.x signs tokens with iss=[] when unset, which PyJWT >= 2.11 refuses (login 500).
        "AIRFLOW__API_AUTH__JWT_ISSUER": "hopsworks-airflow-devstack",
    }


PAGES_CONN_ID = "hopsworks_ui"


def pages_connection_env(url: str, key: str, **extras: Any) -> dict[str, str]:
    """The pages' own connection (``hopsworks_ui``, a HOPS_USER key) and ``[hopsworks] conn_id`` naming it."""
    return {
        f"AIRFLOW_CONN_{PAGES_CONN_ID.upper()}": hopsworks_connection_json(url, key, **extras),
        "AIRFLOW__HOPSWORKS__CONN_ID": PAGES_CONN_ID,
    }


def hopsworks_connection_json(url: str, key: str, **extras: Any) -> str:
    """An ``AIRFLOW_CONN_*`` JSON value for a Hopsworks at ``scheme://host:port``."""
    scheme, rest = url.split("://", 1)
    host, _, port = rest.partition(":")
    return json.dumps({"conn_type": "hopsworks", "host": host, "port": int(port), "schema": scheme,
                       "password": key, "extra": extras})


def service_key(seed: dict[str, Any]) -> str:
    """The API key of a seed's Airflow service user (the key the shared connection uses; role AGENT)."""
    service_user = seed.get("service_user", "airflow")
    return next(str(k["key"]) for k in seed["api_keys"] if k["username"] == service_user)


PAGES_USER = "airflow_ui"


def pages_key(seed: dict[str, Any]) -> str:
    """The API key of a seed's HOPS_USER service account in every project, for the web pages."""
    return next(str(k["key"]) for k in seed["api_keys"] if k["username"] == PAGES_USER)


def login(url: str, username: str, password: str | None = None) -> requests.Session:
    """Log in through Airflow's real login form (``/auth/login/``; ``/login/`` on Airflow 2); the
    session holds the cookies (on Airflow 3 also the ``_token`` JWT)."""
    session = requests.Session()
    page = session.get(f"{url}{LOGIN_PATH}", timeout=30)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text)
    if not token:
        raise RuntimeError(f"{url}{LOGIN_PATH} shows no login form")
    response = session.post(
        f"{url}{LOGIN_PATH}",
        data={"username": username, "password": password or username, "csrf_token": token.group(1)},
        allow_redirects=False,
        timeout=30,
    )
    logged_in = "session" in session.cookies if AIRFLOW_2 else "_token" in session.cookies
    if response.status_code != 302 or not logged_in or "/login" in response.headers.get("Location", ""):
        raise RuntimeError(f"login of {username} failed (HTTP {response.status_code})")
    return session


def bearer(session: requests.Session) -> dict[str, str]:
    """The Authorization header for Airflow's REST API, from a logged-in session (Airflow 2's API
    takes the session cookie itself: no header)."""
    if AIRFLOW_2:
        return {}
    return {"Authorization": f"Bearer {session.cookies['_token']}"}


def run_airflow(env: dict[str, str], *args: str, timeout: float = 300) -> str:
    result = subprocess.run(
        [airflow_bin(), *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"airflow {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result.stdout


def init_airflow(env: dict[str, str], users: Iterable[dict[str, str]] = DEFAULT_USERS) -> None:
    """Create the metadata DB, the users, and let non-admin roles see plugin menu entries."""
    run_airflow(env, "db", "migrate")
    subprocess.run(
        [sys.executable, "-m", "hopsworks_ui_plugin.devstack", "create-users", json.dumps(list(users))],
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )


def user_keys_of(seed: dict[str, Any], users: Iterable[dict[str, str]] = DEFAULT_USERS) -> dict[str, str]:
    """``{airflow username: that user's seed API key}`` for the non-admin Airflow users who have a
    Hopsworks key with the scopes JOB and PROJECT (admin keeps browsing with the shared connection)."""
    wanted = {u["username"] for u in users if u.get("role") != "Admin"}
    found: dict[str, str] = {}
    for key in seed["api_keys"]:
        if key["username"] in wanted and {"JOB", "PROJECT"} <= set(key.get("scopes", [])):
            found.setdefault(key["username"], str(key["key"]))
    return found


def register_user_keys(env: dict[str, str], keys: dict[str, str]) -> None:
    """Store each user's own Hopsworks key (My Hopsworks key) as the page would: tested against
    Hopsworks (which must be running), encrypted with the Fernet key of ``env``."""
    subprocess.run(
        [sys.executable, "-m", "hopsworks_ui_plugin.devstack", "register-keys", json.dumps(keys)],
        env=env, check=True, capture_output=True, timeout=300,
    )


def _register_keys(keys: dict[str, str]) -> None:
    """Runs inside the Airflow environment (``python -m hopsworks_ui_plugin.devstack register-keys``)."""
    from hopsworks_ui_plugin.core.keys import register

    for username, key in keys.items():
        register(username, key)


def _create_users(users: list[dict[str, str]]) -> None:
    """Runs inside the Airflow environment (``python -m hopsworks_ui_plugin.devstack create-users``)."""
    from airflow.providers.fab.auth_manager.cli_commands.utils import get_application_builder

    with get_application_builder() as appbuilder:
        sm = appbuilder.sm
        sm.sync_roles()
        for user in users:
            if sm.find_user(username=user["username"]):
                continue
            role = sm.find_role(user["role"])
            name = user["username"].capitalize()
            sm.add_user(user["username"], name, "Test", f"{user['username']}@example.com", role,
                        password=user["password"])
        for role_name in NAV_ROLES:
            role = sm.find_role(role_name)
            for action, resource in nav_permissions():
                perm = sm.create_permission(action, resource)
                if role is not None and perm is not None:
                    sm.add_permission_to_role(role, perm)
        # Like Hopsworks' own Airflow: users read the Audit Log (FAB gives it to admins only), which
        # HopsworksAuthManager filters to the DAGs and projects they may read (the plugin's entries too).
        user_role = sm.find_role("User")
        for action in ("can_read", "menu_access"):
            perm = sm.create_permission(action, "Audit Logs")
            if user_role is not None and perm is not None:
                sm.add_permission_to_role(user_role, perm)


def nav_permissions() -> list[tuple[str, str]]:
    """What a non-admin role needs to see the pages in Airflow's navigation: on Airflow 3 ``can_read``
    on ``Plugins`` (the React nav lists plugin entries); on Airflow 2 ``menu_access`` on the FAB menu's
    category and each page a member may use (not Connection, an admin page). Same as the README's
    ``airflow roles add-perms`` step."""
    if AIRFLOW_2:
        from hopsworks_ui_plugin.plugin import CATEGORY, MEMBER_MENU_ITEMS

        return [("menu_access", name) for name in (CATEGORY, *MEMBER_MENU_ITEMS)]
    return [("can_read", "Plugins")]


@dataclass
class Service:
    """A started process with its log file; ``stop()`` ends its whole process group."""

    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path
    _log: IO[bytes] | None = field(default=None, repr=False)

    def stop(self, timeout: float = 15) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=timeout)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(timeout=5)
        if self._log:
            self._log.close()

    def tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def start_service(name: str, cmd: list[str], env: dict[str, str], log_dir: Path) -> Service:
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    log = open(log_path, "ab")  # noqa: SIM115 - closed by Service.stop
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    return Service(name, proc, log_path, log)


def start_airflow(env: dict[str, str], components: Iterable[str], log_dir: Path) -> list[Service]:
    """Start ``api-server`` (Airflow 2: ``webserver``), ``scheduler``, ``dag-processor``, ``triggerer`` as asked."""
    services = []
    components = list(components)
    if AIRFLOW_2 and "dag-processor" in components:
        # Airflow 2 refuses a standalone DAG processor with SQLite: its scheduler parses the DAG files.
        components = [c for c in components if c != "dag-processor"]
        components += [] if "scheduler" in components else ["scheduler"]
    for component in components:
        args = [airflow_bin(), WEB_SERVER if component == "api-server" else component]
        if component == "api-server":
            args += ["--hostname" if AIRFLOW_2 else "--host", "127.0.0.1", "--port", env["AIRFLOW__API__PORT"],
                     "--workers", "1"]
            if AIRFLOW_2:  # its own pid file: a second webserver on the same home must not refuse to start
                args += ["--pid", str(log_dir / f"webserver-{env['AIRFLOW__API__PORT']}.pid")]
        services.append(start_service(component, args, env, log_dir))
    return services


def wait_http(url: str, timeout: float = 120, service: Service | None = None) -> None:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        if service is not None and service.proc.poll() is not None:
            raise RuntimeError(f"{service.name} exited early:\n{service.tail()}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - local URL
                if response.status < 500:
                    return
        except Exception as err:  # not up yet
            last = err
        time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {timeout} s ({last})")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m hopsworks_ui_plugin.devstack")
    sub = parser.add_subparsers(dest="command", required=True)
    create = sub.add_parser("create-users")
    create.add_argument("users_json")
    register = sub.add_parser("register-keys")
    register.add_argument("keys_json")
    args = parser.parse_args(argv)
    if args.command == "create-users":
        _create_users(json.loads(args.users_json))
    elif args.command == "register-keys":
        _register_keys(json.loads(args.keys_json))


if __name__ == "__main__":
    main()
