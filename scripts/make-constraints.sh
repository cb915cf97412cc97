#!/usr/bin/env bash
# Regenerates constraints/airflow-<VERSION>-py<X.Y>.txt: resolves Airflow VERSION, the FAB provider, this
# package's requirements and its [test] extra with pip in a scratch venv, then writes `pip freeze`.
# Airflow's published constraint files cannot be downloaded on our machines, so these pins are ours.
#
# Usage: scripts/make-constraints.sh VERSION [--plain]
#   --plain   resolve without the extra pins below and print the freeze to stdout instead of writing the file
#             (to see what a user's plain `pip install apache-airflow==VERSION` gets)
# Env: PYTHON_VERSION (X.Y, e.g. 3.12: python3.12 or pyenv's) or PYTHON (default python3), as in
#   scripts/airflow-env.sh; SCRATCH (default ${TMPDIR:-/tmp}/hw-constraints-VERSION-pyX.Y, removed first).
#
# After regenerating, check the pins really run:  [PYTHON_VERSION=X.Y] AIRFLOW_VERSION=VERSION scripts/test.sh -m smoke
set -euo pipefail
cd "$(dirname "$0")/.."
version=${1:?usage: scripts/make-constraints.sh VERSION [--plain]}
plain=0
[ "${2:-}" = "--plain" ] && plain=1
HW_PYTHON_ONLY=1 source scripts/airflow-env.sh  # sets PYTHON and PYTHON_VERSION
pyver=$PYTHON_VERSION
scratch=${SCRATCH:-${TMPDIR:-/tmp}/hw-constraints-$version-py$pyver}
pyenv_prefix=""
[ "$pyver" != "$DEFAULT_PYTHON_VERSION" ] && pyenv_prefix="PYTHON_VERSION=$pyver "
out=constraints/airflow-$version-py$pyver.txt

# Extra requirements per Airflow line, each with the reason. Keep them minimal: pip resolves the rest.
extra=()
why=()
case "$version" in
  2.*)
    # Airflow 2 needs the FAB provider 1.x (2.x and later require Airflow 3); it pins flask-appbuilder 4.5.x.
    extra+=("apache-airflow-providers-fab>=1.5,<2" "flask-appbuilder>=4.5,<4.6")
    why+=("FAB provider 1.5.x / flask-appbuilder 4.5.x: the FAB provider line that supports Airflow 2")
    ;;
  3.0.*)
    # Unpinned, pip takes a FastAPI/cadwyn newer than 3.0.6 was released with: the Execution API (cadwyn-versioned)
    # then answers every task with a validation error. (Also: with PyJWT >= 2.11, which FAB provider 3.10 needs,
    # 3.0.x puts an empty issuer list into tokens and login fails unless [api_auth] jwt_issuer is set; pinning
    # PyJWT < 2.11 instead drags in an older FAB provider and a Flask-JWT-Extended that cannot import. So no pin:
    # the dev stack sets jwt_issuer. See docs/airflow-versions-report.md.)
    extra+=("apache-airflow-providers-fab" "fastapi==0.116.1" "cadwyn==5.4.4")
    why+=("fastapi==0.116.1 cadwyn==5.4.4: newer ones break 3.0.6's task runs (see docs/airflow-versions-report.md)")
    ;;
  3.2.*)
    extra+=("apache-airflow-providers-fab" "fastapi==0.139.2" "cadwyn==8.2.0" "starlette==1.0.1" "svcs==25.1.0")
    why+=("fastapi==0.139.2 cadwyn==8.2.0 starlette==1.0.1 svcs==25.1.0: newer ones break 3.2.x's api-server")
    ;;
  3.*)
    extra+=("apache-airflow-providers-fab")
    why+=("none beyond the FAB provider")
    ;;
  *) echo "unsupported Airflow version: $version" >&2; exit 2 ;;
esac
if [ "$plain" = 1 ]; then
  extra=("apache-airflow-providers-fab")
  why=("none (--plain)")
fi

rm -rf "$scratch"
"$PYTHON" -m venv "$scratch"
log="$scratch/install.log"
echo "Resolving apache-airflow==$version in $scratch (log: $log) ..." >&2
start=$(date +%s)
"$scratch/bin/python" -m pip install --upgrade pip "setuptools>=68" wheel >"$log" 2>&1

# This package's own requirements and test extra, read from setup.cfg (without building the package), with the
# scratch venv's setuptools (Python 3.12 itself comes without one).
own_reqs=$("$scratch/bin/python" - <<'EOF'
from setuptools.config.setupcfg import read_configuration
opts = read_configuration("setup.cfg")["options"]
for req in opts["install_requires"] + opts["extras_require"].get("test", []):
    if not req.lower().startswith(("apache-airflow>", "apache-airflow=", "apache-airflow<")):
        print(req)
EOF
)
mapfile -t own <<<"$own_reqs"
[ "${#own[@]}" -gt 1 ] || { echo "could not read the requirements from setup.cfg" >&2; exit 1; }
if ! "$scratch/bin/python" -m pip install "apache-airflow==$version" "${extra[@]}" "${own[@]}" >>"$log" 2>&1; then
  tail -40 "$log" >&2
  exit 1
fi
"$scratch/bin/airflow" version >/dev/null 2>>"$log" || { echo "airflow version fails in $scratch" >&2; tail -20 "$log" >&2; exit 1; }
secs=$(( $(date +%s) - start ))
pipver=$("$scratch/bin/python" -m pip --version | cut -d' ' -f2)

freeze() {
  "$scratch/bin/python" -m pip freeze --exclude-editable | grep -viE '^(hopsworks-airflow-plugin|pip|setuptools|wheel)=='
}
if [ "$plain" = 1 ]; then
  freeze
  exit 0
fi
mkdir -p constraints
{
  echo "# Pins for apache-airflow==$version on Python $pyver, with this package's requirements and [test] extra."
  echo "# Not Airflow's published constraints (they cannot be downloaded here): produced on $(date -u +%Y-%m-%d) by"
  echo "#   ${pyenv_prefix}scripts/make-constraints.sh $version"
  echo "# which resolves, with pip $pipver in a fresh venv,"
  echo "#   pip install apache-airflow==$version ${extra[*]} <setup.cfg install_requires and [test]>"
  echo "# and writes \`pip freeze\`. Extra pins: ${why[*]}"
  echo "# Regenerate: ${pyenv_prefix}scripts/make-constraints.sh $version; then check:"
  echo "#   ${pyenv_prefix}AIRFLOW_VERSION=$version scripts/test.sh -m smoke. Used by scripts/setup-env.sh (pip install -c)."
  freeze
} >"$out"
echo "Wrote $out ($(grep -vc '^#' "$out") pins, resolved in ${secs}s)" >&2
