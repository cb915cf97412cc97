# Sourced by setup-env.sh, test.sh and demo.sh: which Airflow to use, its pinned constraints and its venv.
#   AIRFLOW_VERSION   default: the newest supported 3.x; a prefix (3.1, 2.11) means the newest version of it
#                     that has a constraints file
#   PYTHON            the interpreter the venv is made from (default python3)
#   VENV              default .venv for the default version, .venv-af<version> for any other
# Sets and exports AIRFLOW_VERSION (full version), CONSTRAINTS, VENV, PYTHON. Run from the repo root.
DEFAULT_AIRFLOW_VERSION=3.3.2
PYTHON=${PYTHON:-python3}
AIRFLOW_VERSION=${AIRFLOW_VERSION:-$DEFAULT_AIRFLOW_VERSION}
_hw_pyver=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
CONSTRAINTS=constraints/airflow-$AIRFLOW_VERSION-py$_hw_pyver.txt
if [ ! -f "$CONSTRAINTS" ]; then
  _hw_match=$(ls constraints/airflow-"$AIRFLOW_VERSION".*-py"$_hw_pyver".txt 2>/dev/null | sort -V | tail -1 || true)
  if [ -z "$_hw_match" ]; then
    echo "No pinned constraints for Airflow $AIRFLOW_VERSION on Python $_hw_pyver ($CONSTRAINTS)." >&2
    echo "Supported: $(ls constraints/ | sed -n 's/^airflow-\(.*\)-py'"$_hw_pyver"'\.txt$/\1/p' | sort -V | tr '\n' ' ')" >&2
    echo "To add one: PYTHON=$PYTHON scripts/make-constraints.sh $AIRFLOW_VERSION" >&2
    exit 2
  fi
  CONSTRAINTS=$_hw_match
  AIRFLOW_VERSION=$(basename "$_hw_match" | sed 's/^airflow-\(.*\)-py.*\.txt$/\1/')
fi
if [ "$AIRFLOW_VERSION" = "$DEFAULT_AIRFLOW_VERSION" ]; then
  VENV=${VENV:-.venv}
else
  VENV=${VENV:-.venv-af$AIRFLOW_VERSION}
fi
unset _hw_pyver _hw_match
export AIRFLOW_VERSION CONSTRAINTS VENV PYTHON
