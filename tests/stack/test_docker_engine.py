"""scripts/docker_engine.sh starts its engine again over what a killed daemon left behind."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.stack.compose_stack import engine

pytestmark = [pytest.mark.integration, pytest.mark.compose]

CACHE_DIR = Path(os.environ.get("SENSOR_LSTM_CACHE", Path.home() / ".cache" / "sensor-lstm")) / "docker"
CONTAINERD_PIDFILE = Path("/var/run/docker/containerd/containerd.pid")
ENGINE_TIMEOUT_S = 600


def engine_answers() -> bool:
    return subprocess.run(["docker", "version"], capture_output=True).returncode == 0


def test_ensure_starts_the_engine_over_pid_files_that_name_another_process():
    # The CI machine's processes were once killed between two runs: the next dockerd found the
    # numbers in its pid files taken by other processes, waited on one as its containerd, and the
    # compose tests failed at setup.
    engine("ensure", timeout=ENGINE_TIMEOUT_S)
    engine("stop", timeout=120)
    if engine_answers():
        pytest.skip("an engine this script did not start answers on the default socket")
    stranger = subprocess.Popen(["sleep", "600"])
    try:
        for pidfile in (CACHE_DIR / "dockerd.pid", CONTAINERD_PIDFILE):
            pidfile.parent.mkdir(parents=True, exist_ok=True)
            pidfile.write_text(f"{stranger.pid}\n")
        engine("ensure", timeout=ENGINE_TIMEOUT_S)
        assert engine_answers()
        assert int(CONTAINERD_PIDFILE.read_text()) != stranger.pid
        assert int((CACHE_DIR / "dockerd.pid").read_text()) != stranger.pid
        assert stranger.poll() is None, "the stranger was left alone"
    finally:
        stranger.kill()
