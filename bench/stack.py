"""One local web stack for the page benchmarks: the fake Hopsworks (in-process, so requests can be
counted) and a real ``airflow api-server`` with the plugin, on 127.0.0.1, plus the bench-only floor
plugin (:mod:`bench.floor_plugin`, copied into the stack's plugins folder) that the ratios against
"any plugin page" / "any upload" are measured with."""

from __future__ import annotations

import contextlib
import shutil
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

    @property
    def floor_url(self) -> str:
        """The bench floor plugin's pages (:mod:`bench.floor_plugin`)."""
        return f"{self.url}/pluginsv2/bench-floor"

    def login(self, username: str) -> requests.Session:
        return devstack.login(self.url, username)

    @staticmethod
    def bearer(session: requests.Session) -> dict[str, str]:
        return devstack.bearer(session)


@contextlib.contextmanager
def web_stack(big_project_jobs: int = 0, membership_ttl_s: float = 30.0) -> Iterator[WebStack]:
    seed: dict[str, Any] = load_seed("test")
    key = devstack.service_key(seed)
    pages = devstack.pages_key(seed)
    with tempfile.TemporaryDirectory(prefix="hw-bench-web-") as tmp, FakeHopsworks(seed=seed).start() as hw:
        if big_project_jobs:
            hw.state.add_jobs(121, n=big_project_jobs, prefix="job_", type="PYSPARK", creator="alice")
        home = Path(tmp) / "airflow"
        port = devstack.free_port()
        env = devstack.airflow_env(home, port, hopsworks_url=hw.url, service_key=key,
                                   pages_key=pages, extra={"AIRFLOW__FAB__AUTH_RATE_LIMITED": "False",
                                          "AIRFLOW__HOPSWORKS__MEMBERSHIP_TTL_S": str(membership_ttl_s)})
        install_floor_plugin(home, env)
        devstack.init_airflow(env)
        (service,) = devstack.start_airflow(env, ["api-server"], home / "logs-svc")
        try:
            url = f"http://127.0.0.1:{port}"
            devstack.wait_http(f"{url}/api/v2/monitor/health", timeout=180, service=service)
            yield WebStack(url, env, home, hw, key, pages)
        finally:
            service.stop()


def install_floor_plugin(home: Path, env: dict[str, str]) -> None:
    """Put :mod:`bench.floor_plugin` into the stack's own plugins folder (never into the package)."""
    plugins = home / "plugins"
    plugins.mkdir(parents=True, exist_ok=True)
    shutil.copy(Path(__file__).with_name("floor_plugin.py"), plugins / "bench_floor_plugin.py")
    env["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(plugins)
    env["HW_BENCH_FLOOR_DIR"] = str(home / "floor-uploads")
