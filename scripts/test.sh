#!/usr/bin/env bash
# Runs the test suite in the project's environment; extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=$(scripts/bootstrap.sh)
# Tests keep their Airflow home and stores apart from the demo's.
export SENSOR_LSTM_VAR=${SENSOR_LSTM_VAR:-$PWD/var/test}
source scripts/env.sh "$venv"
exec python -m pytest "$@"
