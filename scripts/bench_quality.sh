#!/usr/bin/env bash
# `make bench-quality`: the pipeline's models against naive forecasts and a reference LSTM on real series.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=$(scripts/bootstrap.sh)
source scripts/env.sh "$venv"
exec python -m benchmarks.bench_quality "$@"
