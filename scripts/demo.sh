#!/usr/bin/env bash
# The demo: installs into .venv if needed, then starts the fake Hopsworks and Airflow 3.3
# (api-server, scheduler, dag-processor, triggerer) with the plugin on http://127.0.0.1:8080.
# Options go to python -m hopsworks_ui_plugin.demo (--port, --home, --hopsworks-port).
# AIRFLOW_VERSION=2.11.0 scripts/demo.sh uses another supported Airflow (its own venv and, unless --home is
# given, its own home .demo-af<version>, since metadata DBs of different versions do not mix).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/airflow-env.sh
scripts/setup-env.sh
home=()
if [ "$AIRFLOW_VERSION" != "$DEFAULT_AIRFLOW_VERSION" ] && [[ " $* " != *" --home"* ]]; then
  home=(--home ".demo-af$AIRFLOW_VERSION")
fi
exec "$VENV/bin/python" -m hopsworks_ui_plugin.demo "${home[@]}" "$@"
