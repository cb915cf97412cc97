#!/usr/bin/env bash
# The test command: sets up what the tests need (venv, packages, Chromium), lints, runs pytest.
# Extra arguments go to pytest, e.g. scripts/test.sh -k jobs
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-env.sh --with-browser
VENV=${VENV:-.venv}
echo "== ruff"
"$VENV/bin/ruff" check .
echo "== mypy (public modules)"
"$VENV/bin/mypy" hopsworks_ui_plugin hopsworks_plugin
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
