# Sourced by setup-env.sh, test.sh and demo.sh: which Airflow to use, its pinned constraints and its venv.
#   AIRFLOW_VERSION   default: the newest supported 3.x; a prefix (3.1, 2.11) means the newest version of it
#                     that has a constraints file
#   PYTHON_VERSION    X.Y of the Python to use (3.11 or 3.12); its interpreter is python<X.Y> on PATH, else
#                     pyenv's newest <X.Y>.* (default: whatever PYTHON is, i.e. python3)
#   PYTHON            the interpreter the venv is made from (default python3, or the one PYTHON_VERSION names)
#   VENV              default .venv for the default Airflow on Python 3.11, .venv-af<version> for another Airflow
#                     on 3.11, .venv-af<version>-py<X.Y> on any other Python (3.3.2 on 3.12: .venv-af3.3.2-py3.12)
# Sets and exports AIRFLOW_VERSION (full version), PYTHON_VERSION (X.Y), CONSTRAINTS, VENV, PYTHON. Run from the
# repo root.
DEFAULT_AIRFLOW_VERSION=3.3.2
DEFAULT_PYTHON_VERSION=3.11
_hw_runs() { "$1" -c 'import sys' >/dev/null 2>&1; }  # pyenv shims exist for versions that are not active
if [ -z "${PYTHON:-}" ] && [ -n "${PYTHON_VERSION:-}" ]; then
  PYTHON=python$PYTHON_VERSION
  if ! _hw_runs "$PYTHON"; then
    PYTHON=$(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$PYTHON_VERSION".*/bin/python"$PYTHON_VERSION" \
      2>/dev/null | sort -V | tail -1 || true)
  fi
  if [ -z "$PYTHON" ] || ! _hw_runs "$PYTHON"; then
    echo "No Python $PYTHON_VERSION found (neither python$PYTHON_VERSION on PATH nor a pyenv version)." >&2
    exit 2
  fi
fi
PYTHON=${PYTHON:-python3}
AIRFLOW_VERSION=${AIRFLOW_VERSION:-$DEFAULT_AIRFLOW_VERSION}
_hw_pyver=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
if [ -n "${PYTHON_VERSION:-}" ] && [ "$PYTHON_VERSION" != "$_hw_pyver" ]; then
  echo "PYTHON_VERSION=$PYTHON_VERSION but $PYTHON is Python $_hw_pyver." >&2
  exit 2
fi
PYTHON_VERSION=$_hw_pyver
if [ "${HW_PYTHON_ONLY:-}" = 1 ]; then  # scripts/make-constraints.sh: only the interpreter, no constraints yet
  unset _hw_pyver; unset -f _hw_runs; export PYTHON_VERSION PYTHON
  return 0
fi
CONSTRAINTS=constraints/airflow-$AIRFLOW_VERSION-py$_hw_pyver.txt
if [ ! -f "$CONSTRAINTS" ]; then
  _hw_match=$(ls constraints/airflow-"$AIRFLOW_VERSION".*-py"$_hw_pyver".txt 2>/dev/null | sort -V | tail -1 || true)
  if [ -z "$_hw_match" ]; then
    echo "No pinned constraints for Airflow $AIRFLOW_VERSION on Python $_hw_pyver ($CONSTRAINTS)." >&2
    echo "Supported on Python $_hw_pyver: $(ls constraints/ | sed -n 's/^airflow-\(.*\)-py'"$_hw_pyver"'\.txt$/\1/p' | sort -V | tr '\n' ' ')" >&2
    echo "To add one: PYTHON_VERSION=$_hw_pyver scripts/make-constraints.sh $AIRFLOW_VERSION" >&2
    exit 2
  fi
  CONSTRAINTS=$_hw_match
  AIRFLOW_VERSION=$(basename "$_hw_match" | sed 's/^airflow-\(.*\)-py.*\.txt$/\1/')
fi
if [ "$PYTHON_VERSION" != "$DEFAULT_PYTHON_VERSION" ]; then
  VENV=${VENV:-.venv-af$AIRFLOW_VERSION-py$PYTHON_VERSION}
elif [ "$AIRFLOW_VERSION" = "$DEFAULT_AIRFLOW_VERSION" ]; then
  VENV=${VENV:-.venv}
else
  VENV=${VENV:-.venv-af$AIRFLOW_VERSION}
fi
unset _hw_pyver _hw_match
unset -f _hw_runs
export AIRFLOW_VERSION PYTHON_VERSION CONSTRAINTS VENV PYTHON
