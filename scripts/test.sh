#!/usr/bin/env bash
# The test command: sets up what the tests need (venv, packages, Chromium), lints, runs pytest.
# Extra arguments go to pytest, e.g. scripts/test.sh -k jobs
# AIRFLOW_VERSION=3.0.6 scripts/test.sh runs against another supported Airflow (its own venv, .venv-af3.0.6);
# PYTHON_VERSION=3.12 on another Python (venv .venv-af<version>-py3.12; see scripts/airflow-env.sh).
# On CI (CI=true, no AIRFLOW_VERSION given): the full suite on the newest 3.x (Python 3.11), then the smoke set
# (pytest -m smoke) on Airflow 3.0.6 with Python 3.12 (what Hopsworks ships: apache/airflow:3.0.6-python3.12)
# and on 2.11.0. SMOKE_VERSIONS overrides the smoke list: entries <airflow>[-py<X.Y>], e.g. "3.0.6 3.3.2-py3.12".
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${CI:-}" = true ] && [ -z "${AIRFLOW_VERSION:-}" ]; then
  declare -A result
  overall=0
  start=$SECONDS
  smoke=${SMOKE_VERSIONS:-3.0.6-py3.12 2.11.0}
  if AIRFLOW_VERSION=3.3.2 scripts/test.sh "$@"; then result[3.3.2]="passed (full suite)"; else
    result[3.3.2]="FAILED (full suite)"; overall=1; fi
  for v in $smoke; do
    if [[ "$v" == *-py* ]]; then py=(env -u PYTHON "PYTHON_VERSION=${v##*-py}"); else py=(env); fi
    if "${py[@]}" AIRFLOW_VERSION="${v%-py*}" scripts/test.sh -m smoke; then result[$v]="passed (smoke set)"; else
      result[$v]="FAILED (smoke set)"; overall=1; fi
  done
  default_py=${PYTHON_VERSION:-$("${PYTHON:-python3}" -c 'import sys; print("%d.%d" % sys.version_info[:2])')}
  echo "== Airflow versions tested ($(( (SECONDS - start) / 60 )) min):"
  for v in 3.3.2 $smoke; do
    on=$default_py; [[ "$v" == *-py* ]] && on=${v##*-py}
    echo "   Airflow ${v%-py*} on Python $on: ${result[$v]}"
  done
  exit "$overall"
fi
source scripts/airflow-env.sh
scripts/setup-env.sh --with-browser
echo "== Airflow $("$VENV/bin/python" -c 'import airflow; print(airflow.__version__)' 2>/dev/null) ($VENV, $CONSTRAINTS)"
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
# Two pytest-xdist workers (CI has 2 cores; much of the suite waits on subprocesses and browsers), each taking whole
# test modules (tests/conftest.py: pytest_xdist_make_scheduler); PYTEST_WORKERS=0 runs in this one process.
"$VENV/bin/python" -m pytest tests -p no:cacheprovider -n "${PYTEST_WORKERS:-2}" --dist loadfile "$@"
status=$?
echo "== pytest on Airflow $AIRFLOW_VERSION: exit $status"
set -e
if [ "$status" = 5 ]; then
  echo "pytest collected no tests: that is a failure here" >&2
  exit 1
fi
exit "$status"
