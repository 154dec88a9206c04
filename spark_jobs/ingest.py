"""Ingest: raw landing CSV files of some UTC days -> typed, de-duplicated readings.

Example:
    spark-submit spark_jobs/ingest.py --lake var/lake --run-date 2026-11-25 [--days 1]

Inputs:
    <landing-dir>/sensor_readings_<YYYY-MM-DD>.csv, one file per UTC day of the run, with
    the header ``sensor_id,timestamp,reading`` (default landing dir: <lake>/landing).
Outputs (each partition replaced atomically, so reruns and backfills are idempotent):
    <lake>/readings/date=<day>/        sensor_id string, timestamp timestamp (UTC), reading double
    <lake>/quarantine/ingest/date=<day>/  source_file, line_text, reason: every rejected row
    <lake>/reports/ingest/date=<run-date>/report.json  counts; rows_read = rows_written +
                                       rows_quarantined + duplicates_dropped, checked before writing

Duplicates on (sensor_id, timestamp) keep one row: the copy from the latest-named landing file,
then the smallest raw line, so every rerun keeps the same row whatever the partitioning.
"""

from __future__ import annotations

import argparse
import logging
import re
from datetime import date, datetime, timedelta

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from spark_jobs import lake

log = logging.getLogger("ingest")

HEADER = "sensor_id,timestamp,reading"
LANDING_FILE_PATTERN = "sensor_readings_{day}.csv"
FILE_DAY = re.compile(r"sensor_readings_(\d{4}-\d{2}-\d{2})\.csv$")

# Checked in this order; a row gets the first reason that applies.
REASONS = (
    "missing_field",
    "extra_field",
    "bad_timestamp",
    "non_numeric_reading",
    "non_finite_reading",
    "outside_data_interval",
)


class NoInputError(lake.JobInputError):
    """No landing file exists for the data interval."""


def classify_lines(lines: DataFrame, start: datetime, end: datetime) -> DataFrame:
    """Parse raw lines and give each a quarantine reason, or null when it is a valid reading.

    ``lines`` has ``source_file`` and ``line_text``; header lines must already be removed.
    The result adds ``sensor_id``, ``timestamp``, ``reading`` (null where unparseable) and ``reason``.
    """
    fields = F.split(F.col("line_text"), ",", -1)
    field_count = F.size(fields)

    def field(position: int) -> Column:
        return F.trim(F.try_element_at(fields, F.lit(position)))

    sensor_id, timestamp_text, reading_text = field(1), field(2), field(3)
    timestamp = timestamp_text.try_cast("timestamp")
    reading = reading_text.try_cast("double")
    any_empty = (
        F.coalesce(sensor_id, F.lit("")) == ""
    ) | (F.coalesce(timestamp_text, F.lit("")) == "") | (F.coalesce(reading_text, F.lit("")) == "")
    reason = (
        F.when((field_count < 3) | any_empty, F.lit("missing_field"))
        .when(field_count > 3, F.lit("extra_field"))
        .when(timestamp.isNull(), F.lit("bad_timestamp"))
        .when(reading.isNull(), F.lit("non_numeric_reading"))
        .when(F.isnan(reading) | (F.abs(reading) == float("inf")), F.lit("non_finite_reading"))
        .when(
            (timestamp < F.lit(start).cast("timestamp")) | (timestamp >= F.lit(end).cast("timestamp")),
            F.lit("outside_data_interval"),
        )
    )
    return lines.select(
        "source_file",
        "line_text",
        sensor_id.alias("sensor_id"),
        timestamp.alias("timestamp"),
        reading.alias("reading"),
        reason.alias("reason"),
    )


def mark_duplicates(classified: DataFrame) -> DataFrame:
    """Add ``is_duplicate``: true for every valid row but one per (sensor_id, timestamp)."""
    # Rejected rows get a partition of their own, so they never outrank the valid copy.
    kept_copy_first = Window.partitionBy("sensor_id", "timestamp", F.col("reason").isNull()).orderBy(
        F.col("source_file").desc(), F.col("line_text").asc()
    )
    rank = F.when(F.col("reason").isNull(), F.row_number().over(kept_copy_first))
    return classified.withColumn("is_duplicate", F.coalesce(rank > 1, F.lit(False)))


def clean_readings(marked: DataFrame) -> DataFrame:
    return marked.where(F.col("reason").isNull() & ~F.col("is_duplicate")).select(
        "sensor_id", "timestamp", "reading", F.to_date("timestamp").alias("date")
    )


def quarantined_rows(marked: DataFrame) -> DataFrame:
    file_day = F.regexp_extract("source_file", FILE_DAY.pattern, 1)
    return marked.where(F.col("reason").isNotNull()).select(
        "source_file", "line_text", "reason", F.to_date(file_day).alias("date")
    )


def count_outcomes(marked: DataFrame) -> dict:
    """Counts by outcome from one aggregation: read, valid, duplicates and each reason."""
    rows = (
        marked.groupBy(F.coalesce("reason", F.when(F.col("is_duplicate"), "duplicate").otherwise("valid")).alias("k"))
        .count()
        .collect()
    )
    by_outcome = {row["k"]: row["count"] for row in rows}
    quarantined = {reason: by_outcome.get(reason, 0) for reason in REASONS}
    return {
        "rows_read": sum(by_outcome.values()),
        "rows_written": by_outcome.get("valid", 0),
        "duplicates_dropped": by_outcome.get("duplicate", 0),
        "rows_quarantined": sum(quarantined.values()),
        "quarantined_by_reason": quarantined,
    }


def read_landing_lines(spark: SparkSession, files: list[str]) -> DataFrame:
    raw = spark.read.text(files).select(
        F.col("_metadata.file_name").alias("source_file"), F.col("value").alias("line_text")
    )
    return raw.where(F.col("line_text") != HEADER)


def landing_files(lake_fs: lake.LakeFileSystem, landing_dir: str, days: list[date]) -> list[str]:
    found = []
    for day in days:
        found.extend(lake_fs.glob(f"{landing_dir}/{LANDING_FILE_PATTERN.format(day=day.isoformat())}"))
    return found


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Ingest raw sensor CSV files into partitioned Parquet.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--lake", required=True, help="root of the data lake (folder or Hadoop URI)")
    parser.add_argument("--landing-dir", help="where the raw files land; default <lake>/landing")
    parser.add_argument("--run-date", type=date.fromisoformat, required=True, help="first UTC day to ingest")
    parser.add_argument("--days", type=int, default=1, help="number of UTC days from the run date")
    parser.add_argument(
        "--allow-empty",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="succeed, logging 'no data', when no landing file exists for the days (default: fail)",
    )
    return parser.parse_args(argv)


def run(spark: SparkSession, args: argparse.Namespace) -> dict:
    if args.days < 1:
        raise lake.JobInputError(f"--days must be at least 1, got {args.days}")
    run_day = args.run_date
    days = [run_day + timedelta(days=offset) for offset in range(args.days)]
    start, end = lake.utc_day_start(days[0]), lake.utc_day_start(days[-1] + timedelta(days=1))
    landing_dir = args.landing_dir or lake.dataset_path(args.lake, "landing")
    lake_fs = lake.LakeFileSystem(spark, args.lake)
    files = landing_files(lake_fs, landing_dir, days)
    interval = f"{start.isoformat()} to {end.isoformat()}"
    if not files:
        if not args.allow_empty:
            raise NoInputError(f"no landing files in {landing_dir} for {interval}")
        log.warning("no data: no landing files in %s for %s; nothing written", landing_dir, interval)
        report = {"status": "no_data", "data_interval": interval, "files": []}
        lake.write_report(lake_fs, args.lake, "ingest", run_day, report)
        return report

    marked = mark_duplicates(
        classify_lines(read_landing_lines(spark, files), start, end)
    ).persist()
    counts = count_outcomes(marked)

    partitions = [lake.partition_dir(day) for day in days]
    run_key = run_day.isoformat()
    outputs = {
        "readings": (lake.dataset_path(args.lake, "readings"), clean_readings(marked), ["sensor_id", "timestamp"]),
        "quarantine": (lake.dataset_path(args.lake, "quarantine/ingest"), quarantined_rows(marked), ["source_file"]),
    }
    staged = {}
    for name, (dataset, frame, sort_columns) in outputs.items():
        lake.clear_stale_staging(lake_fs, dataset, run_key)
        staged[name] = lake.new_staging_path(dataset, run_key)
        frame.repartition("date").sortWithinPartitions(*sort_columns).write.partitionBy("date").parquet(staged[name])

    # Count what really reached storage (with the schema given, since an empty write has no file).
    written, quarantined = (
        spark.read.schema(outputs[name][1].schema).parquet(staged[name]).count() for name in ("readings", "quarantine")
    )
    if (written, quarantined) != (counts["rows_written"], counts["rows_quarantined"]):
        raise RuntimeError(f"staged output does not match the counts: {written=}, {quarantined=}, {counts=}")
    if counts["rows_read"] != written + quarantined + counts["duplicates_dropped"]:
        raise RuntimeError(f"rows do not add up: {counts}")

    for name, (dataset, _, _) in outputs.items():
        lake.swap_in_partitions(lake_fs, staged[name], dataset, partitions)
    marked.unpersist()

    report = {
        "status": "ok",
        "data_interval": interval,
        "files": [path.rsplit("/", 1)[-1] for path in files],
        "partitions": partitions,
        **counts,
    }
    report_path = lake.write_report(lake_fs, args.lake, "ingest", run_day, report)
    log.info(
        "ingest %s: read %d, written %d, quarantined %d %s, duplicates dropped %d; report %s",
        interval,
        counts["rows_read"],
        counts["rows_written"],
        counts["rows_quarantined"],
        {reason: n for reason, n in counts["quarantined_by_reason"].items() if n},
        counts["duplicates_dropped"],
        report_path,
    )
    return report


def main(argv: list[str] | None = None) -> None:
    lake.run_job("ingest", parse_args, run, argv)


if __name__ == "__main__":
    main()
