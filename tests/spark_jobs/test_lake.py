import json
import os
import re
import signal
import subprocess
import threading
import time
from datetime import date, timedelta
from pathlib import Path

import pytest

from spark_jobs import lake
from tests.spark_jobs.test_ingest import GOOD_DAY, GOOD_READINGS, readings_of, run_ingest, write_landing

PROJECT_DIR = Path(__file__).resolve().parents[2]
DAY = date(2026, 11, 25)


class Crash(BaseException):
    """The driver dying at a chosen instant (not an Exception: nothing may catch it)."""


def test_a_crash_between_the_two_renames_of_a_swap_is_undone_by_the_retry(spark, tmp_path, monkeypatch):
    write_landing(tmp_path, "2026-11-25", *GOOD_DAY)
    run_ingest(spark, tmp_path, "2026-11-25")
    write_landing(tmp_path, "2026-11-25", "s9,2026-11-25T00:00:00Z,9.0")
    rename = lake.LakeFileSystem.rename

    def crash_once_the_old_partition_is_aside(self, source, target):
        rename(self, source, target)
        if "/retired-date=2026-11-25-" in target:
            raise Crash()

    monkeypatch.setattr(lake.LakeFileSystem, "rename", crash_once_the_old_partition_is_aside)
    with pytest.raises(Crash):
        run_ingest(spark, tmp_path, "2026-11-25")
    monkeypatch.undo()
    assert not (tmp_path / "readings" / "date=2026-11-25").exists()
    [retired] = (tmp_path / "readings" / "_staging").glob("retired-*")
    assert retired.name.startswith("retired-date=2026-11-25-")

    # The retry gets a delivery it must refuse: the day is back as it was, nothing left aside.
    (tmp_path / "landing" / "sensor_readings_2026-11-25.csv").write_text("sensor_id,timestamp,reading\n")
    with pytest.raises(lake.JobInputError):
        run_ingest(spark, tmp_path, "2026-11-25")
    assert readings_of(spark, tmp_path) == GOOD_READINGS
    assert list((tmp_path / "readings" / "_staging").glob("retired-*")) == []


def test_a_lock_held_by_a_live_writer_refuses_a_second_and_a_dead_writers_is_taken_over(spark, tmp_path):
    lake_fs = lake.LakeFileSystem(spark, str(tmp_path))
    path = tmp_path / "_locks" / "ingest" / "date=2026-11-25.lock"
    with lake.day_locks(lake_fs, str(tmp_path), "ingest", [DAY]):
        holder = json.loads(path.read_text())
        assert (holder["pid"], holder["host"]) == (os.getpid(), os.uname().nodename)
        with pytest.raises(lake.LakeBusyError, match=r"date=2026-11-25.lock is held by .*another run is writing"):
            with lake.day_locks(lake_fs, str(tmp_path), "ingest", [DAY]):
                pass
        # A driver killed with its lock held stops the heartbeat: after the stale time it is taken over.
        stale = time.time() - lake.LOCK_STALE_SECONDS - 1
        os.utime(path, (stale, stale))
        with lake.day_locks(lake_fs, str(tmp_path), "ingest", [DAY]):
            assert time.time() - path.stat().st_mtime < 5
    assert sorted(p.name for p in path.parent.iterdir()) == []


def test_a_second_run_for_the_same_day_fails_clearly_and_writes_nothing(spark, tmp_path):
    write_landing(tmp_path, "2026-11-25", *GOOD_DAY)
    run_ingest(spark, tmp_path, "2026-11-25")
    write_landing(tmp_path, "2026-11-25", "s9,2026-11-25T00:00:00Z,9.0")
    lake_fs = lake.LakeFileSystem(spark, str(tmp_path))
    with lake.day_locks(lake_fs, str(tmp_path), "ingest", [DAY]):
        holder = (tmp_path / "_locks" / "ingest" / "date=2026-11-25.lock").read_text()
        second = subprocess.run(
            ["spark-submit", "--master", "local[1]", "--conf", "spark.ui.enabled=false",
             str(PROJECT_DIR / "spark_jobs" / "ingest.py"), "--lake", str(tmp_path), "--run-date", "2026-11-25"],
            capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(PROJECT_DIR)},
        )  # fmt: skip
    assert second.returncode == lake.EXIT_BUSY, second.stderr[-2000:]
    # spark-submit passes a Python driver's stderr to its stdout.
    [line] = [line for line in second.stdout.splitlines() if line.startswith("ingest failed:")]
    assert re.fullmatch(
        re.escape(f"ingest failed: {tmp_path}/_locks/ingest/date=2026-11-25.lock is held by {holder} ")
        + r"\(last heartbeat \d+ s ago\): another run is writing the same day; this one stops without writing",
        line,
    )
    assert readings_of(spark, tmp_path) == GOOD_READINGS


def test_ingest_swaps_a_day_in_only_once_the_jobs_reading_it_are_done(spark, tmp_path, monkeypatch):
    write_landing(tmp_path, "2026-11-25", *GOOD_DAY)
    run_ingest(spark, tmp_path, "2026-11-25")
    write_landing(tmp_path, "2026-11-25", "s9,2026-11-25T00:00:00Z,9.0")
    lake_fs = lake.LakeFileSystem(spark, str(tmp_path))
    # Another run's prepare_sequences, whose lookback holds the day, reads for a few seconds.
    reader = lake.readings_locked(lake_fs, str(tmp_path), [DAY, DAY + timedelta(days=1)])
    reader.__enter__()
    released_at = []
    threading.Timer(4, lambda: (released_at.append(time.monotonic()), reader.__exit__(None, None, None))).start()
    run_ingest(spark, tmp_path, "2026-11-25")
    assert released_at and time.monotonic() > released_at[0]
    assert readings_of(spark, tmp_path) == [("s9", "2026-11-25T00:00:00", 9.0, "2026-11-25")]

    # A reader that never finishes: ingest gives up after the wait, and the day stays as it was.
    monkeypatch.setattr(lake, "READINGS_WAIT_SECONDS", 2)
    write_landing(tmp_path, "2026-11-25", *GOOD_DAY)
    with lake.readings_locked(lake_fs, str(tmp_path), [DAY]):
        with pytest.raises(lake.LakeBusyError, match=r"^waited 2 s for its turn: .*readings/date=2026-11-25.lock is held"):
            run_ingest(spark, tmp_path, "2026-11-25")
    assert readings_of(spark, tmp_path) == [("s9", "2026-11-25T00:00:00", 9.0, "2026-11-25")]
    assert list((tmp_path / "_locks" / "readings").iterdir()) == []


def test_jobs_reading_overlapping_days_take_turns_without_deadlock(spark, tmp_path):
    lake_fs = lake.LakeFileSystem(spark, str(tmp_path))
    order = []

    def read(name: str, days: list[date]) -> None:
        with lake.readings_locked(lake_fs, str(tmp_path), days):
            order.append(f"{name} in")
            time.sleep(1)
            order.append(f"{name} out")

    # Each asks for its days in another order: both take them in date order, so neither holds one
    # the other waits for while it waits itself.
    days = [DAY + timedelta(days=offset) for offset in range(3)]
    readers = [threading.Thread(target=read, args=("a", days)), threading.Thread(target=read, args=("b", days[::-1]))]
    for thread in readers:
        thread.start()
    for thread in readers:
        thread.join(timeout=60)
    assert sorted(order) == ["a in", "a out", "b in", "b out"]
    assert order[0][0] == order[1][0]  # one after the other


SLOW_JOB = """
import argparse, sys, time
from datetime import date
from spark_jobs import lake

def parse_args(argv):
    return argparse.Namespace(lake=sys.argv[1], run_date=date(2026, 11, 25))

def run(spark, args):
    print("running", flush=True)
    time.sleep(600)

lake.run_job("slow_job", parse_args, run, [])
"""


def test_a_job_stopped_by_airflow_with_sigterm_releases_its_lock(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(PROJECT_DIR), "PYSPARK_SUBMIT_ARGS": "--master local[1] pyspark-shell"}
    job = subprocess.Popen(["python", "-c", SLOW_JOB, str(tmp_path)], stdout=subprocess.PIPE, text=True, env=env)
    assert job.stdout.readline() == "running\n"
    lock = tmp_path / "_locks" / "slow_job" / "date=2026-11-25.lock"
    assert lock.exists()
    job.send_signal(signal.SIGTERM)
    assert job.wait(timeout=60) == 128 + signal.SIGTERM
    assert not lock.exists()


def test_file_sizes_lists_every_file_below_a_folder_by_its_relative_path(spark, tmp_path):
    (tmp_path / "day" / "split=train").mkdir(parents=True)
    (tmp_path / "day" / "split=train" / "part-0.parquet").write_bytes(b"x" * 7)
    (tmp_path / "day" / "_SUCCESS").write_bytes(b"")
    lake_fs = lake.LakeFileSystem(spark, str(tmp_path))
    assert lake_fs.file_sizes(str(tmp_path / "day")) == [("_SUCCESS", 0), ("split=train/part-0.parquet", 7)]


def test_a_files_digest_changes_with_any_file_name_or_size_and_not_with_their_order():
    files = [("split=train/part-0.parquet", 100), ("split=test/part-0.parquet", 40)]
    digest = lake.files_digest(files)
    assert len(digest) == 32 and digest == lake.files_digest(files[::-1])
    assert lake.files_digest([("split=train/part-1.parquet", 100), files[1]]) != digest
    assert lake.files_digest([("split=train/part-0.parquet", 101), files[1]]) != digest


def test_a_jobs_log_says_where_its_spark_ui_is_once_it_has_ended():
    app = "app-20261125000000-0007"
    history = {"spark.eventLog.enabled": "true", "spark.eventLog.dir": "file:///data/lake/_spark_events",
               "spark.sensorLstm.historyUrl": "http://localhost:18080/"}  # fmt: skip
    assert lake.spark_history_line(app, history) == (
        f"Spark application {app}: its Spark UI, once it has ended, on the history server: "
        f"http://localhost:18080/history/{app}/jobs/"
    )
    assert lake.spark_history_line(app, {k: v for k, v in history.items() if "historyUrl" not in k}) == (
        f"Spark application {app}: its event log is in file:///data/lake/_spark_events, for a Spark history server"
    )
    assert lake.spark_history_line(app, {}) == (
        f"Spark application {app}: no event log (spark.eventLog.enabled is off), so its Spark UI ends with it"
    )
