#!/usr/bin/env bash
# Creates the venv and installs the plugin with everything the demo and the tests need, for one Airflow version.
# Usage: [AIRFLOW_VERSION=3.0.6] [PYTHON_VERSION=3.12] scripts/setup-env.sh [--with-browser]
#   (--with-browser also installs Debian's chromium)
# AIRFLOW_VERSION defaults to the newest supported 3.x (venv .venv); any other version gets .venv-af<version>.
# PYTHON_VERSION defaults to python3's (3.11); another Python gets .venv-af<version>-py<X.Y> (scripts/airflow-env.sh).
# Installs with the pins kept in constraints/airflow-<version>-py<X.Y>.txt (scripts/make-constraints.sh makes them).
# Idempotent and quick when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/airflow-env.sh
with_browser=0
[ "${1:-}" = "--with-browser" ] && with_browser=1

pip_logged() {  # pip with its chatter in a log file, shown only when it fails
  if ! "$VENV/bin/python" -m pip "$@" >>"$VENV/install.log" 2>&1; then
    tail -40 "$VENV/install.log" >&2
    echo "pip $* failed; full log: $VENV/install.log" >&2
    exit 1
  fi
}

if [ ! -x "$VENV/bin/python" ]; then
  echo "Creating $VENV ..."
  "$PYTHON" -m venv "$VENV"
fi
venv_pyver=$("$VENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
if [ "$venv_pyver" != "$PYTHON_VERSION" ]; then
  echo "$VENV has Python $venv_pyver, but Python $PYTHON_VERSION was asked for ($CONSTRAINTS)." >&2
  echo "Remove it or choose another VENV." >&2
  exit 2
fi
stamp="$VENV/.hopsworks-installed"
want=$( (cat setup.cfg pyproject.toml "$CONSTRAINTS"; echo "$AIRFLOW_VERSION") | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "Installing Airflow $AIRFLOW_VERSION and the plugin into $VENV with $CONSTRAINTS (a few minutes the first time) ..."
  pip_logged install --upgrade pip "setuptools>=68" wheel
  pip_logged install -c "$CONSTRAINTS" -e ".[test]" "apache-airflow==$AIRFLOW_VERSION"
  echo "$want" > "$stamp"
fi

if [ "$with_browser" = 1 ] && ! command -v "${HW_CHROMIUM:-/usr/bin/chromium}" >/dev/null 2>&1; then
  echo "Installing Debian's chromium for the browser tests ..."
  SUDO=""; [ "$(id -u)" != 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
