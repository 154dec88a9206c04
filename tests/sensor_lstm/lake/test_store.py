import json
import os
import re
import subprocess
import threading
import time
from datetime import date, timedelta
from pathlib import Path

import pytest

from sensor_lstm import errors
from sensor_lstm.lake import store as lake
from sensor_lstm.settings import job_parser
from tests.support.landing import GOOD_DAY, GOOD_READINGS, readings_of, run_ingest, write_landing

PROJECT_DIR = Path(__file__).resolve().parents[3]
DAY = date(2026, 11, 25)


class Crash(BaseException):
    """The driver dying at a chosen instant (not an Exception: nothing may catch it)."""


def test_a_crash_between_the_two_renames_of_a_swap_is_undone_by_the_retry(spark, tmp_path, monkeypatch):
    write_landing(tmp_path, "2026-11-25", *GOOD_DAY)
    run_ingest(spark, tmp_path, "2026-11-25")
    write_landing(tmp_path, "2026-11-25", "s9,2026-11-25T00:00:00Z,9.0")
    rename = lake.Lake.rename

    def crash_once_the_old_partition_is_aside(self, source, target):
        rename(self, source, target)
        if "/retired-date=2026-11-25-" in target:
            raise Crash()

    monkeypatch.setattr(lake.Lake, "rename", crash_once_the_old_partition_is_aside)
    with pytest.raises(Crash):
        run_ingest(spark, tmp_path, "2026-11-25")
    monkeypatch.undo()
    assert not (tmp_path / "readings" / "date=2026-11-25").exists()
    [retired] = (tmp_path / "readings" / "_staging").glob("retired-*")
    assert retired.name.startswith("retired-date=2026-11-25-")

    # The retry gets a delivery it must refuse: the day is back as it was, nothing left aside.
    (tmp_path / "landing" / "sensor_readings_2026-11-25.csv").write_text("sensor_id,timestamp,reading\n")
    with pytest.raises(errors.JobInputError):
        run_ingest(spark, tmp_path, "2026-11-25")
    assert readings_of(spark, tmp_path) == GOOD_READINGS
    assert list((tmp_path / "readings" / "_staging").glob("retired-*")) == []


def test_a_lock_held_by_a_live_writer_refuses_a_second_and_a_dead_writers_is_taken_over(spark, tmp_path):
    local_lake = lake.Lake(str(tmp_path))
    path = tmp_path / "_locks" / "ingest" / "date=2026-11-25.lock"
    with local_lake.day_locks("ingest", [DAY]):
        holder = json.loads(path.read_text())
        assert (holder["pid"], holder["host"]) == (os.getpid(), os.uname().nodename)
        with (
            pytest.raises(errors.LakeBusyError, match=r"date=2026-11-25.lock is held by .*another run is writing"),
            local_lake.day_locks("ingest", [DAY]),
        ):
            pass
        # A driver killed with its lock held stops the heartbeat: after the stale time it is taken over.
        stale = time.time() - lake.LOCK_STALE_SECONDS - 1
        os.utime(path, (stale, stale))
        with local_lake.day_locks("ingest", [DAY]):
            assert time.time() - path.stat().st_mtime < 5
    assert sorted(p.name for p in path.parent.iterdir()) == []


def test_a_lock_whose_holder_on_this_host_has_ended_is_taken_over_at_once_one_elsewhere_is_not(tmp_path, caplog):
    local_lake = lake.Lake(str(tmp_path))
    path = tmp_path / "_locks" / "ingest" / "date=2026-11-25.lock"
    path.parent.mkdir(parents=True)
    ended = subprocess.run(["python", "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_here = {"host": os.uname().nodename, "pid": int(ended.stdout), "job": "ingest"}
    path.write_text(json.dumps(dead_here))  # just written: its heartbeat looks fresh
    with caplog.at_level("WARNING"), local_lake.day_locks("ingest", [DAY]):
        assert json.loads(path.read_text())["pid"] == os.getpid()
    assert f"taking over {path} from {json.dumps(dead_here)}: its process is gone" in caplog.text
    # The lock and the copy set aside on taking it over are both gone.
    assert sorted(p.name for p in path.parent.iterdir()) == []

    # The same pid recorded by another host, or a holder that cannot be read, waits for its heartbeat to stop.
    for holder in ({**dead_here, "host": "another-host"}, {"host": os.uname().nodename}, "not json"):
        path.write_text(holder if isinstance(holder, str) else json.dumps(holder))
        with pytest.raises(errors.LakeBusyError, match="another run is writing"), local_lake.day_locks("ingest", [DAY]):
            pass
    assert lake.holder_process_gone(json.dumps({"host": os.uname().nodename, "pid": os.getpid()})) is False


def test_a_second_run_for_the_same_day_fails_clearly_and_writes_nothing(spark, tmp_path):
    write_landing(tmp_path, "2026-11-25", *GOOD_DAY)
    run_ingest(spark, tmp_path, "2026-11-25")
    write_landing(tmp_path, "2026-11-25", "s9,2026-11-25T00:00:00Z,9.0")
    local_lake = lake.Lake(str(tmp_path))
    with local_lake.day_locks("ingest", [DAY]):
        holder = (tmp_path / "_locks" / "ingest" / "date=2026-11-25.lock").read_text()
        second = subprocess.run(
            [
                "spark-submit",
                "--master",
                "local[1]",
                "--conf",
                "spark.ui.enabled=false",
                str(PROJECT_DIR / "spark_jobs" / "ingest.py"),
                "--lake",
                str(tmp_path),
                "--run-date",
                "2026-11-25",
            ],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "PYTHONPATH": str(PROJECT_DIR)},
        )
    assert second.returncode == errors.EXIT_BUSY, second.stderr[-2000:]
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
    local_lake = lake.Lake(str(tmp_path))
    # Another run's prepare_sequences, whose lookback holds the day, reads for a few seconds.
    reader = local_lake.readings_locked([DAY, DAY + timedelta(days=1)])
    reader.__enter__()
    released_at = []
    threading.Timer(4, lambda: (released_at.append(time.monotonic()), reader.__exit__(None, None, None))).start()
    run_ingest(spark, tmp_path, "2026-11-25")
    assert released_at and time.monotonic() > released_at[0]
    assert readings_of(spark, tmp_path) == [("s9", "2026-11-25T00:00:00", 9.0, "2026-11-25")]

    # A reader that never finishes: ingest gives up after the wait, and the day stays as it was.
    monkeypatch.setattr(lake, "READINGS_WAIT_SECONDS", 2)
    write_landing(tmp_path, "2026-11-25", *GOOD_DAY)
    with (
        local_lake.readings_locked([DAY]),
        pytest.raises(errors.LakeBusyError, match=r"^waited 2 s for its turn: .*readings/date=2026-11-25.lock is held"),
    ):
        run_ingest(spark, tmp_path, "2026-11-25")
    assert readings_of(spark, tmp_path) == [("s9", "2026-11-25T00:00:00", 9.0, "2026-11-25")]
    assert list((tmp_path / "_locks" / "readings").iterdir()) == []


def test_jobs_reading_overlapping_days_take_turns_without_deadlock(spark, tmp_path):
    local_lake = lake.Lake(str(tmp_path))
    order = []

    def read(name: str, days: list[date]) -> None:
        with local_lake.readings_locked(days):
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


def test_file_sizes_lists_every_file_below_a_folder_by_its_relative_path(spark, tmp_path):
    (tmp_path / "day" / "split=train").mkdir(parents=True)
    (tmp_path / "day" / "split=train" / "part-0.parquet").write_bytes(b"x" * 7)
    (tmp_path / "day" / "_SUCCESS").write_bytes(b"")
    local_lake = lake.Lake(str(tmp_path))
    assert local_lake.file_sizes(str(tmp_path / "day")) == [("_SUCCESS", 0), ("split=train/part-0.parquet", 7)]


def test_a_files_digest_changes_with_any_file_name_or_size_and_not_with_their_order():
    files = [("split=train/part-0.parquet", 100), ("split=test/part-0.parquet", 40)]
    digest = lake.files_digest(files)
    assert len(digest) == 32 and digest == lake.files_digest(files[::-1])
    assert lake.files_digest([("split=train/part-1.parquet", 100), files[1]]) != digest
    assert lake.files_digest([("split=train/part-0.parquet", 101), files[1]]) != digest


@pytest.mark.parametrize(
    ("given", "root"),
    [
        ("/data/lake", "/data/lake"),
        ("/data/lake/", "/data/lake"),
        ("file:///data/lake", "/data/lake"),
        ("file:/data/lake", "/data/lake"),  # Hadoop's spelling
        ("file://localhost/data/lake", "/data/lake"),
    ],
)
def test_a_lake_is_a_folder_given_as_a_path_or_file_uri(given, root):
    assert lake.local_root(given) == root


def test_a_relative_lake_path_is_taken_from_the_working_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert lake.local_root("var/lake") == f"{tmp_path}/var/lake"


@pytest.mark.parametrize("given", ["s3a://bucket/lake", "hdfs://namenode:8020/lake", "file://otherhost/data/lake"])
def test_a_lake_on_another_file_system_is_refused_when_the_arguments_are_parsed(given, capsys):
    with pytest.raises(SystemExit) as exited:
        job_parser("ingest", "ingest").parse_args(["--lake", given, "--run-date", "2026-11-25"])
    assert exited.value.code == errors.EXIT_INPUT_ERROR
    assert f"lake {given!r}" in capsys.readouterr().err


def test_datasets_partitions_and_reports_are_named_by_the_lake(tmp_path):
    local_lake = lake.Lake(str(tmp_path))
    assert local_lake.partition("sequences", DAY) == f"{tmp_path}/sequences/date=2026-11-25"
    assert local_lake.report_path("ingest", DAY) == f"{tmp_path}/reports/ingest/date=2026-11-25/report.json"
    with pytest.raises(errors.JobInputError, match=r"^no ingest report for 2026-11-25 at .*: run ingest first$"):
        local_lake.read_report("ingest", DAY)
    local_lake.write_report("ingest", DAY, {"rows_read": 3, "day": DAY})
    assert local_lake.read_report("ingest", DAY) == {"rows_read": 3, "day": "2026-11-25"}
    assert [path.name for path in (tmp_path / "reports" / "ingest" / "date=2026-11-25").iterdir()] == ["report.json"]


def test_a_job_given_the_lake_as_a_file_uri_writes_the_same_lake(spark, tmp_path):
    write_landing(tmp_path, "2026-11-25", *GOOD_DAY)
    report = run_ingest(spark, f"file://{tmp_path}", "2026-11-25")
    assert report.rows_written == 3
    assert readings_of(spark, tmp_path) == GOOD_READINGS
    assert (tmp_path / "reports" / "ingest" / "date=2026-11-25" / "report.json").exists()
