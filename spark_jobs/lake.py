"""Paths, dates and atomic writes shared by the jobs.

The lake is any Hadoop-compatible root (a local folder by default). Every dataset is partitioned
by ``date=YYYY-MM-DD``; a job writes its partitions into a staging folder first and then swaps
them in, so a failed attempt never leaves a partial partition visible and a retry or backfill
replaces exactly the partitions it owns.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import signal
import socket
import sys
import threading
import time as time_module
import uuid
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta, timezone
from typing import Iterable, Iterator

from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

SECONDS_PER_DAY = 86400
STAGING_DIR = "_staging"  # leading underscore: Spark's readers skip it
# The readings dataset's columns (plus its ``date`` partition), as the ingest job writes them.
READINGS_SCHEMA = "sensor_id string, timestamp timestamp, reading double"


def utc_day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.utc)


def partition_dir(day: date) -> str:
    return f"date={day.isoformat()}"


def dataset_path(lake: str, dataset: str) -> str:
    return f"{lake.rstrip('/')}/{dataset}"


class LakeFileSystem:
    """The few Hadoop FileSystem calls the jobs need, on whatever the lake URI names."""

    def __init__(self, spark: SparkSession, root: str):
        jvm = spark.sparkContext._jvm
        self._jvm = jvm
        self._path = jvm.org.apache.hadoop.fs.Path
        self._fs = self._path(root).getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())

    def exists(self, path: str) -> bool:
        return self._fs.exists(self._path(path))

    def glob(self, pattern: str) -> list[str]:
        statuses = self._fs.globStatus(self._path(pattern)) or []
        return sorted(status.getPath().toString() for status in statuses)

    def file_sizes(self, path: str) -> list[tuple[str, int]]:
        """(path below ``path``, size) of every file under it."""
        root = self._fs.getFileStatus(self._path(path)).getPath().toString().rstrip("/")
        files, listing = [], self._fs.listFiles(self._path(path), True)
        while listing.hasNext():
            status = listing.next()
            files.append((status.getPath().toString()[len(root) + 1 :], status.getLen()))
        return sorted(files)

    def digest(self, folders: dict[str, str]) -> str:
        """files_digest of the files under each named folder, e.g. a day's windows and statistics."""
        return files_digest((f"{name}/{path}", size) for name, folder in folders.items()
                            for path, size in self.file_sizes(folder))  # fmt: skip

    def read_head(self, path: str, size: int) -> bytes:
        """The file's first ``size`` bytes (fewer when it is shorter)."""
        stream = self._fs.open(self._path(path))
        try:
            head = bytearray()
            while len(head) < size and (byte := stream.read()) >= 0:
                head.append(byte)
            return bytes(head)
        finally:
            stream.close()

    def modified_seconds_ago(self, path: str) -> float:
        status = self._fs.getFileStatus(self._path(path))
        return time_module.time() - status.getModificationTime() / 1000

    def touch(self, path: str) -> None:
        self._fs.setTimes(self._path(path), int(time_module.time() * 1000), -1)

    def create_exclusive(self, path: str, text: str) -> bool:
        """Create a small file unless it exists; False when it does. Local lakes use the kernel's
        O_EXCL, which is atomic across processes (and across containers sharing a volume); other
        file systems Hadoop's create without overwrite, which is atomic on HDFS."""
        local = self._fs.getUri().getScheme() == "file"
        if local:
            local_path = self._path(path).toUri().getPath()
            os.makedirs(os.path.dirname(local_path), exist_ok=True)
            try:
                descriptor = os.open(local_path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                return False
            with os.fdopen(descriptor, "w") as stream:
                stream.write(text)
            return True
        try:
            stream = self._fs.create(self._path(path), False)
        except Exception as error:  # py4j wraps FileAlreadyExistsException
            if "FileAlreadyExistsException" in str(error):
                return False
            raise
        try:
            stream.write(bytearray(text.encode("utf-8")))
        finally:
            stream.close()
        return True

    def read_text(self, path: str) -> str:
        stream = self._fs.open(self._path(path))
        try:
            reader = self._jvm.java.io.BufferedReader(self._jvm.java.io.InputStreamReader(stream, "UTF-8"))
            return "\n".join(iter(reader.readLine, None))
        finally:
            stream.close()

    def delete(self, path: str) -> None:
        self._fs.delete(self._path(path), True)

    def rename(self, source: str, target: str) -> None:
        parent = self._path(target).getParent()
        self._fs.mkdirs(parent)
        if not self._fs.rename(self._path(source), self._path(target)):
            raise OSError(f"could not rename {source} to {target}")

    def write_text(self, path: str, text: str) -> None:
        """Write a small file so that it is never seen half-written: to a sibling, then renamed."""
        temporary = f"{path}.{uuid.uuid4().hex}.tmp"
        stream = self._fs.create(self._path(temporary), True)
        try:
            stream.write(bytearray(text.encode("utf-8")))
        finally:
            stream.close()
        if self.exists(path):
            self.delete(path)
        self.rename(temporary, path)


def new_staging_path(dataset: str, run_key: str) -> str:
    return f"{dataset}/{STAGING_DIR}/{run_key}-{uuid.uuid4().hex[:12]}"


def clear_stale_staging(lake_fs: LakeFileSystem, dataset: str, run_key: str) -> None:
    """Remove what an earlier, failed attempt of the same run left in staging."""
    for leftover in lake_fs.glob(f"{dataset}/{STAGING_DIR}/{run_key}-*"):
        log.info("removing staging left by an earlier attempt: %s", leftover)
        lake_fs.delete(leftover)


def retired_path(dataset: str, partition: str) -> str:
    return f"{dataset}/{STAGING_DIR}/retired-{partition}-{uuid.uuid4().hex[:12]}"


def swap_in_partitions(lake_fs: LakeFileSystem, staged: str, dataset: str, partitions: Iterable[str]) -> None:
    """Replace each ``dataset/<partition>`` with ``staged/<partition>``, or remove it.

    A partition the staged write did not produce (no rows) is removed, so a rerun on changed
    input never keeps rows the input no longer has. Each swap is two renames: a reader sees the
    old partition, the new one or, between the renames, none; never a half-written one. A crash
    between them leaves the old partition under ``_staging/retired-<partition>-*``, which
    ``restore_interrupted_swaps`` puts back.
    """
    for partition in partitions:
        target = f"{dataset}/{partition}"
        source = f"{staged}/{partition}"
        retired = retired_path(dataset, partition)
        if lake_fs.exists(target):
            lake_fs.rename(target, retired)
        if lake_fs.exists(source):
            lake_fs.rename(source, target)
        if lake_fs.exists(retired):
            lake_fs.delete(retired)
    lake_fs.delete(staged)


def restore_interrupted_swaps(lake_fs: LakeFileSystem, dataset: str, partitions: Iterable[str]) -> None:
    """Undo what a crash in the middle of ``swap_in_partitions`` left: a partition that was moved
    aside but never replaced comes back; an old copy whose replacement is in place goes."""
    for partition in partitions:
        target = f"{dataset}/{partition}"
        for retired in lake_fs.glob(f"{dataset}/{STAGING_DIR}/retired-{partition}-*"):
            if lake_fs.exists(target):
                log.info("removing %s, replaced by an earlier attempt", retired)
                lake_fs.delete(retired)
            else:
                log.warning("restoring %s: an earlier attempt stopped in the middle of replacing it", target)
                lake_fs.rename(retired, target)


def report_path(lake: str, job: str, day: date) -> str:
    return f"{dataset_path(lake, 'reports')}/{job}/{partition_dir(day)}/report.json"


def write_report(lake_fs: LakeFileSystem, lake: str, job: str, day: date, report: dict) -> str:
    """The job's counts for a run, as JSON keyed by the run's date; returns its path."""
    path = report_path(lake, job, day)
    lake_fs.write_text(path, json.dumps(report, indent=2, sort_keys=True, default=str) + "\n")
    return path


def read_report(lake_fs: LakeFileSystem, lake: str, job: str, day: date) -> dict:
    """What ``job`` reported for ``day``; a JobInputError when it has not run for that day."""
    path = report_path(lake, job, day)
    if not lake_fs.exists(path):
        raise JobInputError(f"no {job} report for {day} at {path}: run {job} first")
    return json.loads(lake_fs.read_text(path))


def files_digest(files: Iterable[tuple[str, int]]) -> str:
    """Names a set of files by their (path, size): what a dataset's partition held when it was read.
    A rewritten partition has new file names, so a rerun of its job changes the digest."""
    return hashlib.sha256(json.dumps(sorted(files)).encode("utf-8")).hexdigest()[:32]


LOCKS_DIR = "_locks"
# The holder of a lock touches it this often; a lock untouched for LOCK_STALE_SECONDS belongs to a
# job that died (a killed driver never releases it) and the next writer takes it over.
LOCK_HEARTBEAT_SECONDS = 5
LOCK_STALE_SECONDS = 30
# Readings of a day are swapped in by ingest and read by the jobs of any run whose lookback holds
# the day: each holds the day's readings lock while it swaps or reads, waiting this long at most
# for another's turn (runs for different days go side by side; only their shared days take turns).
READINGS_LOCK = "readings"
READINGS_WAIT_SECONDS = 900
LOCK_POLL_SECONDS = 2
EXIT_INPUT_ERROR = 2  # bad input or arguments: a retry cannot help
EXIT_BUSY = 75  # EX_TEMPFAIL: another run writes the same day; a later retry may succeed


class JobInputError(ValueError):
    """Bad input or arguments: the job reports it in one line, without a stack trace."""


class LakeBusyError(RuntimeError):
    """Another run holds the lock of a day this job writes."""


def lock_path(lake: str, job: str, day: date) -> str:
    return f"{dataset_path(lake, LOCKS_DIR)}/{job}/{partition_dir(day)}.lock"


def acquire(lake_fs: LakeFileSystem, path: str, holder: dict, wait_seconds: float = 0) -> None:
    """Take the lock at ``path``; while another holds it, wait up to ``wait_seconds`` for it."""
    deadline = time_module.monotonic() + wait_seconds
    while True:
        try:
            take(lake_fs, path, holder)
            return
        except LakeBusyError as busy:
            if time_module.monotonic() >= deadline:
                if wait_seconds:
                    raise LakeBusyError(f"waited {wait_seconds:.0f} s for its turn: {busy}") from None
                raise
            log.info("waiting for %s: %s", path, busy)
            time_module.sleep(LOCK_POLL_SECONDS)


def take(lake_fs: LakeFileSystem, path: str, holder: dict) -> None:
    text = json.dumps(holder, sort_keys=True)
    if lake_fs.create_exclusive(path, text):
        return
    try:
        idle = lake_fs.modified_seconds_ago(path)
        current = lake_fs.read_text(path)
    except Exception:  # released between the two calls: try once more
        if lake_fs.create_exclusive(path, text):
            return
        raise LakeBusyError(f"{path} is held by another run") from None
    if idle < LOCK_STALE_SECONDS:
        raise LakeBusyError(f"{path} is held by {current} (last heartbeat {idle:.0f} s ago): another run is "
                            "writing the same day; this one stops without writing")  # fmt: skip
    log.warning("taking over %s from %s, silent for %.0f s", path, current, idle)
    try:
        # A rename succeeds for one of several writers racing for the stale lock.
        lake_fs.rename(path, f"{path}.stale-{uuid.uuid4().hex[:12]}")
    except OSError:
        raise LakeBusyError(f"{path} was taken over by another run") from None
    if not lake_fs.create_exclusive(path, text):
        raise LakeBusyError(f"{path} was taken over by another run")


@contextmanager
def day_locks(lake_fs: LakeFileSystem, lake: str, job: str, days: Iterable[date], wait_seconds: float = 0) -> Iterator[None]:
    """Hold ``<lake>/_locks/<job>/date=<day>.lock`` for each day while the job runs, so two runs
    for one day (a backfill beside a manual run) never write it at once: the second fails with
    LakeBusyError and writes nothing, or with ``wait_seconds`` first waits that long for its turn.
    Days are taken in order, so two holders of overlapping days never wait for each other."""
    holder = {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "job": job,
        "airflow_run_id": os.environ.get("AIRFLOW_CTX_DAG_RUN_ID", ""),
        "task": os.environ.get("AIRFLOW_CTX_TASK_ID", ""),
        "since": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    held: list[str] = []
    stopped = threading.Event()

    def heartbeat() -> None:
        while not stopped.wait(LOCK_HEARTBEAT_SECONDS):
            for path in held:
                lake_fs.touch(path)

    try:
        for day in sorted(set(days)):
            path = lock_path(lake, job, day)
            acquire(lake_fs, path, holder, wait_seconds)
            held.append(path)
        threading.Thread(target=heartbeat, name="lake-lock-heartbeat", daemon=True).start()
        yield
    finally:
        stopped.set()
        for path in held:
            lake_fs.delete(path)
        for leftover in lake_fs.glob(f"{dataset_path(lake, LOCKS_DIR)}/{job}/*.lock.stale-*"):
            lake_fs.delete(leftover)


def readings_locked(lake_fs: LakeFileSystem, lake: str, days: Iterable[date]):
    """Hold the readings of ``days`` while swapping them in or reading them: a reader never sees
    a day between ingest's two renames, or its files deleted under it."""
    return day_locks(lake_fs, lake, READINGS_LOCK, days, wait_seconds=READINGS_WAIT_SECONDS)


def run_job(name: str, parse_args, run, argv: list[str] | None) -> None:
    """A job's ``main``: parse, run in a session holding the run's day locks, stop it. A
    JobInputError exits with code 2, a LakeBusyError with 75, each in one line on stderr."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Airflow stops a task (timeout, mark failed) with SIGTERM: exit through the finally blocks, so
    # the day's locks are released and the session stopped.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    args = parse_args(argv)
    spark = spark_session(name)
    log.info(spark_history_line(spark.sparkContext.applicationId, spark.sparkContext.getConf()))
    days = [args.run_date + timedelta(days=offset) for offset in range(max(1, getattr(args, "days", 1)))]
    try:
        with day_locks(LakeFileSystem(spark, args.lake), args.lake, name, days):
            run(spark, args)
    except JobInputError as error:
        print(f"{name} failed: {error}", file=sys.stderr)
        sys.exit(EXIT_INPUT_ERROR)
    except LakeBusyError as error:
        print(f"{name} failed: {error}", file=sys.stderr)
        sys.exit(EXIT_BUSY)
    finally:
        spark.stop()


def spark_history_line(application_id: str, conf) -> str:
    """Where the application's Spark UI can be opened once it has ended: the history server's page
    for it (the DAG sets spark.sensorLstm.historyUrl from SENSOR_LSTM_SPARK_HISTORY_URL), or at
    least its event log. ``conf``: the application's SparkConf."""
    line = f"Spark application {application_id}"
    if conf.get("spark.eventLog.enabled", "false").lower() != "true":
        return f"{line}: no event log (spark.eventLog.enabled is off), so its Spark UI ends with it"
    history = conf.get("spark.sensorLstm.historyUrl", "").rstrip("/")
    if not history:
        return f"{line}: its event log is in {conf.get('spark.eventLog.dir', 'file:/tmp/spark-events')}, for a Spark history server"
    return f"{line}: its Spark UI, once it has ended, on the history server: {history}/history/{application_id}/jobs/"


def spark_session(app_name: str) -> SparkSession:
    """The job's session. The master and resources come from spark-submit; UTC is not optional,
    since every timestamp and partition date in the lake is UTC."""
    return (
        SparkSession.builder.appName(app_name)
        .config("spark.sql.session.timeZone", "UTC")
        # Let adaptive execution coalesce the shuffle partitions of persisted plans too; without
        # it a small day runs 200 near-empty tasks per stage.
        .config("spark.sql.optimizer.canChangeCachedPlanOutputPartitioning", "true")
        .getOrCreate()
    )
