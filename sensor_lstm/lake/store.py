"""The lake: where every dataset, report and lock lives, and how a job replaces a day atomically.

A lake is a folder that every process of a run sees at the same path: the driver, Spark's
executors and the Horovod ranks (a local folder on one machine, a shared mount on a cluster). It is
given as a path or a ``file://`` URI; other schemes are refused when the arguments are parsed,
since the ranks read and write it with Arrow and the locks need the kernel's exclusive create.

Every dataset is partitioned by ``date=YYYY-MM-DD``. A job writes its partitions into a staging
folder first and then swaps them in, so a failed attempt never leaves a partial partition visible
and a retry or backfill replaces exactly the partitions it owns.
"""

from __future__ import annotations

import glob
import hashlib
import json
import logging
import os
import shutil
import socket
import threading
import time as time_module
import uuid
from argparse import ArgumentTypeError
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING

from sensor_lstm.errors import JobInputError, LakeBusyError
from sensor_lstm.lake.datasets import REPORTS

if TYPE_CHECKING:
    import pyarrow.fs as pafs

log = logging.getLogger(__name__)

SECONDS_PER_DAY = 86400
STAGING_DIR = "_staging"  # leading underscore: Spark's readers skip it
LOCKS_DIR = "_locks"

# The holder of a lock touches it this often; a lock untouched for LOCK_STALE_SECONDS belongs to a
# job that died (a killed driver never releases it) and the next writer takes it over. A holder
# recorded on the writer's own host whose process has ended is taken over at once.
LOCK_HEARTBEAT_SECONDS = 5
LOCK_STALE_SECONDS = 30
# Readings of a day are swapped in by ingest and read by the jobs of any run whose lookback holds
# the day: each holds the day's readings lock while it swaps or reads, waiting this long at most
# for another's turn (runs for different days go side by side; only their shared days take turns).
READINGS_LOCK = "readings"
READINGS_WAIT_SECONDS = 900
LOCK_POLL_SECONDS = 2


def holder_process_gone(holder_text: str) -> bool:
    """Whether a lock's recorded holder ran on this host and its process has ended: a driver
    killed with its lock held. A holder on another host, or one this cannot tell, counts as alive
    until its heartbeat stops (a reused pid makes a dead holder look alive, never the reverse)."""
    try:
        holder = json.loads(holder_text)
        host, pid = holder["host"], int(holder["pid"])
    except (ValueError, KeyError, TypeError):
        return False
    if host != socket.gethostname() or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


def utc_day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def partition_name(day: date) -> str:
    return f"date={day.isoformat()}"


def day_of_partition(name: str) -> date:
    return date.fromisoformat(name.removeprefix("date="))


def files_digest(files: Iterable[tuple[str, int]]) -> str:
    """Names a set of files by their (path, size): what a dataset's partition held when it was read.
    A rewritten partition has new file names, so a rerun of its job changes the digest."""
    return hashlib.sha256(json.dumps(sorted(files)).encode("utf-8")).hexdigest()[:32]


def local_root(uri: str) -> str:
    """The absolute folder a lake path or ``file:`` URI names; a JobInputError for other schemes."""
    if uri.startswith("file:"):
        path = uri.removeprefix("file:")
        # file:///a (RFC 8089) and file:/a (Hadoop's spelling) name /a; file://host/a names a host.
        if path.startswith("//"):
            host, _, rest = path[2:].partition("/")
            if host not in ("", "localhost"):
                raise JobInputError(f"lake {uri!r}: a file URI with a host ({host}) is not a local folder")
            path = "/" + rest
    elif "://" in uri:
        raise JobInputError(
            f"lake {uri!r}: only a folder every node sees at the same path (a path or a file:// URI) is "
            f"supported, not {uri.split('://', 1)[0]}://"
        )
    else:
        path = uri
    return os.path.abspath(path).rstrip("/") or "/"


def lake_argument(text: str) -> Lake:
    """The Lake a job's ``--lake`` names; argparse turns the error into one line and exit code 2."""
    try:
        return Lake(local_root(text))
    except JobInputError as error:
        raise ArgumentTypeError(str(error)) from None


@dataclass(frozen=True)
class Lake:
    """A lake's root folder, and the few file operations the jobs need on it. Picklable: the driver
    hands it to Spark tasks and Horovod ranks."""

    root: str  # absolute, without a trailing slash

    def __str__(self) -> str:
        return self.root

    # --- where things are -------------------------------------------------------------------

    def dataset(self, name: str) -> str:
        return f"{self.root}/{name}"

    def partition(self, dataset: str, day: date) -> str:
        return f"{self.dataset(dataset)}/{partition_name(day)}"

    def report_path(self, job: str, day: date) -> str:
        return f"{self.partition(f'{REPORTS}/{job}', day)}/report.json"

    def lock_path(self, job: str, day: date) -> str:
        return f"{self.dataset(LOCKS_DIR)}/{job}/{partition_name(day)}.lock"

    @property
    def arrow_filesystem(self) -> pafs.FileSystem:
        """For Arrow's readers and writers (prepare_sequences' window files, the ranks' shards).
        Arrow is imported here, not at the top, so the DAG can import this module without it."""
        import pyarrow.fs as pafs

        return pafs.LocalFileSystem()

    # --- reports ------------------------------------------------------------------------------

    def write_report(self, job: str, day: date, report: dict) -> str:
        """The job's counts for a run, as JSON keyed by the run's date; returns its path."""
        path = self.report_path(job, day)
        self.write_text(path, json.dumps(report, indent=2, sort_keys=True, default=str) + "\n")
        return path

    def read_report(self, job: str, day: date) -> dict:
        """What ``job`` reported for ``day``; a JobInputError when it has not run for that day."""
        path = self.report_path(job, day)
        if not self.exists(path):
            raise JobInputError(f"no {job} report for {day} at {path}: run {job} first")
        return json.loads(self.read_text(path))

    # --- files --------------------------------------------------------------------------------

    def exists(self, path: str) -> bool:
        return os.path.lexists(path)

    def glob(self, pattern: str) -> list[str]:
        """Paths matching a shell pattern (a pattern's part that starts with a dot matches dotfiles)."""
        return sorted(glob.glob(pattern))

    def file_sizes(self, path: str) -> list[tuple[str, int]]:
        """(path below ``path``, size) of every file under it, but Hadoop's .crc checksum files, which
        hold no data of their own."""
        root = Path(path)
        files = (file for file in root.rglob("*") if file.is_file() and not file.name.endswith(".crc"))
        return sorted((str(file.relative_to(root)), file.stat().st_size) for file in files)

    def digest(self, folders: dict[str, str]) -> str:
        """files_digest of the files under each named folder, e.g. a day's windows and statistics."""
        return files_digest(
            (f"{name}/{path}", size) for name, folder in folders.items() for path, size in self.file_sizes(folder)
        )

    def read_head(self, path: str, size: int) -> bytes:
        """The file's first ``size`` bytes (fewer when it is shorter)."""
        with open(path, "rb") as stream:
            return stream.read(size)

    def read_text(self, path: str) -> str:
        return Path(path).read_text(encoding="utf-8")

    def modified_seconds_ago(self, path: str) -> float:
        return time_module.time() - os.stat(path).st_mtime

    def touch(self, path: str) -> None:
        os.utime(path)

    def create_exclusive(self, path: str, text: str) -> bool:
        """Create a small file unless it exists; False when it does. The kernel's O_EXCL makes this
        atomic across processes, and across containers sharing a volume."""
        os.makedirs(os.path.dirname(path), exist_ok=True)
        try:
            descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
            stream.write(text)
        return True

    def write_text(self, path: str, text: str) -> None:
        """Write a small file so that it is never seen half-written: to a sibling, then renamed."""
        os.makedirs(os.path.dirname(path), exist_ok=True)
        temporary = f"{path}.{uuid.uuid4().hex}.tmp"
        Path(temporary).write_text(text, encoding="utf-8")
        os.replace(temporary, path)

    def delete(self, path: str) -> None:
        """Remove a file or a folder with everything in it; nothing when it is not there."""
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        elif os.path.lexists(path):
            os.remove(path)

    def rename(self, source: str, target: str) -> None:
        """Move ``source`` to ``target``, which must not exist (one rename: atomic on one file system)."""
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if os.path.lexists(target):
            raise OSError(f"could not rename {source} to {target}: the target exists")
        os.rename(source, target)

    # --- staging and the atomic swap ----------------------------------------------------------

    def new_staging_path(self, dataset: str, run_key: str) -> str:
        return f"{self.dataset(dataset)}/{STAGING_DIR}/{run_key}-{uuid.uuid4().hex[:12]}"

    def clear_stale_staging(self, dataset: str, run_key: str) -> None:
        """Remove what an earlier, failed attempt of the same run left in staging."""
        for leftover in self.glob(f"{self.dataset(dataset)}/{STAGING_DIR}/{run_key}-*"):
            log.info("removing staging left by an earlier attempt: %s", leftover)
            self.delete(leftover)

    def swap_in_partitions(self, staged: str, dataset: str, days: Iterable[date]) -> None:
        """Replace each day's partition of ``dataset`` with ``staged/date=<day>``, or remove it.

        A partition the staged write did not produce (no rows) is removed, so a rerun on changed
        input never keeps rows the input no longer has. Each swap is two renames: a reader sees the
        old partition, the new one or, between the renames, none; never a half-written one. A crash
        between them leaves the old partition under ``_staging/retired-<partition>-*``, which
        ``restore_interrupted_swaps`` puts back.
        """
        for day in days:
            target = self.partition(dataset, day)
            source = f"{staged}/{partition_name(day)}"
            retired = f"{self.dataset(dataset)}/{STAGING_DIR}/retired-{partition_name(day)}-{uuid.uuid4().hex[:12]}"
            if self.exists(target):
                self.rename(target, retired)
            if self.exists(source):
                self.rename(source, target)
            if self.exists(retired):
                self.delete(retired)
        self.delete(staged)

    def restore_interrupted_swaps(self, dataset: str, days: Iterable[date]) -> None:
        """Undo what a crash in the middle of ``swap_in_partitions`` left: a partition that was moved
        aside but never replaced comes back; an old copy whose replacement is in place goes."""
        for day in days:
            target = self.partition(dataset, day)
            for retired in self.glob(f"{self.dataset(dataset)}/{STAGING_DIR}/retired-{partition_name(day)}-*"):
                if self.exists(target):
                    log.info("removing %s, replaced by an earlier attempt", retired)
                    self.delete(retired)
                else:
                    log.warning("restoring %s: an earlier attempt stopped in the middle of replacing it", target)
                    self.rename(retired, target)

    # --- locks --------------------------------------------------------------------------------

    def acquire(self, path: str, holder: dict, wait_seconds: float = 0) -> None:
        """Take the lock at ``path``; while another holds it, wait up to ``wait_seconds`` for it."""
        deadline = time_module.monotonic() + wait_seconds
        while True:
            try:
                self.take(path, holder)
                return
            except LakeBusyError as busy:
                if time_module.monotonic() >= deadline:
                    if wait_seconds:
                        raise LakeBusyError(f"waited {wait_seconds:.0f} s for its turn: {busy}") from None
                    raise
                log.info("waiting for %s: %s", path, busy)
                time_module.sleep(LOCK_POLL_SECONDS)

    def take(self, path: str, holder: dict) -> None:
        text = json.dumps(holder, sort_keys=True)
        if self.create_exclusive(path, text):
            return
        try:
            idle = self.modified_seconds_ago(path)
            current = self.read_text(path)
        except OSError:  # released between the two calls: try once more
            if self.create_exclusive(path, text):
                return
            raise LakeBusyError(f"{path} is held by another run") from None
        gone = holder_process_gone(current)
        if idle < LOCK_STALE_SECONDS and not gone:
            raise LakeBusyError(
                f"{path} is held by {current} (last heartbeat {idle:.0f} s ago): another run is "
                "writing the same day; this one stops without writing"
            )
        why = "its process is gone" if gone else f"silent for {idle:.0f} s"
        log.warning("taking over %s from %s: %s", path, current, why)
        try:
            # A rename succeeds for one of several writers racing for the stale lock.
            self.rename(path, f"{path}.stale-{uuid.uuid4().hex[:12]}")
        except OSError:
            raise LakeBusyError(f"{path} was taken over by another run") from None
        if not self.create_exclusive(path, text):
            raise LakeBusyError(f"{path} was taken over by another run")

    @contextmanager
    def day_locks(self, job: str, days: Iterable[date], wait_seconds: float = 0) -> Iterator[None]:
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
            "since": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        held: list[str] = []
        stopped = threading.Event()

        def heartbeat() -> None:
            while not stopped.wait(LOCK_HEARTBEAT_SECONDS):
                for path in held:
                    self.touch(path)

        try:
            for day in sorted(set(days)):
                path = self.lock_path(job, day)
                self.acquire(path, holder, wait_seconds)
                held.append(path)
            threading.Thread(target=heartbeat, name="lake-lock-heartbeat", daemon=True).start()
            yield
        finally:
            stopped.set()
            for path in held:
                self.delete(path)
            for leftover in self.glob(f"{self.dataset(LOCKS_DIR)}/{job}/*.lock.stale-*"):
                self.delete(leftover)

    def readings_locked(self, days: Iterable[date]):
        """Hold the readings of ``days`` while swapping them in or reading them: a reader never sees
        a day between ingest's two renames, or its files deleted under it."""
        return self.day_locks(READINGS_LOCK, days, wait_seconds=READINGS_WAIT_SECONDS)
