"""The ingest stage: a day's landing file -> its readings and quarantine partitions, replaced
atomically, and its report. spark_jobs/ingest.py runs it."""

from __future__ import annotations

import logging
from argparse import Namespace
from datetime import date, timedelta

from pyspark.sql import DataFrame, SparkSession

from sensor_lstm.errors import JobInputError
from sensor_lstm.lake import Lake, datasets, day_of_partition, partition_name, utc_day_start
from sensor_lstm.lake.reports import IngestReport
from sensor_lstm.readings.gate import NoInputError, check_deliveries
from sensor_lstm.readings.landing import check_landing_bytes, landing_files, read_landing_lines
from sensor_lstm.readings.lines import Rules, classify_lines, clean_readings, quarantined_rows, resolve_duplicates

log = logging.getLogger("ingest")

OUTPUTS = (datasets.READINGS, datasets.QUARANTINE)


def ingest(spark: SparkSession, args: Namespace) -> IngestReport:
    """Ingest the landing files of ``args.days`` days from ``args.run_date``; the report."""
    if not args.reading_min < args.reading_max:
        raise JobInputError(f"--reading-min ({args.reading_min}) must be below --reading-max ({args.reading_max})")
    lake: Lake = args.lake
    days = [args.run_date + timedelta(days=offset) for offset in range(args.days)]
    rules = Rules(
        utc_day_start(days[0]),
        utc_day_start(days[-1] + timedelta(days=1)),
        args.reading_min,
        args.reading_max,
        args.max_line_chars,
        tuple(args.missing_value_sentinels),
    )
    landing_dir = args.landing_dir or lake.dataset(datasets.LANDING)
    for dataset in OUTPUTS:
        lake.restore_interrupted_swaps(dataset, days)
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
    classified = classify_lines(read_landing_lines(spark, files), rules)
    marked = resolve_duplicates(classified, args.duplicate_conflicts).persist()
    try:
        delivered, empty, counts = check_deliveries(
            marked, files, args.allow_empty_input, args.max_quarantined_fraction
        )
        # A day is replaced when its file had readings, or when another day's file had rows for it;
        # a day without either keeps what it has.
        kept_days = {date.fromisoformat(day) for day in delivered if day not in empty}
        partitions, digests = replace_partitions(spark, lake, marked, args.run_date.isoformat(), counts, kept_days)
    finally:
        marked.unpersist()
    report = IngestReport(
        status="no_data" if len(empty) == len(delivered) else "ok",
        data_interval=interval,
        files=[path.rsplit("/", 1)[-1] for path in files],
        partitions=partitions,
        partition_digests=digests,
        days_without_readings=empty,
        **counts,
    )
    log_report(report, report.write(lake, args.run_date))
    return report


def replace_partitions(
    spark: SparkSession, lake: Lake, marked: DataFrame, run_key: str, counts: dict, delivered_days: set[date]
) -> tuple[list[str], dict[str, str]]:
    """Stage both datasets, check them against the counts, swap in the delivered partitions and
    any other the staged rows fall in; returns the partitions replaced, and the digest of each
    dataset's partition (IngestReport.partition_digests)."""
    outputs = {
        datasets.READINGS: (clean_readings(marked), ["sensor_id", "timestamp"]),
        datasets.QUARANTINE: (quarantined_rows(marked), ["source_file"]),
    }
    staged = {}
    for dataset, (frame, sort_columns) in outputs.items():
        lake.clear_stale_staging(dataset, run_key)
        staged[dataset] = lake.new_staging_path(dataset, run_key)
        frame.repartition("date").sortWithinPartitions(*sort_columns).write.partitionBy("date").parquet(staged[dataset])

    # Count what really reached storage (with the schema given, since an empty write has no file).
    written, quarantined = (
        spark.read.schema(frame.schema).parquet(staged[dataset]).count() for dataset, (frame, _) in outputs.items()
    )
    expected = (counts["rows_written"], counts["rows_quarantined"] + counts["conflicts_superseded"])
    if (written, quarantined) != expected:
        raise RuntimeError(f"staged output does not match the counts: {written=}, {quarantined=}, {counts=}")
    if counts["rows_read"] != written + quarantined + counts["exact_repeats_dropped"]:
        raise RuntimeError(f"rows do not add up: {counts}")

    days = set(delivered_days)
    for dataset in outputs:
        days |= {day_of_partition(path.rsplit("/", 1)[-1]) for path in lake.glob(f"{staged[dataset]}/date=*")}
    # What each partition will hold, named before the swap: a reader of the report can tell when
    # the partition holds something else (a run killed between its swap and its report).
    digests = {
        f"{dataset}/{partition_name(day)}": lake.digest({dataset: f"{staged[dataset]}/{partition_name(day)}"})
        for dataset in outputs
        for day in sorted(days)
    }
    with lake.readings_locked(days):
        for dataset in outputs:
            lake.swap_in_partitions(staged[dataset], dataset, sorted(days))
    return [partition_name(day) for day in sorted(days)], digests


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
