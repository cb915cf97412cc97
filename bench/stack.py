"""One local web stack for the page benchmarks: the fake Hopsworks (in-process, so requests can be
counted) and a real ``airflow api-server`` with the plugin, on 127.0.0.1."""

from __future__ import annotations

import contextlib
import json
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from hopsworks_ui_plugin import devstack
from hopsworks_ui_plugin.fake_hopsworks import FakeHopsworks, load_seed


@dataclass
class WebStack:
    url: str
    env: dict[str, str]
    home: Path
    hopsworks: FakeHopsworks
    service_key: str

    def login(self, username: str) -> requests.Session:
        session = requests.Session()
        page = session.get(f"{self.url}/auth/login/", timeout=30).text
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
        assert token, "no login form"
        response = session.post(f"{self.url}/auth/login/", allow_redirects=False, timeout=30,
                                data={"username": username, "password": username, "csrf_token": token.group(1)})
        assert response.status_code == 302 and "_token" in session.cookies, f"login of {username} failed"
        session.headers["X-Bench"] = "1"
        return session

    def bearer(self, session: requests.Session) -> dict[str, str]:
        return {"Authorization": f"Bearer {session.cookies['_token']}"}


@contextlib.contextmanager
def web_stack(big_project_jobs: int = 0) -> Iterator[WebStack]:
    seed: dict[str, Any] = load_seed("test")
    key = next(str(k["key"]) for k in seed["api_keys"] if k["username"] == "airflow")
    with tempfile.TemporaryDirectory(prefix="hw-bench-web-") as tmp, FakeHopsworks(seed=seed).start() as hw:
        if big_project_jobs:
            hw.state.add_jobs(121, n=big_project_jobs, prefix="job_", type="PYSPARK", creator="alice")
        home = Path(tmp) / "airflow"
        port = devstack.free_port()
        env = devstack.airflow_env(home, port, hopsworks_url=hw.url, service_key=key,
                                   extra={"AIRFLOW__FAB__AUTH_RATE_LIMITED": "False"})
        devstack.init_airflow(env)
        (service,) = devstack.start_airflow(env, ["api-server"], home / "logs-svc")
        try:
            url = f"http://127.0.0.1:{port}"
            devstack.wait_http(f"{url}/api/v2/monitor/health", timeout=180, service=service)
            yield WebStack(url, env, home, hw, key)
        finally:
            service.stop()


def conn_json(hw_url: str, key: str) -> str:
    host, _, port = hw_url.split("://", 1)[1].partition(":")
    return json.dumps({"conn_type": "hopsworks", "host": host, "port": int(port), "schema": "http",
                       "password": key})
