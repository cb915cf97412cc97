#!/usr/bin/env bash
# The benchmarks: ratios measured side by side in one run, printed next to their goals and saved
# to bench/results/latest.json. Options go to python -m bench.run (--smoke, --only waiting,jobs,...).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-env.sh
exec "${VENV:-.venv}/bin/python" -m bench.run "$@"
