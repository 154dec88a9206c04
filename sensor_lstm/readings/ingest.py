"""The ingest stage: a day's landing file -> its readings and quarantine partitions, replaced
atomically, and its report. spark_jobs/ingest.py runs it."""

from __future__ import annotations

import dataclasses
import logging
from argparse import Namespace
from dataclasses import dataclass
from datetime import date, timedelta

from pyspark.sql import DataFrame, SparkSession

from sensor_lstm import names
from sensor_lstm.errors import JobInputError
from sensor_lstm.lake import Lake, datasets, partition_name, utc_day_start
from sensor_lstm.lake.reports import IngestReport
from sensor_lstm.readings.catalog import catalog_frame, read_catalog, units
from sensor_lstm.readings.deliveries import days_holding, keep_other_deliveries, read_readings
from sensor_lstm.readings.gate import NoInputError, check_deliveries
from sensor_lstm.readings.landing import check_landing_bytes, landing_files, read_landing_lines
from sensor_lstm.readings.lines import Rules, classify_lines, clean_readings, quarantined_rows, resolve_duplicates

log = logging.getLogger("ingest")

OUTPUTS = (datasets.READINGS, datasets.QUARANTINE)


@dataclass(frozen=True)
class Swapped:
    """What replace_partitions swapped in."""

    partitions: list[str]  # date=<day>, every dataset's
    digests: dict[str, str]  # IngestReport.partition_digests
    late_rows: dict[str, int]  # rows written to days before the run's, by day
    rows_already_in_the_lake: int


def ingest(spark: SparkSession, args: Namespace) -> IngestReport:
    """Ingest the landing files of ``args.days`` days from ``args.run_date``; the report."""
    if not args.reading_min < args.reading_max:
        raise JobInputError(f"--reading-min ({args.reading_min}) must be below --reading-max ({args.reading_max})")
    lake: Lake = args.lake
    days = [args.run_date + timedelta(days=offset) for offset in range(args.days)]
    late_days = [days[0] - timedelta(days=offset) for offset in range(args.max_late_days, 0, -1)]
    rules = Rules(
        utc_day_start(days[0]),
        utc_day_start(days[-1] + timedelta(days=1)),
        args.reading_min,
        args.reading_max,
        args.max_line_chars,
        tuple(args.missing_value_sentinels),
        utc_day_start(late_days[0]) if late_days else None,
        args.timestamp_zone,
    )
    landing_dir = args.landing_dir or lake.dataset(datasets.LANDING)
    for dataset in OUTPUTS:
        lake.restore_interrupted_swaps(dataset, late_days + days)
    files = landing_files(lake, landing_dir, days)
    interval = f"{rules.start.isoformat()} to {rules.end.isoformat()}"
    if not files:
        if not args.allow_empty_input:
            raise NoInputError(f"no landing files in {landing_dir} for {interval}")
        log.warning("no data: no landing files in %s for %s; nothing written", landing_dir, interval)
        report = IngestReport(status="no_data", data_interval=interval, files=[])
        report.write(lake, args.run_date)
        return report
    check_landing_bytes(lake, files)
    entries = read_catalog(lake)
    classified = classify_lines(read_landing_lines(spark, files), rules, catalog_frame(spark, entries))
    marked = resolve_duplicates(classified, args.duplicate_conflicts).persist()
    try:
        delivered, empty, counts = check_deliveries(
            marked, files, args.allow_empty_input, args.max_quarantined_fraction
        )
        # A day is replaced when its file had readings, or when another day's file had rows for it;
        # a day without either keeps what it has.
        kept_days = {date.fromisoformat(day) for day in delivered if day not in empty}
        swapped = replace_partitions(spark, lake, marked, counts, kept_days, days, late_days)
    finally:
        marked.unpersist()
    report = IngestReport(
        status="no_data" if len(empty) == len(delivered) else "ok",
        data_interval=interval,
        files=[path.rsplit("/", 1)[-1] for path in files],
        partitions=swapped.partitions,
        partition_digests=swapped.digests,
        days_without_readings=empty,
        late_rows=swapped.late_rows,
        late_rows_received=previous_late_rows_received(lake, args.run_date),
        rows_already_in_the_lake=swapped.rows_already_in_the_lake,
        units=units(entries),
        **counts,
    )
    log_report(report, report.write(lake, args.run_date))
    return report


def stage(lake: Lake, marked: DataFrame, run_key: str) -> dict[str, str]:
    """Both datasets' rows in staging; readings in a folder per day and delivery (the file's day)."""
    outputs = {
        datasets.READINGS: (clean_readings(marked), ["sensor_id", "timestamp"], ["date", "delivery"]),
        datasets.QUARANTINE: (quarantined_rows(marked), ["source_file"], ["date"]),
    }
    staged = {}
    for dataset, (frame, sort_columns, folders) in outputs.items():
        lake.clear_stale_staging(dataset, run_key)
        staged[dataset] = lake.new_staging_path(dataset, run_key)
        frame.repartition(*folders).sortWithinPartitions(*sort_columns).write.partitionBy(*folders).parquet(
            staged[dataset]
        )
    return staged


def check_staged(spark: SparkSession, staged: dict[str, str], counts: dict) -> DataFrame:
    """Count what really reached storage against the counts; the staged readings (with their
    ``date`` and ``delivery``). The schemas are given: an empty write has no file."""
    readings = spark.read.schema(f"{datasets.READINGS_SCHEMA}, date date, delivery date").parquet(
        staged[datasets.READINGS]
    )
    quarantine = spark.read.schema(f"{datasets.QUARANTINE_SCHEMA}, date date").parquet(staged[datasets.QUARANTINE])
    written, quarantined = readings.count(), quarantine.count()
    expected = (counts["rows_written"], counts["rows_quarantined"] + counts["conflicts_superseded"])
    if (written, quarantined) != expected:
        raise RuntimeError(f"staged output does not match the counts: {written=}, {quarantined=}, {counts=}")
    if counts["rows_read"] != written + quarantined + counts["exact_repeats_dropped"]:
        raise RuntimeError(f"rows do not add up: {counts}")
    return readings


def replace_partitions(
    spark: SparkSession,
    lake: Lake,
    marked: DataFrame,
    counts: dict,
    deliveries: set[date],
    run_days: list[date],
    late_days: list[date],
) -> Swapped:
    """Stage both datasets, check them against the counts, and swap in, under the days' locks, the
    partitions of the run's days, of every earlier day its rows fall in, and of every earlier day
    that held rows of these deliveries. In each readings partition only the slice of these
    deliveries is replaced (sensor_lstm.readings.deliveries); the other days' reports hear of it."""
    staged = stage(lake, marked, run_days[0].isoformat())
    readings = check_staged(spark, staged, counts)
    rows_by_day = {row["date"]: row["count"] for row in readings.groupBy("date").count().collect()}
    already = rows_already_in_the_lake(spark, lake, readings, sorted(rows_by_day), deliveries)
    held = days_holding(lake, deliveries, late_days)
    days = sorted(deliveries | set(rows_by_day) | set(held))
    with lake.readings_locked(days):
        for day in days:
            keep_other_deliveries(lake, f"{staged[datasets.READINGS]}/{partition_name(day)}", day, deliveries)
        digests = {
            f"{dataset}/{partition_name(day)}": lake.digest({dataset: f"{staged[dataset]}/{partition_name(day)}"})
            for dataset in OUTPUTS
            for day in days
        }
        for dataset in OUTPUTS:
            lake.swap_in_partitions(staged[dataset], dataset, days)
        late = {day: rows_by_day.get(day, 0) for day in days if day not in run_days}
        tell_late_days(lake, late, run_days[0], digests)
    late_rows = {day.isoformat(): n for day, n in late.items() if n}
    return Swapped([partition_name(day) for day in days], digests, late_rows, already)


def rows_already_in_the_lake(
    spark: SparkSession, lake: Lake, readings: DataFrame, days: list[date], deliveries: set[date]
) -> int:
    """How many staged readings other deliveries already hold, equal: written again to their own
    slice (so a rerun of either delivery keeps them), counted, and read once."""
    present = [day for day in days if lake.exists(lake.partition(datasets.READINGS, day))]
    if not present:
        return 0
    others = read_readings(spark, lake, present, skip_deliveries=deliveries)
    return readings.join(others, ["sensor_id", "timestamp", "reading"], "left_semi").count()


def tell_late_days(lake: Lake, late: dict[date, int], run_date: date, digests: dict[str, str]) -> None:
    """Each earlier day's report counts the late rows this run gave it, and names its new
    readings partition (IngestReport.partition_digests) so that it is not taken for stale."""
    for day, rows in late.items():
        if not lake.exists(lake.report_path(names.INGEST, day)):
            continue
        report = IngestReport.read(lake, day)
        received = {other: n for other, n in report.late_rows_received.items() if other != run_date.isoformat()}
        partition = f"{datasets.READINGS}/{partition_name(day)}"
        dataclasses.replace(
            report,
            late_rows_received=received | ({run_date.isoformat(): rows} if rows else {}),
            partition_digests=report.partition_digests | {partition: digests[partition]},
        ).write(lake, day)


def previous_late_rows_received(lake: Lake, day: date) -> dict[str, int]:
    """What later deliveries gave ``day``, by the day's last report: a rerun keeps their rows."""
    if not lake.exists(lake.report_path(names.INGEST, day)):
        return {}
    return IngestReport.read(lake, day).late_rows_received


def log_report(report: IngestReport, path: str) -> None:
    if report.days_without_readings:
        log.warning(
            "no data: the landing files for %s have no readings; their partitions are kept",
            ", ".join(report.days_without_readings),
        )
    log.info(
        "ingest %s: read %d, written %d, quarantined %d %s, exact repeats dropped %d, conflicting readings "
        "superseded by a later delivery %d; report %s",
        report.data_interval,
        report.rows_read,
        report.rows_written,
        report.rows_quarantined,
        {reason: n for reason, n in report.quarantined_by_reason.items() if n},
        report.exact_repeats_dropped,
        report.conflicts_superseded,
        path,
    )
