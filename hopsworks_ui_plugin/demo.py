"""The demo: the fake Hopsworks (demo seed) and a full local Airflow (3.x or 2.10/2.11) with the plugin.

``python -m hopsworks_ui_plugin.demo [--home DIR] [--port 8080]`` (the README's demo command wraps
it). Everything runs on 127.0.0.1 and stops with Ctrl-C.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Any

from hopsworks_ui_plugin import devstack
from hopsworks_ui_plugin.fake_hopsworks import FakeHopsworks, load_seed

EXAMPLES = Path(__file__).resolve().parent / "example_dags"
#: example DAG file -> the Hopsworks project whose DAG folder it goes into
EXAMPLE_PROJECTS = {
    "demo_fs_feature_pipeline.py": "demo_fs",
    "demo_fs_legacy_style.py": "demo_fs",
    "fraud_detection_training.py": "fraud_detection",
    "analytics_daily_report.py": "analytics",
}
COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
AUTH_MANAGER = "hopsworks_ui_plugin.auth_manager.HopsworksFabAuthManager"


def install_examples(dags_folder: Path) -> None:
    for name, project in EXAMPLE_PROJECTS.items():
        target = dags_folder / project
        target.mkdir(parents=True, exist_ok=True)
        if not (target / name).exists():
            shutil.copyfile(EXAMPLES / name, target / name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hopsworks-airflow-demo", description=__doc__)
    parser.add_argument("--home", default=".demo", help="where Airflow's home and logs go (default .demo)")
    parser.add_argument("--port", type=int, default=8080, help="Airflow web port (default 8080)")
    parser.add_argument("--hopsworks-port", type=int, default=0, help="fake Hopsworks port (default: free)")
    args = parser.parse_args(argv)

    home = Path(args.home).resolve() / "airflow"
    seed = load_seed("demo")
    hopsworks = FakeHopsworks(seed=seed).start(port=args.hopsworks_port)
    # Not imported here: this process has no Airflow environment (only the services get one).
    extra = {"AIRFLOW__CORE__AUTH_MANAGER": AUTH_MANAGER}
    env = devstack.airflow_env(home, args.port, hopsworks_url=hopsworks.url, service_key=devstack.service_key(seed),
                               pages_key=devstack.pages_key(seed), extra=extra)
    install_examples(home / "dags")
    print(f"Fake Hopsworks on {hopsworks.url}; preparing Airflow in {home} ...", flush=True)
    devstack.init_airflow(env)
    # Each demo user browses as themself (My Hopsworks key); admin keeps the shared hopsworks_ui connection.
    devstack.register_user_keys(env, devstack.user_keys_of(seed))
    services = devstack.start_airflow(env, COMPONENTS, home / "service-logs")

    def stop(*_: Any) -> None:
        print("\nStopping ...", flush=True)
        for service in services:
            service.stop()
        hopsworks.stop()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    url = f"http://127.0.0.1:{args.port}"
    devstack.wait_http(f"{url}{devstack.HEALTH_PATH}", timeout=180, service=services[0])
    pages = f"{url}{devstack.PAGES_PREFIX}/hopsworks/projects/"
    print(
        f"""
Airflow with the Hopsworks plugin is up: {url}
  Hopsworks pages: {pages}  (also in Airflow's navigation)
  Logins (password = username):
    (alice, bob, carol, dave: the pages call Hopsworks with their own keys, see "My Hopsworks key";
     admin browses with the shared connection hopsworks_ui)
    admin   Airflow Admin (Hopsworks HOPS_ADMIN), sees every project and DAG
    alice   Data owner of demo_fs and empty_proj, Data scientist in analytics and pipelines
    bob     Data owner of fraud_detection and pipelines (300 jobs), Data scientist in demo_fs
    carol   Data owner of analytics, Data scientist in fraud_detection
    dave    Data scientist in demo_fs, fraud_detection and pipelines
    victor  Airflow Viewer (read-only), Data scientist in demo_fs: browses, changes nothing
  Fake Hopsworks: {hopsworks.url}/hopsworks-api/api
  Logs: {home / "service-logs"}
Press Ctrl-C to stop.""",
        flush=True,
    )
    while True:
        for service in services:
            if service.proc.poll() is not None:
                print(f"{service.name} stopped unexpectedly; its log:\n{service.tail()}", flush=True)
                stop()
        time.sleep(2)


if __name__ == "__main__":
    raise SystemExit(main())
