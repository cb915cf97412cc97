"""One local web stack for the page benchmarks: the fake Hopsworks (in-process, so requests can be
counted) and a real ``airflow api-server`` with the plugin, on 127.0.0.1."""

from __future__ import annotations

import contextlib
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
    pages_key: str  # the HOPS_USER key of the pages' connection (the AGENT service key cannot browse)

    def login(self, username: str) -> requests.Session:
        return devstack.login(self.url, username)

    @staticmethod
    def bearer(session: requests.Session) -> dict[str, str]:
        return devstack.bearer(session)


@contextlib.contextmanager
def web_stack(big_project_jobs: int = 0) -> Iterator[WebStack]:
    seed: dict[str, Any] = load_seed("test")
    key = devstack.service_key(seed)
    pages = devstack.pages_key(seed)
    with tempfile.TemporaryDirectory(prefix="hw-bench-web-") as tmp, FakeHopsworks(seed=seed).start() as hw:
        if big_project_jobs:
            hw.state.add_jobs(121, n=big_project_jobs, prefix="job_", type="PYSPARK", creator="alice")
        home = Path(tmp) / "airflow"
        port = devstack.free_port()
        env = devstack.airflow_env(home, port, hopsworks_url=hw.url, service_key=key,
                                   pages_key=pages, extra={"AIRFLOW__FAB__AUTH_RATE_LIMITED": "False"})
        devstack.init_airflow(env)
        (service,) = devstack.start_airflow(env, ["api-server"], home / "logs-svc")
        try:
            url = f"http://127.0.0.1:{port}"
            devstack.wait_http(f"{url}/api/v2/monitor/health", timeout=180, service=service)
            yield WebStack(url, env, home, hw, key, pages)
        finally:
            service.stop()

