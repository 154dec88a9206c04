#!/usr/bin/env bash
# Creates (once) the project's Python environment and prints its path.
#
# The environment lives outside the clone, under $SENSOR_LSTM_CACHE (default
# ~/.cache/sensor-lstm), in a folder named after a hash of the requirement files,
# so every clone, rerun and CI run with the same pins reuses it. A folder without
# the .complete marker is a build that died half-way and is rebuilt from scratch.
#
# Usage: scripts/bootstrap.sh            # prints the environment's path on stdout
set -euo pipefail

project_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
home_dir=${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}
cache_dir=${SENSOR_LSTM_CACHE:-$home_dir/.cache/sensor-lstm}
requirement_files=(requirements.txt requirements-dev.txt requirements-horovod.txt constraints.txt)

log() { echo "[bootstrap] $*" >&2; }

install_system_packages() {
    local missing=()
    # PySpark 4 needs Java 17 or newer.
    if ! command -v java >/dev/null ||
       [ "$(java -XshowSettings:properties -version 2>&1 | awk -F'[ .=]+' '/java.specification.version/ {print $NF}')" -lt 17 ]; then
        missing+=(openjdk-17-jre-headless)
    fi
    if ! command -v python3.11 >/dev/null || ! python3.11 -c 'import ensurepip, venv' 2>/dev/null; then
        missing+=(python3.11 python3.11-venv)
    fi
    command -v g++ >/dev/null || missing+=(g++)
    # Horovod's gloo needs CMake 3.x: Debian's. CMake 4 (e.g. from PyPI) rejects gloo's CMakeLists.
    if ! command -v cmake >/dev/null || ! cmake --version | grep -q 'version 3\.'; then missing+=(cmake); fi
    command -v ps >/dev/null || missing+=(procps)  # Spark's launch scripts call ps
    # The browser check of the local stack (tests/stack): Debian's Chromium and its ChromeDriver.
    command -v chromium >/dev/null || missing+=(chromium)
    command -v chromedriver >/dev/null || missing+=(chromium-driver)
    if ((${#missing[@]})); then
        log "installing Debian packages: ${missing[*]}"
        local sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
        $sudo apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
    fi
}

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

# pip, with the machine-level notices about absent local indexes left out of the log.
pip_quiet() {
    local python=$1; shift
    "$python" -m pip --disable-pip-version-check --no-input -q "$@" 2> >(grep -v "^WARNING: Location '" >&2)
}

build_env() {
    local env_dir=$1 py
    py=$(python_bin)
    rm -rf "$env_dir"
    log "creating $env_dir (pip install, then the Horovod build: about 10 minutes on 2 cores)"
    "$py" -m venv "$env_dir"
    local pip=(pip_quiet "$env_dir/bin/python")
    "${pip[@]}" install -c "$project_dir/constraints.txt" pip setuptools wheel >&2
    "${pip[@]}" install -c "$project_dir/constraints.txt" \
        -r "$project_dir/requirements.txt" -r "$project_dir/requirements-dev.txt" >&2
    # The Spark provider pulls in pyspark-client, whose files overlap PySpark's: put PySpark's back.
    "${pip[@]}" install --force-reinstall --no-deps -c "$project_dir/constraints.txt" pyspark >&2
    log "building Horovod with TensorFlow and gloo, without MPI"
    HOROVOD_WITH_TENSORFLOW=1 HOROVOD_WITHOUT_PYTORCH=1 HOROVOD_WITHOUT_MXNET=1 \
    HOROVOD_WITHOUT_MPI=1 HOROVOD_WITH_GLOO=1 HOROVOD_CPU_OPERATIONS=gloo \
    MAKEFLAGS=-j"$(nproc)" \
        "${pip[@]}" install --no-build-isolation --no-cache-dir \
        -c "$project_dir/constraints.txt" -r "$project_dir/requirements-horovod.txt" >&2
    verify_env "$env_dir"
    touch "$env_dir/.complete"
    log "environment ready: $env_dir"
}

verify_env() {
    local env_dir=$1
    "$env_dir/bin/python" -m pip check >&2
    "$env_dir/bin/python" -c '
import pyspark, sys
assert pyspark.__version__ == "4.3.0", f"pyspark files are {pyspark.__version__}, expected 4.3.0"
' >&2
    local build
    build=$(TF_CPP_MIN_LOG_LEVEL=3 "$env_dir/bin/horovodrun" --check-build 2>&1)
    grep -q '\[X\] TensorFlow' <<<"$build" && grep -q '\[X\] Gloo' <<<"$build" || {
        echo "$build" >&2; log "Horovod was built without TensorFlow or Gloo"; exit 1; }
}

main() {
    install_system_packages
    local key
    key=$(cd "$project_dir" && cat "${requirement_files[@]}" | sha256sum | cut -c1-16)
    local env_dir="$cache_dir/env-$key"
    mkdir -p "$cache_dir"
    # One builder at a time: parallel `make` targets or CI jobs wait for the first build.
    exec 9>"$cache_dir/.lock-$key"
    flock 9
    [ -f "$env_dir/.complete" ] || build_env "$env_dir"
    ln -sfn "$env_dir" "$project_dir/.venv"
    echo "$env_dir"
}

main "$@"
