#!/usr/bin/env bash
# The test command: sets up what the tests need (venv, packages, Chromium), lints, runs pytest.
# Extra arguments go to pytest, e.g. scripts/test.sh -k jobs
# AIRFLOW_VERSION=3.0.6 scripts/test.sh runs against another supported Airflow (its own venv, .venv-af3.0.6).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/airflow-env.sh
scripts/setup-env.sh --with-browser
echo "== Airflow $AIRFLOW_VERSION ($VENV)"
echo "== ruff"
"$VENV/bin/ruff" check .
if [ "$AIRFLOW_VERSION" = "$DEFAULT_AIRFLOW_VERSION" ] || [ "${MYPY:-}" = 1 ]; then
  echo "== mypy (public modules)"
  "$VENV/bin/mypy" hopsworks_ui_plugin hopsworks_plugin
else
  # Version-specific branches import names that exist only in other Airflow versions; types are checked against
  # the default version's Airflow. MYPY=1 forces it here too.
  echo "== mypy skipped on Airflow $AIRFLOW_VERSION (checked against $DEFAULT_AIRFLOW_VERSION; MYPY=1 forces it)"
fi
echo "== pytest"
set +e
"$VENV/bin/python" -m pytest tests -p no:cacheprovider "$@"
status=$?
set -e
if [ "$status" = 5 ]; then
  echo "pytest collected no tests: that is a failure here" >&2
  exit 1
fi
exit "$status"
