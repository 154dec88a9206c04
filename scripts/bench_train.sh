#!/usr/bin/env bash
# `make bench-train`: Horovod throughput with 1 and 2 ranks, and the baseline's; args go to the script.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=$(scripts/bootstrap.sh)
source scripts/env.sh "$venv"
exec python -m benchmarks.bench_train "$@"
