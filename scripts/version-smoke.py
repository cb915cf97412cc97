#!/usr/bin/env python3
"""Measure what of the plugin works on the Airflow installed next to this interpreter.

Run it with the python of the venv to measure (any Airflow 2.10+/3.x venv that has the plugin installed):

    .venv-af3.0.6/bin/python scripts/version-smoke.py [--json out.json] [--keep] [--skip-auth-manager]

It starts the fake Hopsworks (demo seed) in this process and a real Airflow of this venv's version on a
temporary home (SQLite; LocalExecutor on 3.x, SequentialExecutor on 2.x, which refuses LocalExecutor with
SQLite), logs in through Airflow's own login form as ``admin`` and as ``alice`` (a Hopsworks member), and
reports per page or feature a status code or the exception (with the frame in our code and the frame that
raised, read from the server's log). It changes nothing in the package; it only uses it.

Checks: installed versions, ``import hopsworks_ui_plugin.plugin``, what the plugin's version module decides,
``airflow plugins``, the web server starting, every page for admin and member, the session cookie (3.x: does
a plugin page log the user out of Airflow's FAB pages), navigation (what the UI can show and to whom), the
"My DAGs" trigger and pause actions, DAG file upload/view/delete, a DAG with a launch task and a sensor
(``airflow dags test``), a plain task DAG (``airflow dags test``), and the opt-in auth manager (Airflow's own
DAG list/REST API as member and admin).

Exit status: 0 when every check is ok, 1 otherwise (the report is the product; read it).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata as md
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import traceback
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

BIN = Path(sys.executable).parent
AIRFLOW = str(BIN / "airflow")
FAB_AM = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"
HW_AM = "hopsworks_ui_plugin.auth_manager.HopsworksFabAuthManager"
# demo seed: alice is Data owner of demo_fs and Data scientist of analytics, not a member of fraud_detection
PROJECT_ID, PROJECT, JOB = 120, "analytics", "refresh_dashboards"
OTHER_PROJECT = "fraud_detection"
USERS = [
    {"username": "admin", "role": "Admin"},
    {"username": "alice", "role": "User"},
    {"username": "bob", "role": "User"},
]
PACKAGES = [
    "apache-airflow", "apache-airflow-core", "apache-airflow-task-sdk", "apache-airflow-providers-fab",
    "flask-appbuilder", "Flask", "Werkzeug", "SQLAlchemy", "fastapi", "starlette", "cadwyn", "svcs", "pydantic",
    "hopsworks-airflow-plugin",
]


def version_of(name: str) -> str | None:
    try:
        return md.version(name)
    except md.PackageNotFoundError:
        return None


AIRFLOW_VERSION = version_of("apache-airflow") or "?"
AF3 = AIRFLOW_VERSION.startswith("3.")
PREFIX = "/pluginsv2" if AF3 else ""


# ---------------------------------------------------------------------------------------------------------
# results


@dataclass
class Row:
    check: str
    who: str
    ok: bool
    result: str
    detail: str = ""


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)

    def add(self, check: str, who: str, ok: bool, result: str, detail: str = "") -> None:
        row = Row(check, who, ok, result, detail.strip())
        self.rows.append(row)
        mark = "ok  " if ok else "FAIL"
        print(f"[{mark}] {check:<42} {who:<6} {result}", flush=True)
        if detail and not ok:
            print(textwrap.indent(row.detail, "         "), flush=True)


REPORT = Report()


def _block_summary(block: str) -> tuple[str, list[tuple[str, str, str]]]:
    frames = re.findall(r'File "([^"]+)", line (\d+), in (\S+)', block)
    exc = ""
    for line in block.splitlines():
        s = line.strip().strip("│|").strip()
        if re.match(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt|Warning|NotFound|Denied)\b", s):
            exc = s
    return exc, frames


def _short(path: str) -> str:
    for marker in ("site-packages/", "/hw-snap/", "/work/main/"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


def exc_summary(text: str) -> str:
    """The exception in ``text`` with the innermost frame in our code and the frame that raised it.

    With chained exceptions the first one that passes through our code is the cause; a later one (e.g. Airflow's
    error page failing too) is added as "then"."""
    blocks = [b.split("During handling of the above exception")[0]
              for b in text.split("Traceback (most recent call last)")[1:]]
    if not blocks:
        return ""
    parsed = [_block_summary(b) for b in blocks]
    primary = next((p for p in parsed if any("hopsworks_" in f[0] for f in p[1])), parsed[-1])
    exc, frames = primary
    ours = [f for f in frames if "hopsworks_ui_plugin" in f[0] or "hopsworks_plugin" in f[0]]
    parts = [exc[:400] or "(exception line not found)"]
    if ours:
        parts.append(f"our frame: {_short(ours[-1][0])}:{ours[-1][1]} ({ours[-1][2]})")
    if frames:
        parts.append(f"raised at: {_short(frames[-1][0])}:{frames[-1][1]} ({frames[-1][2]})")
    last_exc = parsed[-1][0]
    if parsed[-1] is not primary and last_exc and last_exc != exc:
        last_frames = parsed[-1][1]
        where = f" at {_short(last_frames[-1][0])}:{last_frames[-1][1]}" if last_frames else ""
        parts.append(f"then: {last_exc[:200]}{where}")
    return " | ".join(parts)


def last_line(text: Any) -> str:
    lines = str(text or "").strip().splitlines()
    return lines[-1][:200] if lines else ""


def tb_detail() -> str:
    return exc_summary(traceback.format_exc())


# ---------------------------------------------------------------------------------------------------------
# processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Service:
    def __init__(self, name: str, args: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(args, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        self.mark = 0

    def text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def set_mark(self) -> None:
        self.mark = self.log_path.stat().st_size if self.log_path.exists() else 0

    def since_mark(self) -> str:
        with open(self.log_path, "rb") as f:
            f.seek(self.mark)
            return f.read().decode(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        self._log.close()


def wait_http(url: str, service: Service, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        if service.proc.poll() is not None:
            raise RuntimeError(f"{service.name} exited with {service.proc.returncode}: {exc_summary(service.text())}\n"
                               f"{service.text()[-1500:]}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310
                if response.status < 500:
                    return
        except Exception as err:
            last = err
        time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {timeout} s ({last})")


def run(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), env=env, capture_output=True, text=True, timeout=timeout, check=False)


def airflow(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return run(env, AIRFLOW, *args, timeout=timeout)


def py(env: dict[str, str], code: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return run(env, sys.executable, "-c", code, timeout=timeout)


# ---------------------------------------------------------------------------------------------------------
# Airflow setup


def make_env(home: Path, port: int, hopsworks_url: str, key: str, auth_manager: str) -> dict[str, str]:
    secrets_file = home / "secrets.json"
    if not secrets_file.exists():
        secrets_file.write_text(json.dumps({"flask": secrets.token_hex(32), "jwt": secrets.token_hex(64)}))
    keys = json.loads(secrets_file.read_text())
    scheme, rest = hopsworks_url.split("://", 1)
    host, _, hport = rest.partition(":")
    conn = {"conn_type": "hopsworks", "host": host, "port": int(hport), "schema": scheme, "password": key,
            "extra": {"timeout": 5, "retries": 1, "retry_backoff": 0.2}}
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__AUTH_MANAGER": auth_manager,
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
        "AIRFLOW__FAB__CACHE_TTL": "1",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "AIRFLOW_CONN_HOPSWORKS_DEFAULT": json.dumps(conn),
        "PYTHONWARNINGS": "ignore::DeprecationWarning",
    })
    if AF3:
        env.update({
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__API__SECRET_KEY": keys["flask"],
            "AIRFLOW__API_AUTH__JWT_SECRET": keys["jwt"],
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
            # 3.0.x with PyJWT >= 2.11 cannot sign a token without it (checked separately: "JWT without issuer")
            "AIRFLOW__API_AUTH__JWT_ISSUER": "hopsworks-smoke",
        })
    else:
        env.update({
            "AIRFLOW__CORE__EXECUTOR": "SequentialExecutor",  # Airflow 2 refuses LocalExecutor on SQLite
            "AIRFLOW__WEBSERVER__SECRET_KEY": keys["flask"],
            "AIRFLOW__WEBSERVER__BASE_URL": f"http://127.0.0.1:{port}",
            "AIRFLOW__WEBSERVER__WEB_SERVER_PORT": str(port),
            "AIRFLOW__WEBSERVER__WORKERS": "1",
            "AIRFLOW__WEBSERVER__WEB_SERVER_WORKER_TIMEOUT": "300",
            "AIRFLOW__WEBSERVER__WEB_SERVER_MASTER_TIMEOUT": "300",
            "AIRFLOW__API__AUTH_BACKENDS": "airflow.api.auth.backend.session",
        })
    return env


CREATE_USERS = """
import json, sys
from airflow.providers.fab.auth_manager.cli_commands.utils import get_application_builder
users = json.loads(sys.argv[1]) if len(sys.argv) > 1 else %s
with get_application_builder() as appbuilder:
    sm = appbuilder.sm
    sm.sync_roles()
    for u in users:
        if not sm.find_user(username=u["username"]):
            sm.add_user(u["username"], u["username"].capitalize(), "Test", u["username"] + "@example.com",
                        sm.find_role(u["role"]), password=u["username"])
    if %s:  # what devstack/README do on Airflow 3: let User see plugin entries in the navigation
        role, perm = sm.find_role("User"), sm.create_permission("can_read", "Plugins")
        sm.add_permission_to_role(role, perm)
print("users ok")
"""

DAG_HEADER = """
import pendulum
try:
    from airflow.sdk import DAG
except ImportError:
    from airflow import DAG
START = pendulum.datetime(2024, 1, 1, tz="UTC")
"""

LAUNCH_DAG = DAG_HEADER + f"""
from hopsworks_ui_plugin.operators.hopsworks import HopsworksLaunchOperator
from hopsworks_ui_plugin.sensors.hopsworks import HopsworksJobSuccessSensor

with DAG("smoke_launch", start_date=START, schedule=None, default_args={{"owner": "alice"}}) as dag:
    launch = HopsworksLaunchOperator(task_id="launch", project_name="{PROJECT}", job_name="{JOB}",
                                     wait_for_completion=False)
    sense = HopsworksJobSuccessSensor(task_id="sense", project_name="{PROJECT}", job_name="{JOB}",
                                      launch_task_id="launch", poke_interval=2, timeout=120)
    launch >> sense
"""

PLAIN_DAG = DAG_HEADER + """
try:
    from airflow.providers.standard.operators.python import PythonOperator
except ImportError:
    from airflow.operators.python import PythonOperator

with DAG("smoke_plain", start_date=START, schedule=None, default_args={"owner": "alice"}) as dag:
    PythonOperator(task_id="hello", python_callable=lambda: "hello")
"""

BOB_DAG = DAG_HEADER + """
try:
    from airflow.providers.standard.operators.empty import EmptyOperator
except ImportError:
    from airflow.operators.empty import EmptyOperator

with DAG("smoke_bob", start_date=START, schedule=None, default_args={"owner": "bob"}) as dag:
    EmptyOperator(task_id="noop")
"""

UPLOAD_DAG = DAG_HEADER + """
with DAG("smoke_uploaded", start_date=START, schedule=None, default_args={"owner": "alice"}) as dag:
    pass
"""


# ---------------------------------------------------------------------------------------------------------
# web helpers

CSRF_RE = re.compile(
    r'<input[^>]*name="csrf_token"[^>]*value="([^"]+)"|<input[^>]*value="([^"]+)"[^>]*name="csrf_token"'
)


def csrf_of(html: str) -> str | None:
    m = CSRF_RE.search(html)
    return (m.group(1) or m.group(2)) if m else None


class Web:
    def __init__(self, base: str, server: Service) -> None:
        self.base = base
        self.server = server

    def login(self, username: str) -> requests.Session:
        s = requests.Session()
        path = "/auth/login/" if AF3 else "/login/"
        page = s.get(self.base + path, timeout=60)
        token = csrf_of(page.text)
        if not token:
            raise RuntimeError(f"{path} shows no login form (HTTP {page.status_code})")
        r = s.post(self.base + path, data={"username": username, "password": username, "csrf_token": token},
                   allow_redirects=False, timeout=60)
        if r.status_code != 302 or (AF3 and "_token" not in s.cookies):
            raise RuntimeError(f"login of {username} failed (HTTP {r.status_code})")
        return s

    def call(self, s: requests.Session, method: str, path: str, **kw: Any) -> tuple[requests.Response | None, str]:
        """(response, problem): problem is '' or the server-side exception / the request error."""
        self.server.set_mark()
        try:
            r = s.request(method, self.base + path, allow_redirects=False, timeout=90, **kw)
        except Exception as err:
            return None, f"request failed: {err!r}"
        problem = ""
        if r.status_code >= 500:
            time.sleep(0.3)
            problem = exc_summary(self.server.since_mark()) or r.text[:300]
        return r, problem


def describe(r: requests.Response | None, problem: str) -> str:
    if r is None:
        return problem
    where = r.headers.get("Location", "")
    if r.status_code in (301, 302, 303) and "login" in where:
        return f"{r.status_code} -> login"
    if r.status_code in (301, 302, 303):
        return f"{r.status_code} -> {where.replace('http://127.0.0.1', '')[:80]}"
    if r.status_code == 200 and 'name="password"' in r.text and "login" in r.text.lower():
        return "200 (login form)"
    return str(r.status_code)


# ---------------------------------------------------------------------------------------------------------
# checks


def check_static(env: dict[str, str]) -> None:
    for name in PACKAGES:
        REPORT.info[name] = version_of(name)
    REPORT.info["python"] = sys.version.split()[0]
    print("versions:", ", ".join(f"{k}={v}" for k, v in REPORT.info.items() if v), flush=True)

    r = py(env, "import hopsworks_ui_plugin.plugin as p; print(p.__file__)")
    REPORT.info["plugin_file"] = r.stdout.strip()
    REPORT.add("import hopsworks_ui_plugin.plugin", "-", r.returncode == 0,
               "ok" if r.returncode == 0 else "ImportError", exc_summary(r.stderr))

    code = textwrap.dedent("""
        import importlib, json, pkgutil, pathlib, re, hopsworks_ui_plugin as pkg
        out = {}
        for info in pkgutil.iter_modules(pkg.__path__):
            path = pathlib.Path(pkg.__path__[0]) / (info.name + ".py")
            if not path.is_file() or not re.search(r"^ *AIRFLOW_V_3 *(:[^=]*)?= ", path.read_text(), re.M):
                continue
            name = "hopsworks_ui_plugin." + info.name
            try:
                m = importlib.import_module(name)
            except Exception as e:
                out[name] = {"import error": repr(e)}
                continue
            out[name] = {k: getattr(m, k) for k in dir(m)
                         if k.startswith(("AIRFLOW_V", "IS_AIRFLOW", "AIRFLOW_MAJOR"))
                         and isinstance(getattr(m, k), (bool, int, str, tuple))}
        print(json.dumps(out, default=str))
    """)
    r = py(env, code)
    try:
        found = json.loads(r.stdout.strip().splitlines()[-1])
    except Exception:
        found = {}
    if not found:
        REPORT.add("version detection", "-", False, "no version module importable", exc_summary(r.stderr))
    else:
        for mod, attrs in found.items():
            says3 = attrs.get("AIRFLOW_V_3")
            if "import error" in attrs:
                REPORT.add(f"version detection ({mod.split('.')[-1]})", "-", False, attrs["import error"][:200])
                continue
            if says3 is None:
                REPORT.add(f"version detection ({mod.split('.')[-1]})", "-", True, f"flags: {attrs}")
                continue
            ok = bool(says3) == AF3
            REPORT.add(f"version detection ({mod.split('.')[-1]})", "-", ok,
                       f"AIRFLOW_V_3={says3} on {AIRFLOW_VERSION}"
                       + ("" if ok else f" (wrong; says Airflow {3 if says3 else 2})"),
                       json.dumps(attrs))


JWT_CODE = """
from airflow.api_fastapi.auth.managers.base_auth_manager import BaseAuthManager
print(len(BaseAuthManager._get_token_signer().generate({"sub": "1"})))
"""


def check_jwt_without_issuer(env: dict[str, str]) -> None:
    """Login signs a JWT; on 3.0.x with PyJWT >= 2.11 that fails unless [api_auth] jwt_issuer is set."""
    if not AF3:
        return
    bare = {k: v for k, v in env.items() if k != "AIRFLOW__API_AUTH__JWT_ISSUER"}
    r = py(bare, JWT_CODE)
    REPORT.add("JWT signing without [api_auth] jwt_issuer", "-", r.returncode == 0,
               "ok" if r.returncode == 0 else "fails (login would answer 500)", exc_summary(r.stderr))


def check_plugins_cli(env: dict[str, str]) -> None:
    r = airflow(env, "plugins", "-o", "json")
    text = r.stdout + r.stderr
    listed = '"hopsworks"' in r.stdout or "hopsworks" in r.stdout
    failed = "Failed to import plugin" in text or "Failed to load plugin" in text
    REPORT.add("airflow plugins lists it", "-", r.returncode == 0 and listed and not failed,
               "listed" if listed else f"not listed (rc {r.returncode})",
               exc_summary(text) if (failed or not listed) else "")


def check_pages(web: Web, who: str, s: requests.Session) -> None:
    pages = [
        ("page: projects", "/hopsworks/projects/"),
        ("page: project jobs", f"/hopsworks/projects/{PROJECT_ID}/jobs"),
        ("page: job", f"/hopsworks/projects/{PROJECT_ID}/jobs/{JOB}"),
        ("page: DAG files index", "/hopsworks/dag-files/"),
        ("page: DAG files of a project", f"/hopsworks/dag-files/{PROJECT_ID}/"),
        ("page: DAG file view", f"/hopsworks/dag-files/{PROJECT_ID}/files/smoke_launch.py"),
        ("page: My DAGs", "/hopsworks/my-dags/"),
        ("page: connection", "/hopsworks/connection/"),
    ]
    for name, path in pages:
        r, problem = web.call(s, "GET", PREFIX + path)
        expected = 403 if (name == "page: connection" and who != "admin") else 200
        ok = r is not None and r.status_code == expected and "login" not in describe(r, problem)
        REPORT.add(name, who, ok, describe(r, problem) + ("" if ok else f" (expected {expected})"), problem)


def check_session_cookie(web: Web) -> None:
    """Right after a fresh login (before any plugin page): Airflow's own page, a plugin page, Airflow's page again."""
    try:
        s = web.login("admin")
    except Exception as err:
        REPORT.add("session: FAB page after a plugin page", "admin", False, f"login failed: {err}")
        return
    if not AF3:
        # one Flask app and one session: the question does not arise; check the user stays logged in anyway
        r1, _ = web.call(s, "GET", "/home")
        web.call(s, "GET", "/hopsworks/my-dags/")
        r2, p2 = web.call(s, "GET", "/home")
        ok = r2 is not None and r2.status_code == 200
        REPORT.add("session: still logged in after a plugin page", "admin", ok,
                   f"/home {describe(r1, '')} -> {describe(r2, p2)}", p2)
        return
    own_page = "/auth/users/list/"
    r1, _ = web.call(s, "GET", own_page)
    r, _ = web.call(s, "GET", PREFIX + "/hopsworks/my-dags/")
    set_cookies = sorted({c.split("=", 1)[0].strip() for c in (r.raw.headers.get_all("Set-Cookie") or [])}) if r else []
    r2, p2 = web.call(s, "GET", own_page)
    ok = r1 is not None and r2 is not None and r1.status_code == 200 and r2.status_code == 200
    REPORT.add("session: FAB page after a plugin page", "admin", ok,
               f"{own_page} {describe(r1, '')} -> {describe(r2, p2)}; plugin page sets cookies {set_cookies}", p2)


def ui_bundle_reads(key: str) -> bool | None:
    """Whether the React UI bundle of this Airflow mentions ``key`` (i.e. can show that kind of plugin entry)."""
    import importlib.util

    spec = importlib.util.find_spec("airflow")
    for location in (spec.submodule_search_locations or []) if spec else []:
        base = Path(location) / "ui" / "dist"
        if base.is_dir():
            return any(key in p.read_text(errors="ignore") for p in base.rglob("*.js"))
    return None


def check_navigation(web: Web, who: str, s: requests.Session) -> None:
    if AF3:
        hdr = {"Authorization": f"Bearer {s.cookies.get('_token')}"}
        r, problem = web.call(s, "GET", "/api/v2/plugins", headers=hdr)
        if r is None or r.status_code != 200:
            REPORT.add("navigation entries", who, False, f"/api/v2/plugins {describe(r, problem)}: no plugin entries",
                       problem)
            return
        ours = next((p for p in r.json().get("plugins", []) if p.get("name") == "hopsworks"), {})
        ext = [v.get("name") for v in ours.get("external_views", []) or [] if v.get("destination", "nav") == "nav"]
        menu = [m.get("name") for m in ours.get("appbuilder_menu_items", []) or []]
        reads_ext = ui_bundle_reads("external_views")
        reads_menu = ui_bundle_reads("appbuilder_menu_items")
        shown = (ext if reads_ext else []) + (menu if reads_menu else [])
        REPORT.add("navigation entries", who, bool(shown),
                   f"{len(shown)} shown: {shown}" if shown else "none",
                   f"API gives external_views={ext if 'external_views' in ours else 'field absent'} "
                   f"appbuilder_menu_items={menu}; UI bundle reads external_views={reads_ext}, "
                   f"appbuilder_menu_items={reads_menu}")
    else:
        r, problem = web.call(s, "GET", "/home")
        links = sorted(set(re.findall(r'href="(/hopsworks/[^"?]*)"', r.text))) if r is not None else []
        REPORT.add("navigation entries", who, bool(links),
                   f"{len(links)} menu links: {links}" if links else f"none (/home {describe(r, problem)})", problem)


def form_token(web: Web, s: requests.Session, path: str) -> str | None:
    """A CSRF token from ``path``, or (the token is per session, not per form) from the job page when ``path``
    does not render, so that an action is measured even when its page fails."""
    for candidate in (path, f"/hopsworks/projects/{PROJECT_ID}/jobs/{JOB}"):
        r, _ = web.call(s, "GET", PREFIX + candidate)
        token = csrf_of(r.text) if r is not None and r.status_code == 200 else None
        if token:
            return token
    return None


def check_my_dags_actions(web: Web, who: str, s: requests.Session) -> None:
    token = form_token(web, s, "/hopsworks/my-dags/")
    if not token:
        REPORT.add("My DAGs trigger", who, False, "no form (page not 200)")
        return
    for verb, path, data in (
        ("My DAGs unpause", "/hopsworks/my-dags/smoke_plain/paused", {"paused": "false"}),
        ("My DAGs trigger", "/hopsworks/my-dags/smoke_plain/trigger", {}),
    ):
        r, problem = web.call(s, "POST", PREFIX + path, data={"csrf_token": token, **data})
        ok = r is not None and r.status_code in (302, 303) and "login" not in describe(r, problem)
        REPORT.add(verb, who, ok, describe(r, problem), problem)


def check_dag_file_actions(web: Web, who: str, s: requests.Session, dags: Path) -> None:
    base = f"/hopsworks/dag-files/{PROJECT_ID}"
    token = form_token(web, s, base + "/")
    if not token:
        REPORT.add("DAG files upload", who, False, "no form (page not 200)")
        return
    name = f"smoke_upload_{who}.py"
    files = {"files": (name, UPLOAD_DAG.replace("smoke_uploaded", f"smoke_uploaded_{who}").encode(), "text/x-python")}
    r, problem = web.call(s, "POST", PREFIX + base + "/upload", data={"csrf_token": token}, files=files)
    written = (dags / PROJECT / name).exists()
    ok = r is not None and r.status_code in (200, 302, 303) and written
    REPORT.add("DAG files upload", who, ok, describe(r, problem) + (", file written" if written else ", no file"),
               problem)
    r, problem = web.call(s, "POST", PREFIX + f"{base}/files/{name}/delete", data={"csrf_token": token})
    gone = not (dags / PROJECT / name).exists()
    ok = r is not None and r.status_code in (200, 302, 303) and gone
    REPORT.add("DAG files delete", who, ok, describe(r, problem) + (", file removed" if gone else ", file still there"),
               problem)


def check_launch_form(web: Web, who: str, s: requests.Session) -> None:
    path = f"/hopsworks/projects/{PROJECT_ID}/jobs/{JOB}"
    token = form_token(web, s, path)
    if not token:
        REPORT.add("job page launch", who, False, "no form (page not 200)")
        return
    r, problem = web.call(s, "POST", PREFIX + f"/hopsworks/projects/{PROJECT_ID}/launch/{JOB}",
                          data={"csrf_token": token, "args": ""})
    ok = r is not None and r.status_code in (200, 302, 303) and "login" not in describe(r, problem)
    REPORT.add("job page launch", who, ok, describe(r, problem), problem)


def check_dags_test(env: dict[str, str], dag_id: str, label: str) -> None:
    r = airflow(env, "dags", "test", dag_id, timeout=400)
    text = r.stdout + r.stderr
    failed_tasks = re.findall(r"(?:Marking task as FAILED|state=failed|\bfailed\b.*task_id=)(.{0,120})", text)
    success = r.returncode == 0 and ("state=success" in text or "success" in text.lower()) and not failed_tasks \
        and "Traceback" not in text
    detail = "" if success else (exc_summary(text) or text[-800:])
    REPORT.add(label, "-", success, f"rc {r.returncode}" + (", DAG run success" if success else ", failed"), detail)


def dag_ids(r: requests.Response | None) -> list[str]:
    return sorted(d["dag_id"] for d in r.json().get("dags", [])) if r is not None and r.status_code == 200 else []


def check_auth_manager(web: Web, users: dict[str, requests.Session]) -> None:
    for who, s in users.items():
        if AF3:
            hdr = {"Authorization": f"Bearer {s.cookies.get('_token')}"}
            r, problem = web.call(s, "GET", "/api/v2/dags?limit=100", headers=hdr)
            ids = dag_ids(r)
            expect_bob = who == "admin"
            ok = r is not None and r.status_code == 200 and ("smoke_bob" in ids) == expect_bob and "smoke_launch" in ids
            REPORT.add("auth manager: /api/v2/dags", who, ok, f"{describe(r, problem)} {ids}", problem)
            r, problem = web.call(s, "GET", "/api/v2/dags/smoke_bob", headers=hdr)
            expect = 200 if who == "admin" else 403
            REPORT.add("auth manager: other's DAG", who, r is not None and r.status_code == expect,
                       f"{describe(r, problem)} (expected {expect})", problem)
        else:
            r, problem = web.call(s, "GET", "/home")
            REPORT.add("auth manager: Airflow's /home", who, r is not None and r.status_code == 200,
                       describe(r, problem), problem)
            r, problem = web.call(s, "GET", "/api/v1/dags?limit=100")
            ids = dag_ids(r)
            expect_bob = who == "admin"
            ok = r is not None and r.status_code == 200 and ("smoke_bob" in ids) == expect_bob and "smoke_launch" in ids
            REPORT.add("auth manager: /api/v1/dags", who, ok, f"{describe(r, problem)} {ids}", problem)
            r, problem = web.call(s, "GET", "/dags/smoke_bob/grid")
            expect_ok = who == "admin"
            got_ok = r is not None and r.status_code == 200
            REPORT.add("auth manager: other's DAG page", who, got_ok == expect_ok and r is not None
                       and r.status_code < 500,
                       f"{describe(r, problem)} (expected {'200' if expect_ok else 'refusal'})",
                       problem)
        r, problem = web.call(s, "GET", PREFIX + "/hopsworks/my-dags/")
        REPORT.add("auth manager: My DAGs page", who, r is not None and r.status_code == 200, describe(r, problem),
                   problem)


# ---------------------------------------------------------------------------------------------------------


def start_web(env: dict[str, str], port: int, log_dir: Path, name: str) -> Service:
    if AF3:
        args = [AIRFLOW, "api-server", "-H", "127.0.0.1", "-p", str(port), "-w", "1"]
        health = f"http://127.0.0.1:{port}/api/v2/monitor/health"
    else:
        args = [AIRFLOW, "webserver", "-H", "127.0.0.1", "-p", str(port), "-w", "1"]
        health = f"http://127.0.0.1:{port}/health"
    service = Service(name, args, env, log_dir)
    wait_http(health, service)
    return service


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", help="also write the report as JSON here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary Airflow home (logs)")
    parser.add_argument("--skip-auth-manager", action="store_true")
    parser.add_argument("--home", help="Airflow home to use (default: a new temporary dir)")
    args = parser.parse_args()

    from hopsworks_ui_plugin.fake_hopsworks import FakeHopsworks, load_seed

    home = Path(args.home or tempfile.mkdtemp(prefix=f"hw-smoke-af{AIRFLOW_VERSION}-")).resolve()
    dags = home / "dags"
    for project in (PROJECT, OTHER_PROJECT, "demo_fs"):
        (dags / project).mkdir(parents=True, exist_ok=True)
    (dags / PROJECT / "smoke_launch.py").write_text(LAUNCH_DAG)
    (dags / PROJECT / "smoke_plain.py").write_text(PLAIN_DAG)
    (dags / OTHER_PROJECT / "smoke_bob.py").write_text(BOB_DAG)
    log_dir = home / "logs-smoke"
    log_dir.mkdir(exist_ok=True)
    print(f"Airflow {AIRFLOW_VERSION}, python {sys.executable}, home {home}", flush=True)

    seed = load_seed("demo")
    fake = FakeHopsworks(seed=seed).start(port=0)
    service_user = seed.get("service_user", "airflow")
    key = next(str(k["key"]) for k in seed["api_keys"] if k["username"] == service_user)
    port = free_port()
    env = make_env(home, port, fake.url, key, FAB_AM)
    services: list[Service] = []
    try:
        check_static(env)
        t = time.monotonic()
        r = airflow(env, "db", "migrate", timeout=600)
        REPORT.add("airflow db migrate", "-", r.returncode == 0, f"rc {r.returncode} ({time.monotonic() - t:.0f} s)",
                   exc_summary(r.stdout + r.stderr))
        r = py(env, CREATE_USERS % (json.dumps(USERS), AF3))
        REPORT.add("create users", "-", r.returncode == 0, "ok" if r.returncode == 0 else "failed",
                   exc_summary(r.stdout + r.stderr))
        check_plugins_cli(env)
        check_jwt_without_issuer(env)
        r = airflow(env, "dags", "reserialize", timeout=400)
        text = r.stdout + r.stderr
        REPORT.add("airflow dags reserialize", "-", r.returncode == 0, f"rc {r.returncode}", exc_summary(text))
        r = airflow(env, "dags", "list-import-errors", "-o", "json")
        json_lines = [line for line in r.stdout.splitlines() if line.startswith(("[", "{"))]
        try:
            errors = json.loads(json_lines[-1]) if json_lines else []
        except ValueError:
            errors = [{"filepath": "?", "error": r.stdout[-300:]}]
        REPORT.add("DAG import errors", "-", not errors,
                   "none" if not errors else f"{len(errors)}: " + "; ".join(
                       f"{Path(str(e.get('filepath', '?'))).name}: {last_line(e.get('error'))}" for e in errors),
                   "\n".join(exc_summary(str(e.get("error", ""))) or str(e.get("error", ""))[-500:] for e in errors))

        t = time.monotonic()
        try:
            web_service = start_web(env, port, log_dir, "web-fab")
        except Exception as err:
            REPORT.add("web server starts", "-", False, str(err).splitlines()[0][:300], str(err))
            return finish(args, home, fake, services)
        services.append(web_service)
        REPORT.add("web server starts", "-", True,
                   f"{'api-server' if AF3 else 'webserver'} up in {time.monotonic() - t:.0f} s")
        web = Web(f"http://127.0.0.1:{port}", web_service)
        sessions: dict[str, requests.Session] = {}
        for who in ("admin", "alice"):
            try:
                sessions[who] = web.login(who)
                REPORT.add("login", who, True, "ok")
            except Exception as err:
                REPORT.add("login", who, False, str(err), tb_detail())
        for who, s in sessions.items():
            check_pages(web, who, s)
            check_navigation(web, who, s)
        check_session_cookie(web)
        if "alice" in sessions:
            check_my_dags_actions(web, "alice", sessions["alice"])
            check_dag_file_actions(web, "alice", sessions["alice"], dags)
            check_launch_form(web, "alice", sessions["alice"])
        check_dags_test(env, "smoke_plain", "plain task DAG (dags test)")
        check_dags_test(env, "smoke_launch", "launch task + sensor DAG (dags test)")
        web_service.stop()
        services.remove(web_service)

        if not args.skip_auth_manager:
            env_am = make_env(home, port, fake.url, key, HW_AM)
            t = time.monotonic()
            try:
                am_service = start_web(env_am, port, log_dir, "web-hopsworks-am")
            except Exception as err:
                REPORT.add("web server starts (HopsworksFabAuthManager)", "-", False, str(err).splitlines()[0][:300],
                           str(err))
                return finish(args, home, fake, services)
            services.append(am_service)
            REPORT.add("web server starts (HopsworksFabAuthManager)", "-", True, f"up in {time.monotonic() - t:.0f} s")
            web = Web(f"http://127.0.0.1:{port}", am_service)
            sessions = {}
            for who in ("admin", "alice"):
                try:
                    sessions[who] = web.login(who)
                except Exception as err:
                    REPORT.add("login (auth manager)", who, False, str(err), tb_detail())
            check_auth_manager(web, sessions)
    except Exception as err:
        REPORT.add("smoke script", "-", False, f"crashed: {err!r}", traceback.format_exc())
    return finish(args, home, fake, services)


def finish(args: argparse.Namespace, home: Path, fake: Any, services: list[Service]) -> int:
    for service in services:
        service.stop()
    with contextlib.suppress(Exception):
        fake.stop()
    failed = [r for r in REPORT.rows if not r.ok]
    print(f"\nAirflow {AIRFLOW_VERSION}: {len(REPORT.rows) - len(failed)} ok, {len(failed)} failed", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps({"airflow": AIRFLOW_VERSION, "info": REPORT.info,
                                               "rows": [r.__dict__ for r in REPORT.rows]}, indent=2))
    if args.keep or args.home:
        print(f"Airflow home kept: {home}")
    else:
        shutil.rmtree(home, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
