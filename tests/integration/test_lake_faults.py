"""Faults while prepare_sequences writes, injected for real: a Python worker killed with SIGKILL
in the middle of cutting windows, and the lake's disk full while it stages them."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from sensor_lstm.windows.prepare import prepare_sequences
from tests.support.jobs import job_args

pytestmark = pytest.mark.integration

PROJECT_DIR = Path(__file__).resolve().parents[2]
DAY = "2026-11-25"
ARGS = ["--run-date", DAY, "--lookback-days", "1", "--sampling-interval-seconds", "10", "--seq-len", "24"]


def write_day(spark, lake_dir: Path, sensors: int = 8) -> None:
    """A day at 10 s for each sensor, a ramp over the day at a level per sensor, as ingest writes it."""
    steps = 8640
    frame = spark.range(sensors * steps).selectExpr(
        f"concat('s', cast(id div {steps} as string)) as sensor_id",
        f"timestamp_seconds(unix_seconds(timestamp'{DAY} 00:00:00') + 10 * (id % {steps})) as timestamp",
        f"cast(id div {steps} as double) + (id % {steps}) / {steps} as reading",
    )
    frame.selectExpr("*", "to_date(timestamp) as date").write.partitionBy("date").parquet(str(lake_dir / "readings"))


def windows_of(spark, lake_dir: Path) -> list[tuple]:
    frame = spark.read.parquet(str(lake_dir / "sequences" / f"date={DAY}"))
    return sorted((row.split, row.sensor_id, row.window_start, row.target) for row in frame.collect())


def files_under(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


@pytest.fixture(scope="module")
def reference(spark, tmp_path_factory):
    """The windows of an undisturbed run."""
    lake_dir = tmp_path_factory.mktemp("reference")
    write_day(spark, lake_dir)
    prepare_sequences(spark, job_args("prepare_sequences", *["--lake", str(lake_dir), *ARGS]))
    return lake_dir, windows_of(spark, lake_dir)


def python_workers(parent: int) -> list[int]:
    """PySpark worker processes under ``parent``: forked by pyspark.daemon, running windows."""
    found = subprocess.run(["ps", "-ww", "-eo", "pid=,ppid=,args="], capture_output=True, text=True).stdout.splitlines()
    processes = [line.split(None, 2) for line in found]
    children = {int(pid): int(ppid) for pid, ppid, _ in processes}
    daemons = {int(pid) for pid, _, args in processes if "pyspark.daemon" in args}

    def under(pid: int) -> bool:
        while pid > 1:
            if pid == parent:
                return True
            pid = children.get(pid, 1)
        return False

    return [pid for pid, ppid in children.items() if ppid in daemons and under(pid)]


def test_a_python_worker_killed_while_cutting_windows_changes_no_window(spark, reference, tmp_path):
    _, expected = reference
    write_day(spark, tmp_path)
    log = tmp_path / "job.log"
    job = subprocess.Popen(
        [
            "spark-submit",
            "--master",
            "local[2,4]",
            "--conf",
            "spark.ui.enabled=false",
            "--conf",
            "spark.sql.shuffle.partitions=4",
            str(PROJECT_DIR / "spark_jobs" / "prepare_sequences.py"),
            "--lake",
            str(tmp_path),
            *ARGS,
        ],
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": str(PROJECT_DIR)},
    )
    killed = None
    deadline = time.monotonic() + 240
    while killed is None and job.poll() is None and time.monotonic() < deadline:
        workers = python_workers(job.pid)
        if workers:
            killed = workers[0]
            os.kill(killed, signal.SIGKILL)
        time.sleep(0.05)
    job.wait(timeout=300)
    output = log.read_text()
    assert killed is not None, "no Python worker seen: the job ended before one started\n" + output[-3000:]
    assert job.returncode == 0, output[-3000:]
    assert "Python worker exited unexpectedly" in output, output[-3000:]
    assert windows_of(spark, tmp_path) == expected
    assert [path.name for path in (tmp_path / "sequences").rglob("*.tmp")] == []


@pytest.fixture
def small_disk(tmp_path):
    """A 24 MiB tmpfs as the lake: a disk that can really fill up."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / "lake"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mount)], check=True)
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


def test_a_full_disk_while_staging_fails_the_run_and_keeps_the_old_partition(spark, reference, small_disk):
    _, expected = reference
    lake_dir = small_disk
    write_day(spark, lake_dir)
    args = job_args("prepare_sequences", *["--lake", str(lake_dir), *ARGS])
    prepare_sequences(spark, args)
    before = files_under(lake_dir / "sequences" / f"date={DAY}")

    # Leave less room than a run's windows need, then run again.
    free = os.statvfs(lake_dir).f_bavail * os.statvfs(lake_dir).f_frsize
    filler = lake_dir / "filler"
    with open(filler, "wb") as stream:
        stream.write(b"\0" * (free - 256 * 1024))
    with pytest.raises(Exception, match=r"(?i)no space left on device"):
        prepare_sequences(spark, args)
    assert files_under(lake_dir / "sequences" / f"date={DAY}") == before

    # Room again: the retry clears the failed attempt's staging and writes the same windows.
    filler.unlink()
    prepare_sequences(spark, args)
    assert windows_of(spark, lake_dir) == expected
    assert list((lake_dir / "sequences" / "_staging").iterdir()) == []
