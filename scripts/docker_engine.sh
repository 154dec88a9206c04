#!/usr/bin/env bash
# A Docker engine that docker-compose.yaml accepts, on a Debian bookworm machine that has none.
#
#   scripts/docker_engine.sh ensure   install (once) and start (if not answering) Engine >= 25 with
#                                     Compose v2 and buildx; idempotent
#   scripts/docker_engine.sh standin-bases
#                                     build local stand-ins for the official python and postgres
#                                     images (docker/standin) and print the compose variables
#                                     that select them, for machines that reach no image registry
#   scripts/docker_engine.sh stop     stop the daemon `ensure` started
#
# The compose file's healthcheck.start_interval needs Engine 25 or later; bookworm's docker.io is
# 20.10. Debian trixie's docker.io, docker-compose and docker-buildx install on bookworm beside
# bookworm's containerd and runc: they are fetched with `apt-get download` through an apt
# configuration of their own (the machine's apt state stays bookworm) and kept, with Docker's
# data root, under $SENSOR_LSTM_CACHE/docker, so a second run reuses the packages and the layers.
# A daemon already answering on the default socket is used as it is when it is new enough.
set -euo pipefail

project_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
home_dir=${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}
cache_dir=${SENSOR_LSTM_CACHE:-$home_dir/.cache/sensor-lstm}/docker
minimum_engine=25
# dockerd's default exec root, where it keeps the pid file of the containerd it starts.
containerd_pidfile=/var/run/docker/containerd/containerd.pid
trixie_packages=(docker.io docker-compose docker-buildx)
# What trixie's docker.io needs from bookworm, and debootstrap for the stand-in base images.
bookworm_packages=(containerd runc tini iptables debootstrap)

log() { echo "[docker-engine] $*" >&2; }

sudo_cmd() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

engine_version() { docker version --format '{{.Server.Version}}' 2>/dev/null; }

engine_ready() {
    local version
    version=$(engine_version) || return 1
    [ "${version%%.*}" -ge "$minimum_engine" ] && docker compose version >/dev/null 2>&1 &&
        docker buildx version >/dev/null 2>&1
}

installed_engine_major() {
    local version
    version=$(dpkg-query -W -f '${Version}' docker.io 2>/dev/null) || true
    echo "${version:+${version%%.*}}"
}

# The mirror the machine's apt sources already use for Debian's main archive.
debian_mirror() {
    local file sources=()
    for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [ -f "$file" ] && sources+=("$file")
    done
    ((${#sources[@]})) || return 0
    grep -hoE 'https?://[^ ]+/debian/?( |$)' "${sources[@]}" | awk 'NR == 1 {print $1}'
}

download_trixie_packages() {
    local debs=$cache_dir/debs apt_dir=$cache_dir/apt-trixie mirror
    if compgen -G "$debs/docker.io_*.deb" >/dev/null && compgen -G "$debs/docker-compose_*.deb" >/dev/null &&
       compgen -G "$debs/docker-buildx_*.deb" >/dev/null; then
        return
    fi
    mirror=$(debian_mirror)
    [ -n "$mirror" ] || { log "no Debian mirror found in /etc/apt/sources.list*"; exit 1; }
    log "downloading ${trixie_packages[*]} from trixie on $mirror"
    rm -rf "$apt_dir" "$debs.partial"
    mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$debs.partial"
    printf 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s trixie main\n' "$mirror" \
        >"$apt_dir/sources.list"
    local apt_options=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
                       -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache" -qq
                       -o APT::Sandbox::User=root)
    apt-get "${apt_options[@]}" update >&2
    (cd "$debs.partial" && apt-get "${apt_options[@]}" download "${trixie_packages[@]}" >&2)
    rm -rf "$debs" && mv "$debs.partial" "$debs"
}

install_engine() {
    local major
    major=$(installed_engine_major)
    if [ "${major:-0}" -ge "$minimum_engine" ] && [ -x /usr/libexec/docker/cli-plugins/docker-compose ] &&
       [ -x /usr/libexec/docker/cli-plugins/docker-buildx ] && command -v debootstrap >/dev/null; then
        return
    fi
    log "installing Debian packages: ${bookworm_packages[*]}"
    sudo_cmd apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive sudo_cmd apt-get install -y -qq --no-install-recommends \
        "${bookworm_packages[@]}" >&2
    download_trixie_packages
    log "installing $(cd "$cache_dir/debs" && echo *.deb)"
    # No init system starts the daemon here (`ensure` does): keep the packages' scripts from trying.
    printf '#!/bin/sh\nexit 101\n' | sudo_cmd tee /usr/sbin/policy-rc.d >/dev/null
    sudo_cmd chmod +x /usr/sbin/policy-rc.d
    DEBIAN_FRONTEND=noninteractive sudo_cmd dpkg -i "$cache_dir"/debs/*.deb >&2 || {
        sudo_cmd rm -f /usr/sbin/policy-rc.d; exit 1; }
    sudo_cmd rm -f /usr/sbin/policy-rc.d
}

# A daemon whose processes were killed without its cleanup leaves its pid files behind. Once the
# number is another process's, dockerd waits on it as if it were its own containerd and never
# answers; a pid file of dockerd's own makes it refuse to start.
clear_stale_pidfile() {
    local file=$1 program=$2 pid
    pid=$(cat "$file" 2>/dev/null) || return 0
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$program" ] && return 0
    log "removing $file: process $pid is not $program"
    sudo_cmd rm -f "$file"
}

start_daemon() {
    engine_version >/dev/null && return
    mkdir -p "$cache_dir/data"
    clear_stale_pidfile "$cache_dir/dockerd.pid" dockerd
    clear_stale_pidfile "$containerd_pidfile" containerd
    log "starting dockerd (data root $cache_dir/data, log $cache_dir/dockerd.log)"
    # Its own session, so it outlives the shell that started it.
    sudo_cmd setsid dockerd --data-root "$cache_dir/data" --pidfile "$cache_dir/dockerd.pid" \
        >>"$cache_dir/dockerd.log" 2>&1 </dev/null &
    local deadline=$((SECONDS + 60))
    until engine_version >/dev/null; do
        if ((SECONDS > deadline)); then
            tail -20 "$cache_dir/dockerd.log" >&2
            log "dockerd did not answer within 60 s"
            exit 1
        fi
        sleep 1
    done
}

ensure() {
    if engine_ready; then return; fi
    local version
    if version=$(engine_version) && [ "${version%%.*}" -lt "$minimum_engine" ]; then
        log "the running engine is $version: docker-compose.yaml needs Engine $minimum_engine or later"
        exit 1
    fi
    install_engine
    start_daemon
    engine_ready || { log "engine $(engine_version) answers, but docker compose or buildx does not"; exit 1; }
    log "Docker Engine $(engine_version), $(docker compose version --short) compose, buildx ready"
}

# A minimal debootstrapped bookworm, imported as an image, under the two stand-ins.
standin_bases() {
    ensure
    local debian=sensor-lstm-standin/debian:bookworm rootfs=$cache_dir/rootfs-bookworm
    if ! docker image inspect "$debian" >/dev/null 2>&1; then
        log "debootstrap --variant=minbase bookworm into $rootfs"
        sudo_cmd rm -rf "$rootfs"
        sudo_cmd debootstrap --variant=minbase bookworm "$rootfs" "$(debian_mirror)" >&2
        sudo_cmd tar -C "$rootfs" -c . | docker import - "$debian" >&2
        sudo_cmd rm -rf "$rootfs"
    fi
    local name
    for name in python postgres; do
        docker build --quiet --build-arg DEBIAN_BASE_IMAGE="$debian" -t "sensor-lstm-standin/$name:bookworm" \
            -f "$project_dir/docker/standin/$name.Dockerfile" "$project_dir/docker/standin" >&2
    done
    echo "SENSOR_LSTM_PYTHON_IMAGE=sensor-lstm-standin/python:bookworm"
    echo "SENSOR_LSTM_POSTGRES_IMAGE=sensor-lstm-standin/postgres:bookworm"
}

stop() {
    local pid
    pid=$(cat "$cache_dir/dockerd.pid" 2>/dev/null) || { log "no dockerd started by this script"; return; }
    sudo_cmd kill "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 1; done
    log "dockerd stopped"
}

case ${1:-} in
    ensure) ensure ;;
    standin-bases) standin_bases ;;
    stop) stop ;;
    *) echo "usage: scripts/docker_engine.sh ensure|standin-bases|stop" >&2; exit 2 ;;
esac
