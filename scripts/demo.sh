#!/usr/bin/env bash
# The demo: installs into .venv if needed, then starts the fake Hopsworks and Airflow 3.3
# (api-server, scheduler, dag-processor, triggerer) with the plugin on http://127.0.0.1:8080.
# Options go to python -m hopsworks_ui_plugin.demo (--port, --home, --hopsworks-port).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-env.sh
exec "${VENV:-.venv}/bin/python" -m hopsworks_ui_plugin.demo "$@"
