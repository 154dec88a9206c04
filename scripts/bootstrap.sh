#!/usr/bin/env bash
# Creates (once) the project's Python environment and prints its path.
#
# The environment lives outside the clone, under $SENSOR_LSTM_CACHE (default
# ~/.cache/sensor-lstm), in a folder named after a hash of the requirement files and
# of the install recipe (scripts/install_python_env.sh, which the Dockerfile runs too),
# so every clone, rerun and CI run with the same pins and recipe reuses it, and a
# changed recipe builds a new one. A folder without the .complete marker is a build
# that died half-way and is rebuilt from scratch.
#
# Usage: scripts/bootstrap.sh            # prints the environment's path on stdout
set -euo pipefail

project_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
home_dir=${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}
cache_dir=${SENSOR_LSTM_CACHE:-$home_dir/.cache/sensor-lstm}
install_script=scripts/install_python_env.sh
# What the environment is made from: the hash of these names its folder.
env_inputs=(requirements.txt requirements-dev.txt requirements-stack.txt requirements-horovod.txt constraints.txt "$install_script")

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
    # The local stack's Airflow metadata database (scripts/stack.sh).
    command -v postgres >/dev/null || compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null ||
        missing+=(postgresql)
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

build_env() {
    local env_dir=$1
    rm -rf "$env_dir"
    log "creating $env_dir (pip install, then the Horovod build: about 10 minutes on 2 cores)"
    PIP_QUIET=1 "$project_dir/$install_script" install "$env_dir" "$project_dir/requirements-dev.txt" \
        "$project_dir/requirements-stack.txt"
    "$project_dir/$install_script" verify "$env_dir"
    touch "$env_dir/.complete"
    log "environment ready: $env_dir"
}

main() {
    install_system_packages
    local key
    key=$(cd "$project_dir" && cat "${env_inputs[@]}" | sha256sum | cut -c1-16)
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
