#!/usr/bin/env bash
# Checks formatting and lint (ruff), then runs the test suite in the project's environment;
# extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=$(scripts/bootstrap.sh)
# Tests keep their Airflow home and stores apart from the demo's.
export SENSOR_LSTM_VAR=${SENSOR_LSTM_VAR:-$PWD/var/test}
source scripts/env.sh "$venv"
# Formatting and lint first: seconds, and a failure names the line.
ruff format --check --quiet . || { echo "ruff format would change the files above: run 'ruff format .'" >&2; exit 1; }
ruff check --quiet .
exec python -m pytest "$@"
