#!/usr/bin/env bash
# `make bench-prep`: prepare_sequences against the collect_list + UDF recipe; args go to the script.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=$(scripts/bootstrap.sh)
source scripts/env.sh "$venv"
exec python -m benchmarks.bench_prep "$@"
