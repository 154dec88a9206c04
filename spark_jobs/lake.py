"""Paths, dates and atomic writes shared by the jobs.

The lake is any Hadoop-compatible root (a local folder by default). Every dataset is partitioned
by ``date=YYYY-MM-DD``; a job writes its partitions into a staging folder first and then swaps
them in, so a failed attempt never leaves a partial partition visible and a retry or backfill
replaces exactly the partitions it owns.
"""

from __future__ import annotations

import json
import logging
import sys
import uuid
from datetime import date, datetime, time, timezone
from typing import Iterable

from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

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
        self._path = jvm.org.apache.hadoop.fs.Path
        self._fs = self._path(root).getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())

    def exists(self, path: str) -> bool:
        return self._fs.exists(self._path(path))

    def glob(self, pattern: str) -> list[str]:
        statuses = self._fs.globStatus(self._path(pattern)) or []
        return sorted(status.getPath().toString() for status in statuses)

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


def swap_in_partitions(lake_fs: LakeFileSystem, staged: str, dataset: str, partitions: Iterable[str]) -> None:
    """Replace each ``dataset/<partition>`` with ``staged/<partition>``, or remove it.

    A partition the staged write did not produce (no rows) is removed, so a rerun on changed
    input never keeps rows the input no longer has. Each swap is two renames: a reader sees the
    old partition, the new one or, between the renames, none; never a half-written one.
    """
    for partition in partitions:
        target = f"{dataset}/{partition}"
        source = f"{staged}/{partition}"
        retired = f"{dataset}/{STAGING_DIR}/retired-{uuid.uuid4().hex[:12]}"
        if lake_fs.exists(target):
            lake_fs.rename(target, retired)
        if lake_fs.exists(source):
            lake_fs.rename(source, target)
        if lake_fs.exists(retired):
            lake_fs.delete(retired)
    lake_fs.delete(staged)


def write_report(lake_fs: LakeFileSystem, lake: str, job: str, day: date, report: dict) -> str:
    """The job's counts for a run, as JSON keyed by the run's date; returns its path."""
    path = f"{dataset_path(lake, 'reports')}/{job}/{partition_dir(day)}/report.json"
    lake_fs.write_text(path, json.dumps(report, indent=2, sort_keys=True, default=str) + "\n")
    return path


class JobInputError(ValueError):
    """Bad input or arguments: the job reports it in one line, without a stack trace."""


def run_job(name: str, parse_args, run, argv: list[str] | None) -> None:
    """A job's ``main``: parse, run in a session, stop it; a JobInputError exits with code 2."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    spark = spark_session(name)
    try:
        run(spark, args)
    except JobInputError as error:
        print(f"{name} failed: {error}", file=sys.stderr)
        sys.exit(2)
    finally:
        spark.stop()


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
