#!/usr/bin/env bash
# `make bench-statistical`: fit_statistical on 1,000 sensors x 7 days of 60 s readings; args go to the script.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=$(scripts/bootstrap.sh)
source scripts/env.sh "$venv"
exec python -m benchmarks.bench_statistical "$@"
