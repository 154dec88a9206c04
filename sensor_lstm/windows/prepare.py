"""The prepare_sequences stage: the lookback's readings -> the run day's normalized windows and
each sensor's statistics, swapped in atomically, and its report. spark_jobs/prepare_sequences.py
runs it; how windows are cut is sensor_lstm.windows.cutter's."""

from __future__ import annotations

import logging
from argparse import Namespace
from datetime import date, timedelta

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from sensor_lstm import names
from sensor_lstm.errors import JobInputError
from sensor_lstm.lake import SECONDS_PER_DAY, Lake, datasets, partition_name, utc_day_start
from sensor_lstm.lake.reports import IngestReport, PrepareSequencesReport
from sensor_lstm.readings.catalog import read_catalog, units
from sensor_lstm.readings.deliveries import read_readings
from sensor_lstm.readings.grid import fitting_interval, on_grid, sampling_by_sensor, slower_than_the_grid
from sensor_lstm.windows.cutter import SPLITS, STRADDLING, WindowCutter, seasonal_lag, write_partition_windows
from sensor_lstm.windows.statistics import (
    clipped_by_sensor,
    longest_runs,
    normalize,
    split_cuts,
    split_periods,
    training_statistics,
)

log = logging.getLogger("prepare_sequences")

OUTPUTS = (datasets.SEQUENCES, datasets.SEQUENCE_STATS)


def lookback_days(run_date: date, days: int) -> list[date]:
    return [run_date - timedelta(days=offset) for offset in range(days - 1, -1, -1)]


def seasonal_periods(requested: list[int] | None, sampling_interval_seconds: int) -> tuple[int, ...]:
    """The seasons in readings; None (the default) is one day, which needs an interval that divides a day."""
    if requested is not None:
        return tuple(requested)
    if SECONDS_PER_DAY % sampling_interval_seconds:
        raise JobInputError(
            f"a sampling interval of {sampling_interval_seconds} s does not divide a day: set --seasonal-periods"
        )
    return (SECONDS_PER_DAY // sampling_interval_seconds,)


def read_lookback(spark: SparkSession, lake: Lake, days: list[date]) -> tuple[DataFrame, list[date]]:
    """The lookback's readings, and the days among them that have no readings partition."""
    missing = [day for day in days if not lake.exists(lake.partition(datasets.READINGS, day))]
    if len(missing) == len(days):
        raise JobInputError(
            f"no readings in {lake.dataset(datasets.READINGS)} for {days[0]} to {days[-1]}: run ingest first"
        )
    if missing:
        log.warning(
            "the lookback misses %d of %d days, which have no readings: %s; windows come from the others",
            len(missing),
            len(days),
            ", ".join(day.isoformat() for day in missing),
        )
    return read_readings(spark, lake, [day for day in days if day not in missing]), missing


def prepare_sequences(spark: SparkSession, args: Namespace) -> PrepareSequencesReport:
    """The run day's windows and statistics from the readings of its lookback; the report."""
    days = lookback_days(args.run_date, args.lookback_days)
    # Spark reads lazily, up to the last write: the lookback's readings are held until then.
    with args.lake.readings_locked(days):
        return cut_windows(spark, args, days)


def cut_windows(spark: SparkSession, args: Namespace, days: list[date]) -> PrepareSequencesReport:
    lake: Lake = args.lake
    for dataset in OUTPUTS:
        lake.restore_interrupted_swaps(dataset, [args.run_date])
        lake.clear_stale_staging(dataset, args.run_date.isoformat())
    raw, missing_days = read_lookback(spark, lake, days)
    stale_reports = stale_ingest_reports(lake, [day for day in days if day not in missing_days])
    sampling = sensor_sampling(raw, args.sampling_interval_seconds)
    readings = on_grid(raw, args.sampling_interval_seconds, args.grid_aggregate)
    cutter = window_cutter(args, days)
    stats = training_statistics(
        readings, cutter.train_cut, args.std_floor_absolute, args.std_floor_relative, args.sampling_interval_seconds
    )
    stats = stats.persist()
    try:
        per_sensor = checked_sensors(stats)
        staged = {dataset: lake.new_staging_path(dataset, args.run_date.isoformat()) for dataset in OUTPUTS}
        normalized = normalize(readings, stats)
        counts, without_seasonal = write_windows(lake, normalized, cutter, staged, args.run_date)
        clipped = clipped_by_sensor(normalized)
        write_statistics(stats, staged[datasets.SEQUENCE_STATS], args.run_date)
    finally:
        stats.unpersist()
    empty = [split for split in SPLITS if counts[split] == 0]
    if empty:
        for path in staged.values():
            lake.delete(path)
        raise JobInputError(empty_split_cause(empty[0], readings, cutter, days, missing_days))
    for dataset in OUTPUTS:
        lake.swap_in_partitions(staged[dataset], dataset, [args.run_date])
    report = PrepareSequencesReport(
        run_date=args.run_date.isoformat(),
        lookback_days=[day.isoformat() for day in days],
        missing_lookback_days=[day.isoformat() for day in missing_days],
        seq_len=args.seq_len,
        horizon=args.horizon,
        sampling_interval_seconds=args.sampling_interval_seconds,
        train_cut=cutter.train_cut.isoformat(),
        test_cut=cutter.test_cut.isoformat(),
        calibration_cut=cutter.calibration_cut.isoformat(),
        sensors=len(per_sensor),
        sensors_without_training_data=sorted(row["sensor_id"] for row in per_sensor if row["train_readings"] == 0),
        windows={split: counts[split] for split in SPLITS},
        windows_dropped_across_split_cuts=counts[STRADDLING],
        seasonal_periods=list(cutter.seasonal_periods),
        seasonal_lags=[seasonal_lag(season, args.horizon) for season in cutter.seasonal_periods],
        windows_without_seasonal_naive=without_seasonal,
        sequences_path=lake.partition(datasets.SEQUENCES, args.run_date),
        stats_path=lake.partition(datasets.SEQUENCE_STATS, args.run_date),
        grid_aggregate=args.grid_aggregate,
        stale_ingest_reports=stale_reports,
        per_sensor=sensor_rows(sampling, per_sensor, clipped, units(read_catalog(lake))),
        sensors_slower_than_the_grid=sorted(
            sensor
            for sensor, row in sampling.items()
            if slower_than_the_grid(row["median_interval_seconds"], args.sampling_interval_seconds)
        ),
    )
    log_report(report, report.write(lake, args.run_date))
    return report


def stale_ingest_reports(lake: Lake, days: list[date]) -> list[str]:
    """The days whose ingest report no longer describes their readings, each named in a warning."""
    stale = []
    for day in days:
        if not lake.exists(lake.report_path(names.INGEST, day)):
            continue
        partitions = IngestReport.read(lake, day).stale_partitions(lake)
        if partitions:
            log.warning(
                "the ingest report for %s does not describe what %s now hold: an ingest run stopped between "
                "replacing them and writing its report; rerun ingest for %s",
                day,
                ", ".join(partitions),
                day,
            )
            stale.append(day.isoformat())
    return stale


def sensor_sampling(raw: DataFrame, interval_seconds: int) -> dict[str, dict]:
    """Each sensor's readings, grid points, merged readings and median raw interval; a warning
    for each sensor whose readings are usually further apart than the grid allows."""
    sampling = {row["sensor_id"]: row.asDict() for row in sampling_by_sensor(raw, interval_seconds).collect()}
    for sensor, row in sorted(sampling.items()):
        median = row["median_interval_seconds"]
        if slower_than_the_grid(median, interval_seconds):
            log.warning(
                "sensor %s reads every %g s (median), slower than the sampling interval of %d s: most of its "
                "grid points are gaps, where its windows break; a sampling interval of %d s would fit it",
                sensor,
                median,
                interval_seconds,
                fitting_interval(median),
            )
    return sampling


def sensor_rows(
    sampling: dict[str, dict], stats: list, clipped: dict[str, int], unit_of: dict[str, str]
) -> dict[str, dict]:
    """The report's row per sensor: its unit (from the sensor catalog), how its readings sat on the
    grid, and how normalizing treated them."""
    floored = {row["sensor_id"]: bool(row["std_floored"]) for row in stats}
    return {
        sensor: {
            "unit": unit_of.get(sensor),
            "readings": row["readings"],
            "grid_points": row["grid_points"],
            "readings_merged": row["readings_merged"],
            "median_interval_seconds": row["median_interval_seconds"],
            "std_floored": floored.get(sensor, False),
            "values_clipped": clipped.get(sensor, 0),
        }
        for sensor, row in sorted(sampling.items())
    }


def window_cutter(args: Namespace, days: list[date]) -> WindowCutter:
    """The cutter of the run's windows: the lookback's split cuts, the seasons in readings."""
    period = utc_day_start(days[0]), utc_day_start(days[-1] + timedelta(days=1))
    train_cut, calibration_cut, test_cut = split_cuts(
        *period, args.train_fraction, args.validation_fraction, args.calibration_fraction
    )
    return WindowCutter(
        seq_len=args.seq_len,
        horizon=args.horizon,
        sampling_interval_seconds=args.sampling_interval_seconds,
        train_cut=train_cut,
        test_cut=test_cut,
        calibration_cut=calibration_cut,
        seasonal_periods=seasonal_periods(args.seasonal_periods, args.sampling_interval_seconds),
    )


def empty_split_cause(
    split: str, readings: DataFrame, cutter: WindowCutter, days: list[date], missing_days: list[date]
) -> str:
    """Why ``split`` has no window, in one line: the lookback reaching before the first day with
    data, a split period without readings, or windows longer than every run of grid points in it."""
    cuts = (cutter.train_cut, cutter.calibration_cut, cutter.test_cut)
    periods = split_periods(utc_day_start(days[0]), cuts, utc_day_start(days[-1] + timedelta(days=1)))
    start, end = periods[split]
    period = f"the {split} period [{start.isoformat()}, {end.isoformat()})"
    longest = longest_runs(readings, cutter.interval_us // 1_000_000, cuts).get(split, 0)
    leading_missing = next((index for index, day in enumerate(days) if day not in missing_days), len(days))
    window = f"seq_len + horizon = {cutter.span + 1} readings"
    if 0 < leading_missing < len(days) and start < utc_day_start(days[leading_missing]):
        return (
            f"no {split} window: the lookback of {len(days)} days starts on {days[0]}, but readings start on "
            f"{days[leading_missing]}, after the start of {period}; set lookback_days to at most "
            f"{len(days) - leading_missing}"
        )
    if longest == 0:
        return f"no {split} window: {period} holds no reading"
    return (
        f"no {split} window: a window of {window} is longer than every run of consecutive grid points "
        f"in {period}, the longest of which holds {longest}; shorten seq_len or horizon, or lengthen lookback_days"
    )


def checked_sensors(stats: DataFrame) -> list:
    """Each sensor's training readings; refuses non-finite readings, warns of sensors without training data."""
    per_sensor = stats.select("sensor_id", "train_readings", "non_finite_readings", "std_floored").collect()
    non_finite = {row["sensor_id"]: row["non_finite_readings"] for row in per_sensor if row["non_finite_readings"]}
    if non_finite:
        raise JobInputError(
            f"readings hold NaN or infinite values ({sum(non_finite.values())} of sensors {sorted(non_finite)[:5]}); "
            "re-run ingest for the lookback days, which quarantines them"
        )
    untrained = sorted(row["sensor_id"] for row in per_sensor if row["train_readings"] == 0)
    if untrained:
        log.warning(
            "%d sensors have no reading in the training period and get no windows: %s", len(untrained), untrained
        )
    return per_sensor


def write_windows(
    lake: Lake, normalized: DataFrame, cutter: WindowCutter, staged: dict[str, str], run_date: date
) -> tuple[dict[str, int], dict[str, int]]:
    """Cut and stage the windows, one file per split and task; their counts per split (straddling
    ones included), and per split those without a seasonal naive forecast."""
    output_dir = f"{staged[datasets.SEQUENCES]}/{partition_name(run_date)}"
    sorted_values = (
        normalized.select("sensor_id", "timestamp", "value")
        .repartition("sensor_id")
        .sortWithinPartitions("sensor_id", "timestamp")
    )
    task_counts = sorted_values.mapInArrow(
        write_partition_windows(cutter, lake, output_dir),
        "split string, windows long, without_seasonal_naive long",
    )
    totals = task_counts.groupBy("split").agg(
        *(F.sum(name).alias(name) for name in ("windows", "without_seasonal_naive"))
    )
    counts = {name: 0 for name in (*SPLITS, STRADDLING)}
    without_seasonal = {name: 0 for name in SPLITS}
    for row in totals.collect():
        counts[row["split"]] = row["windows"]
        if row["split"] in without_seasonal:
            without_seasonal[row["split"]] = row["without_seasonal_naive"]
    # A task attempt that died mid-write (a lost executor or Python worker) leaves its temporary
    # file; the attempt that replaced it wrote the same final name.
    for leftover in lake.glob(f"{output_dir}/split=*/.part-*.tmp"):
        log.info("removing the temporary file of a failed task attempt: %s", leftover)
        lake.delete(leftover)
    return counts, without_seasonal


def write_statistics(stats: DataFrame, staged: str, run_date: date) -> None:
    trained = stats.where(F.col("train_readings") > 0).drop("non_finite_readings")
    trained.withColumn("date", F.lit(run_date)).coalesce(1).write.partitionBy("date").parquet(staged)


def log_report(report: PrepareSequencesReport, path: str) -> None:
    log.info(
        "prepare_sequences %s: windows %s, %d dropped across split cuts; without a seasonal naive forecast "
        "(seasons %s readings): %s; report %s",
        report.run_date,
        report.windows,
        report.windows_dropped_across_split_cuts,
        report.seasonal_periods,
        report.windows_without_seasonal_naive,
        path,
    )
