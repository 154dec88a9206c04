"""Sequence preparation: readings of a lookback window -> normalized LSTM training windows.

Example:
    spark-submit spark_jobs/prepare_sequences.py --lake var/lake --run-date 2026-11-25 \\
        --lookback-days 3 --sampling-interval-seconds 60 --seq-len 24 --horizon 1

Inputs:
    <lake>/readings/date=<day>/ for the ``lookback-days`` days ending with ``run-date``.
Outputs (the run date's partition replaced atomically):
    <lake>/sequences/date=<run-date>/split=<train|validation|test>/part-<n>.parquet
        sensor_id, window_start, last_input_time, target_time (UTC timestamps),
        inputs array<float> (seq_len normalized readings), target float (normalized)
    <lake>/sequence_stats/date=<run-date>/
        sensor_id, mean, std, train_readings: per-sensor statistics of the training period,
        to turn normalized values back into original units: reading = value * std + mean
    <lake>/reports/prepare_sequences/date=<run-date>/report.json  windows per split, cuts

How windows are made, per sensor in time order:
  * a new segment starts wherever two consecutive readings are more than the sampling interval
    apart; no window crosses a segment boundary;
  * a window is ``seq_len`` consecutive readings; its target is the reading ``horizon`` steps
    after the window's last input, in the same segment (never one of the inputs);
  * the lookback period (its whole UTC days) is cut at two instants, at the train and the
    train + validation fractions of its span, into train, validation and test. A training
    window ends (target included) before the first cut; a validation or test window starts
    (first input included) at or after its cut. Windows that straddle a cut are dropped and
    counted, so no validation or test target falls inside the training period and none of
    their inputs were seen in training;
  * mean and standard deviation per sensor come from the training period's readings alone.

Spark shuffles the readings by sensor and sorts them by time; each task then cuts and writes its
windows with spark_jobs/window_cutter.py.
"""

from __future__ import annotations

import argparse
import logging
from datetime import date, datetime, timedelta

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from spark_jobs.job import JobInputError, run_job
from spark_jobs.lake import READINGS_SCHEMA, SECONDS_PER_DAY, Lake, add_lake_arguments, partition_name, utc_day_start
from spark_jobs.model_config import SEQ_LEN
from spark_jobs.window_cutter import SPLITS, STRADDLING, WindowCutter, seasonal_lag, write_partition_windows

log = logging.getLogger("prepare_sequences")

ONE_DAY = "day"  # the default season: one day, in readings at the sampling interval
OUTPUTS = ("sequences", "sequence_stats")


def split_cuts(start: datetime, end: datetime, train_fraction: float, validation_fraction: float) -> tuple:
    """The two instants that cut the period ``[start, end)`` into train, validation and test."""
    if not (train_fraction > 0 and validation_fraction > 0 and train_fraction + validation_fraction < 1):
        raise JobInputError(
            f"need 0 < train ({train_fraction}), 0 < validation ({validation_fraction}) and train + validation < 1"
        )
    span = end - start
    return start + span * train_fraction, start + span * (train_fraction + validation_fraction)


def training_statistics(readings: DataFrame, train_cut: datetime) -> DataFrame:
    """Per sensor: mean and population standard deviation of its readings before the train cut,
    and how many there were. A sensor without training readings gets nulls and a count of 0;
    one whose training readings are all equal gets std 1.0, so normalizing only centres it.
    ``non_finite_readings`` counts NaN and infinite readings over the whole lookback (ingest
    quarantines them; readings written by other tools may hold some).
    """
    training_reading = F.when(F.col("timestamp") < F.lit(train_cut), F.col("reading"))
    non_finite = F.isnan("reading") | (F.abs("reading") == float("inf"))
    stats = readings.groupBy("sensor_id").agg(
        F.mean(training_reading).alias("mean"),
        F.stddev_pop(training_reading).alias("std"),
        F.count(training_reading).alias("train_readings"),
        F.count(F.when(non_finite, 1)).alias("non_finite_readings"),
    )
    return stats.withColumn("std", F.when(F.col("std") > 0, F.col("std")).when(F.col("std") == 0, F.lit(1.0)))


def normalize(readings: DataFrame, stats: DataFrame) -> DataFrame:
    """Add ``value``, the reading in training standard units; sensors without statistics drop out."""
    usable = stats.where(F.col("train_readings") > 0).select("sensor_id", "mean", "std")
    return readings.join(F.broadcast(usable), "sensor_id").withColumn(
        "value", ((F.col("reading") - F.col("mean")) / F.col("std")).cast("float")
    )


def lookback_days(run_date: date, days: int) -> list[date]:
    if days < 1:
        raise JobInputError(f"lookback-days must be at least 1, got {days}")
    return [run_date - timedelta(days=offset) for offset in range(days - 1, -1, -1)]


def read_lookback(spark: SparkSession, lake: Lake, days: list[date]) -> tuple[DataFrame, list[date]]:
    """The lookback's readings, and the days among them that have no readings partition."""
    missing = [day for day in days if not lake.exists(lake.partition("readings", day))]
    if len(missing) == len(days):
        raise JobInputError(f"no readings in {lake.dataset('readings')} for {days[0]} to {days[-1]}: run ingest first")
    present = [lake.partition("readings", day) for day in days if day not in missing]
    # A given schema spares a pass over every file's footer to infer one.
    return spark.read.schema(READINGS_SCHEMA).option("basePath", lake.dataset("readings")).parquet(*present), missing


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Build normalized LSTM windows from ingested readings.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_lake_arguments(parser, run_date_help="last day of the lookback")
    parser.add_argument("--lookback-days", type=int, default=3)
    parser.add_argument("--sampling-interval-seconds", type=int, default=60)
    parser.add_argument("--seq-len", type=int, default=SEQ_LEN, help="inputs per window")
    parser.add_argument("--horizon", type=int, default=1, help="steps from the last input to the target")
    parser.add_argument("--train-fraction", type=float, default=0.7)
    parser.add_argument("--validation-fraction", type=float, default=0.15)
    parser.add_argument(
        "--seasonal-periods",
        type=parse_seasonal_periods,
        default=ONE_DAY,
        help="seasons of the seasonal naive forecasts, in readings, comma-separated; "
        f"'{ONE_DAY}': one day at the sampling interval; 'none': no seasonal naive forecast",
    )
    return parser.parse_args(argv)


def parse_seasonal_periods(text: str) -> str | tuple[int, ...]:
    if text in (ONE_DAY, "none"):
        return ONE_DAY if text == ONE_DAY else ()
    try:
        periods = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"seasonal periods are '{ONE_DAY}', 'none' or integers like 24,168, got {text!r}"
        ) from None
    if any(period < 1 for period in periods):
        raise argparse.ArgumentTypeError(f"seasonal periods must be at least 1 reading, got {text!r}")
    return periods


def seasonal_periods(requested: str | tuple[int, ...], sampling_interval_seconds: int) -> tuple[int, ...]:
    """The seasons in readings; ``ONE_DAY`` needs an interval that divides a day."""
    if requested != ONE_DAY:
        return requested
    if SECONDS_PER_DAY % sampling_interval_seconds:
        raise JobInputError(
            f"a sampling interval of {sampling_interval_seconds} s does not divide a day: set --seasonal-periods"
        )
    return (SECONDS_PER_DAY // sampling_interval_seconds,)


def run(spark: SparkSession, args: argparse.Namespace) -> dict:
    if args.sampling_interval_seconds < 1:
        raise JobInputError(f"sampling-interval-seconds must be at least 1, got {args.sampling_interval_seconds}")
    days = lookback_days(args.run_date, args.lookback_days)
    # Spark reads lazily, up to the last write: the lookback's readings are held until then.
    with args.lake.readings_locked(days):
        return cut_windows(spark, args, days)


def cut_windows(spark: SparkSession, args: argparse.Namespace, days: list[date]) -> dict:
    """The run's windows and statistics from the readings of ``days``, swapped in; its report."""
    lake: Lake = args.lake
    for dataset in OUTPUTS:
        lake.restore_interrupted_swaps(dataset, [args.run_date])
    readings, missing_days = read_lookback(spark, lake, days)
    if missing_days:
        log.warning(
            "the lookback misses %d of %d days, which have no readings: %s; windows come from the others",
            len(missing_days),
            len(days),
            ", ".join(day.isoformat() for day in missing_days),
        )
    period_start, period_end = utc_day_start(days[0]), utc_day_start(days[-1] + timedelta(days=1))
    train_cut, test_cut = split_cuts(period_start, period_end, args.train_fraction, args.validation_fraction)
    seasons = seasonal_periods(args.seasonal_periods, args.sampling_interval_seconds)
    cutter = WindowCutter(
        seq_len=args.seq_len,
        horizon=args.horizon,
        sampling_interval_seconds=args.sampling_interval_seconds,
        train_cut=train_cut,
        test_cut=test_cut,
        seasonal_periods=seasons,
    )

    stats = training_statistics(readings, train_cut).persist()
    per_sensor = stats.select("sensor_id", "train_readings", "non_finite_readings").collect()
    non_finite = {row["sensor_id"]: row["non_finite_readings"] for row in per_sensor if row["non_finite_readings"]}
    if non_finite:
        stats.unpersist()
        raise JobInputError(
            f"readings hold NaN or infinite values ({sum(non_finite.values())} of sensors {sorted(non_finite)[:5]}); "
            "re-run ingest for the lookback days, which quarantines them"
        )
    sensors_without_stats = sorted(row["sensor_id"] for row in per_sensor if row["train_readings"] == 0)
    if sensors_without_stats:
        log.warning(
            "%d sensors have no reading in the training period and get no windows: %s",
            len(sensors_without_stats),
            sensors_without_stats,
        )

    run_key = args.run_date.isoformat()
    for dataset in OUTPUTS:
        lake.clear_stale_staging(dataset, run_key)
    staged_sequences = lake.new_staging_path("sequences", run_key)
    staged_stats = lake.new_staging_path("sequence_stats", run_key)
    run_day = partition_name(args.run_date)

    sorted_values = (
        normalize(readings, stats)
        .select("sensor_id", "timestamp", "value")
        .repartition("sensor_id")
        .sortWithinPartitions("sensor_id", "timestamp")
    )
    task_counts = sorted_values.mapInArrow(
        write_partition_windows(cutter, lake, f"{staged_sequences}/{run_day}"),
        "split string, windows long, without_seasonal_naive long",
    )
    counts = {name: 0 for name in (*SPLITS, STRADDLING)}
    without_seasonal = {name: 0 for name in SPLITS}
    totals = task_counts.groupBy("split").agg(
        *(F.sum(name).alias(name) for name in ("windows", "without_seasonal_naive"))
    )
    for row in totals.collect():
        counts[row["split"]] = row["windows"]
        if row["split"] in without_seasonal:
            without_seasonal[row["split"]] = row["without_seasonal_naive"]
    # A task attempt that died mid-write (a lost executor or Python worker) leaves its temporary
    # file; the attempt that replaced it wrote the same final name.
    for leftover in lake.glob(f"{staged_sequences}/{run_day}/split=*/.part-*.tmp"):
        log.info("removing the temporary file of a failed task attempt: %s", leftover)
        lake.delete(leftover)
    stats.where(F.col("train_readings") > 0).drop("non_finite_readings").withColumn(
        "date", F.lit(args.run_date)
    ).coalesce(1).write.partitionBy("date").parquet(staged_stats)
    stats.unpersist()
    if counts["train"] == 0:
        lake.delete(staged_sequences)
        lake.delete(staged_stats)
        raise JobInputError(
            f"no training window: too little data for seq_len {args.seq_len} and horizon {args.horizon}"
        )

    lake.swap_in_partitions(staged_sequences, "sequences", [args.run_date])
    lake.swap_in_partitions(staged_stats, "sequence_stats", [args.run_date])
    report = {
        "run_date": args.run_date.isoformat(),
        "lookback_days": [day.isoformat() for day in days],
        "missing_lookback_days": [day.isoformat() for day in missing_days],
        "seq_len": args.seq_len,
        "horizon": args.horizon,
        "sampling_interval_seconds": args.sampling_interval_seconds,
        "train_cut": train_cut.isoformat(),
        "test_cut": test_cut.isoformat(),
        "sensors": len(per_sensor),
        "sensors_without_training_data": sensors_without_stats,
        "windows": {split: counts[split] for split in SPLITS},
        "windows_dropped_across_split_cuts": counts[STRADDLING],
        "seasonal_periods": list(seasons),
        "seasonal_lags": [seasonal_lag(season, args.horizon) for season in seasons],
        "windows_without_seasonal_naive": without_seasonal,
        "sequences_path": lake.partition("sequences", args.run_date),
        "stats_path": lake.partition("sequence_stats", args.run_date),
    }
    report_path = lake.write_report("prepare_sequences", args.run_date, report)
    log.info(
        "prepare_sequences %s: windows %s, %d dropped across split cuts; without a seasonal naive forecast "
        "(seasons %s readings): %s; report %s",
        args.run_date,
        report["windows"],
        counts[STRADDLING],
        list(seasons),
        without_seasonal,
        report_path,
    )
    return report


def main(argv: list[str] | None = None) -> None:
    run_job("prepare_sequences", parse_args, run, argv)


if __name__ == "__main__":
    main()
