#!/usr/bin/env bash
# The one recipe for the project's Python environment. scripts/bootstrap.sh runs it for the local
# environment (adding requirements-dev.txt and requirements-stack.txt) and the Dockerfile for the
# image's (adding requirements-stack.txt), so both install the same pins in the same order and check
# them alike.
#
#   scripts/install_python_env.sh install VENV_DIR [REQUIREMENTS_FILE...]
#       creates the virtual environment VENV_DIR with Python 3.11 (python3.11, else python3, from
#       PATH); installs pip, setuptools and wheel, then requirements.txt and the extra files in one
#       resolve, all under constraints.txt; reinstalls PySpark without its dependencies (the Spark
#       provider pulls in pyspark-client, whose files overlap PySpark's, and whichever installs
#       last wins); then builds Horovod (requirements-horovod.txt) from source against that
#       TensorFlow, with gloo and without MPI. The build needs g++, make and a CMake 3.x: CMake 4
#       (e.g. PyPI's) rejects gloo's CMakeLists.
#   scripts/install_python_env.sh verify VENV_DIR
#       fails unless `pip check` is clean, PySpark's own files are in place (the version
#       constraints.txt pins) and `horovodrun --check-build` lists TensorFlow and Gloo.
#
# constraints.txt, requirements.txt and requirements-horovod.txt are read from the folder above
# this script's; extra requirement files are paths. pip takes its other settings from the
# environment as usual (PIP_CERT, PIP_QUIET, a pip cache). Everything is written to stderr, so a
# caller's stdout stays its own.
set -euo pipefail
exec >&2

project_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
constraints=$project_dir/constraints.txt

log() { echo "[install_python_env] $*"; }

python_bin() {
    local candidate
    for candidate in python3.11 python3; do
        if command -v "$candidate" >/dev/null &&
           "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
            command -v "$candidate"; return
        fi
    done
    log "Python 3.11 is required and was not found on PATH"; exit 1
}

usage() {
    echo "usage: scripts/install_python_env.sh install VENV_DIR [REQUIREMENTS_FILE...]" \
         "| verify VENV_DIR"
    exit 2
}

# The environment's pip, with the machine-level notices about absent local indexes left out.
pip_in() {
    local venv=$1; shift
    "$venv/bin/python" -m pip --disable-pip-version-check --no-input "$@" \
        2> >(grep -v "^WARNING: Location '" >&2)
}

install() {
    local venv=$1; shift
    local requirements=(-r "$project_dir/requirements.txt") file py
    for file in "$@"; do requirements+=(-r "$file"); done
    py=$(python_bin)
    log "creating $venv with $py, then installing requirements.txt${*:+ and $*}"
    "$py" -m venv "$venv"
    pip_in "$venv" install -c "$constraints" pip setuptools wheel
    pip_in "$venv" install -c "$constraints" "${requirements[@]}"
    # The Spark provider pulls in pyspark-client, whose files overlap PySpark's: put PySpark's back.
    pip_in "$venv" install --force-reinstall --no-deps -c "$constraints" pyspark
    log "building Horovod with TensorFlow and gloo, without MPI"
    HOROVOD_WITH_TENSORFLOW=1 HOROVOD_WITHOUT_PYTORCH=1 HOROVOD_WITHOUT_MXNET=1 \
    HOROVOD_WITHOUT_MPI=1 HOROVOD_WITH_GLOO=1 HOROVOD_CPU_OPERATIONS=gloo \
    MAKEFLAGS=-j"$(nproc)" \
        pip_in "$venv" install --no-build-isolation --no-cache-dir \
        -c "$constraints" -r "$project_dir/requirements-horovod.txt"
}

verify() {
    local venv=$1 expected build
    pip_in "$venv" check
    expected=$(sed -n 's/^pyspark==//p' "$constraints")
    "$venv/bin/python" -c '
import sys
import pyspark
assert pyspark.__version__ == sys.argv[1], f"pyspark files are {pyspark.__version__}, expected {sys.argv[1]}"
' "$expected"
    build=$(TF_CPP_MIN_LOG_LEVEL=3 "$venv/bin/horovodrun" --check-build 2>&1)
    grep -q '\[X\] TensorFlow' <<<"$build" && grep -q '\[X\] Gloo' <<<"$build" || {
        echo "$build"; log "Horovod was built without TensorFlow or Gloo"; exit 1; }
    log "$venv: pip check clean, pyspark $expected, Horovod with TensorFlow and Gloo"
}

case ${1:-} in
    install) (($# >= 2)) || usage; shift; install "$@" ;;
    verify) (($# == 2)) || usage; verify "$2" ;;
    *) usage ;;
esac
