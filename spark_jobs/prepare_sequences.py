"""Sequence preparation: readings of a lookback window -> normalized LSTM training windows.

Example:
    spark-submit spark_jobs/prepare_sequences.py --lake var/lake --run-date 2026-11-25 \\
        --lookback-days 3 --sampling-interval-seconds 60 --seq-len 24 --horizon 1

Inputs:
    <lake>/readings/date=<day>/ for the ``lookback-days`` days ending with ``run-date``.
Outputs (the run date's partition replaced atomically):
    <lake>/sequences/date=<run-date>/split=<train|validation|test>/
        sensor_id, window_start, last_input_time, target_time,
        inputs array<float> (seq_len normalized readings), target float (normalized)
    <lake>/sequence_stats/date=<run-date>/
        sensor_id, mean, std, train_readings: per-sensor statistics of the training period,
        to turn normalized values back into original units: reading = value * std + mean
    <lake>/reports/prepare_sequences/date=<run-date>/report.json  windows per split, boundaries

How windows are made, per sensor in time order:
  * a new segment starts wherever two consecutive readings are more than the sampling interval
    apart; no window crosses a segment boundary;
  * a window is ``seq_len`` consecutive readings; its target is the reading ``horizon`` steps
    after the window's last input, in the same segment (never one of the inputs);
  * the lookback period is cut at two instants into train, validation and test. A training
    window ends (target included) before the first cut; a validation or test window starts
    (first input included) at or after its cut. Windows that straddle a cut are dropped and
    counted, so no validation or test target falls inside the training period and none of
    their inputs were seen in training;
  * mean and standard deviation per sensor come from the training period's readings alone.

It uses window functions (``lead`` over each sensor's time order), which Spark evaluates in
one sort and spills to disk: memory never holds a sensor's whole history in one row or array.
"""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import date, datetime, timedelta

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from spark_jobs import lake

log = logging.getLogger("prepare_sequences")

SPLITS = ("train", "validation", "test")
STRADDLING = "straddling"  # windows across a split cut: written to staging only to be counted


def split_cuts(first: datetime, last: datetime, train_fraction: float, validation_fraction: float) -> tuple:
    """The two instants that cut ``[first, last]`` into train, validation and test periods."""
    if not (0 < train_fraction and 0 < validation_fraction and train_fraction + validation_fraction < 1):
        raise ValueError(
            f"need 0 < train ({train_fraction}), 0 < validation ({validation_fraction}) and train + validation < 1"
        )
    span = last - first
    return first + span * train_fraction, first + span * (train_fraction + validation_fraction)


def assign_segments(readings: DataFrame, sampling_interval_seconds: int) -> DataFrame:
    """Add ``segment``: a per-sensor counter that grows at every gap longer than the interval."""
    by_time = Window.partitionBy("sensor_id").orderBy("timestamp")
    gap_seconds = F.col("timestamp").cast("long") - F.lag(F.col("timestamp").cast("long")).over(by_time)
    starts_segment = F.coalesce(gap_seconds > sampling_interval_seconds, F.lit(True)).cast("int")
    return readings.withColumn("starts_segment", starts_segment).withColumn(
        "segment", F.sum("starts_segment").over(by_time.rowsBetween(Window.unboundedPreceding, 0))
    ).drop("starts_segment")


def training_statistics(readings: DataFrame, train_cut: datetime) -> DataFrame:
    """Mean and population standard deviation of each sensor's readings before the train cut.

    A sensor whose training readings are all equal gets std 1.0, so normalizing only centres it.
    """
    stats = (
        readings.where(F.col("timestamp") < F.lit(train_cut))
        .groupBy("sensor_id")
        .agg(
            F.mean("reading").alias("mean"),
            F.stddev_pop("reading").alias("std"),
            F.count("reading").alias("train_readings"),
        )
    )
    return stats.withColumn("std", F.when(F.col("std") > 0, F.col("std")).otherwise(F.lit(1.0)))


def normalize(readings: DataFrame, stats: DataFrame) -> DataFrame:
    """Add ``value``, the reading in training standard units; sensors without statistics drop out."""
    return readings.join(F.broadcast(stats.select("sensor_id", "mean", "std")), "sensor_id").withColumn(
        "value", ((F.col("reading") - F.col("mean")) / F.col("std")).cast("float")
    )


def build_windows(values: DataFrame, seq_len: int, horizon: int) -> DataFrame:
    """One row per complete window: inputs are ``seq_len`` consecutive values of one segment,
    the target the value ``horizon`` steps after the last input, in the same segment.

    ``values`` has sensor_id, timestamp, segment and value.
    """
    if seq_len < 1 or horizon < 1:
        raise ValueError(f"seq_len ({seq_len}) and horizon ({horizon}) must be at least 1")
    by_time = Window.partitionBy("sensor_id").orderBy("timestamp")
    target_offset = seq_len - 1 + horizon
    # Segments are runs in time order, so the window stays in one segment exactly when its
    # first and its target reading carry the same segment number.
    windows = values.select(
        "sensor_id",
        F.col("timestamp").alias("window_start"),
        F.lead("timestamp", seq_len - 1).over(by_time).alias("last_input_time"),
        F.lead("timestamp", target_offset).over(by_time).alias("target_time"),
        F.array(*[F.lead("value", offset).over(by_time) for offset in range(seq_len)]).alias("inputs"),
        F.lead("value", target_offset).over(by_time).alias("target"),
        (F.lead("segment", target_offset).over(by_time) == F.col("segment")).alias("in_one_segment"),
    )
    return windows.where(F.col("in_one_segment")).drop("in_one_segment")


def assign_split(windows: DataFrame, train_cut: datetime, test_cut: datetime) -> DataFrame:
    """Add ``split``; a window across a cut gets ``straddling``."""
    train_cut_col, test_cut_col = F.lit(train_cut), F.lit(test_cut)
    split = (
        F.when(F.col("target_time") < train_cut_col, F.lit("train"))
        .when((F.col("window_start") >= train_cut_col) & (F.col("target_time") < test_cut_col), F.lit("validation"))
        .when(F.col("window_start") >= test_cut_col, F.lit("test"))
        .otherwise(F.lit(STRADDLING))
    )
    return windows.withColumn("split", split)


def lookback_days(run_date: date, days: int) -> list[date]:
    if days < 1:
        raise ValueError(f"lookback-days must be at least 1, got {days}")
    return [run_date - timedelta(days=offset) for offset in range(days - 1, -1, -1)]


def read_lookback(spark: SparkSession, lake_fs: lake.LakeFileSystem, readings_path: str, days: list[date]) -> DataFrame:
    present = [
        f"{readings_path}/{lake.partition_dir(day)}"
        for day in days
        if lake_fs.exists(f"{readings_path}/{lake.partition_dir(day)}")
    ]
    if not present:
        raise ValueError(f"no readings in {readings_path} for {days[0]} to {days[-1]}: run ingest first")
    return spark.read.option("basePath", readings_path).parquet(*present).select("sensor_id", "timestamp", "reading")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Build normalized LSTM windows from ingested readings.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--lake", required=True, help="root of the data lake (folder or Hadoop URI)")
    parser.add_argument("--run-date", type=date.fromisoformat, required=True, help="last day of the lookback")
    parser.add_argument("--lookback-days", type=int, default=3)
    parser.add_argument("--sampling-interval-seconds", type=int, default=60)
    parser.add_argument("--seq-len", type=int, default=24, help="inputs per window")
    parser.add_argument("--horizon", type=int, default=1, help="steps from the last input to the target")
    parser.add_argument("--train-fraction", type=float, default=0.7)
    parser.add_argument("--validation-fraction", type=float, default=0.15)
    return parser.parse_args(argv)


def run(spark: SparkSession, args: argparse.Namespace) -> dict:
    if args.sampling_interval_seconds < 1:
        raise ValueError(f"sampling-interval-seconds must be at least 1, got {args.sampling_interval_seconds}")
    lake_fs = lake.LakeFileSystem(spark, args.lake)
    days = lookback_days(args.run_date, args.lookback_days)
    readings = read_lookback(spark, lake_fs, lake.dataset_path(args.lake, "readings"), days)

    bounds = readings.agg(F.min("timestamp").alias("first"), F.max("timestamp").alias("last")).first()
    train_cut, test_cut = split_cuts(bounds["first"], bounds["last"], args.train_fraction, args.validation_fraction)
    stats = training_statistics(readings, train_cut).persist()
    sensors = readings.select("sensor_id").distinct().count()
    sensors_without_stats = sorted(
        row["sensor_id"] for row in readings.select("sensor_id").distinct().join(stats, "sensor_id", "left_anti").collect()
    )
    if sensors_without_stats:
        log.warning(
            "%d sensors have no reading in the training period and get no windows: %s",
            len(sensors_without_stats),
            sensors_without_stats,
        )

    values = normalize(assign_segments(readings, args.sampling_interval_seconds), stats)
    windows = assign_split(build_windows(values, args.seq_len, args.horizon), train_cut, test_cut)
    run_day = lake.partition_dir(args.run_date)
    sequences = lake.dataset_path(args.lake, "sequences")
    stats_dataset = lake.dataset_path(args.lake, "sequence_stats")
    run_key = args.run_date.isoformat()
    for dataset in (sequences, stats_dataset):
        lake.clear_stale_staging(lake_fs, dataset, run_key)
    staged_sequences = lake.new_staging_path(sequences, run_key)
    staged_stats = lake.new_staging_path(stats_dataset, run_key)

    windows.withColumn("date", F.lit(args.run_date)).write.partitionBy("date", "split").parquet(staged_sequences)
    stats.withColumn("date", F.lit(args.run_date)).coalesce(1).write.partitionBy("date").parquet(staged_stats)
    stats.unpersist()

    counts = {split: 0 for split in (*SPLITS, STRADDLING)}
    if lake_fs.exists(staged_sequences):
        for row in spark.read.parquet(staged_sequences).groupBy("split").count().collect():
            counts[row["split"]] = row["count"]
    lake_fs.delete(f"{staged_sequences}/{run_day}/split={STRADDLING}")
    if counts["train"] == 0:
        raise ValueError(f"no training window: too little data for seq_len {args.seq_len} and horizon {args.horizon}")

    lake.swap_in_partitions(lake_fs, staged_sequences, sequences, [run_day])
    lake.swap_in_partitions(lake_fs, staged_stats, stats_dataset, [run_day])
    report = {
        "run_date": args.run_date.isoformat(),
        "lookback_days": [day.isoformat() for day in days],
        "seq_len": args.seq_len,
        "horizon": args.horizon,
        "sampling_interval_seconds": args.sampling_interval_seconds,
        "first_reading": bounds["first"].isoformat(),
        "last_reading": bounds["last"].isoformat(),
        "train_cut": train_cut.isoformat(),
        "test_cut": test_cut.isoformat(),
        "sensors": sensors,
        "sensors_without_training_data": sensors_without_stats,
        "windows": {split: counts[split] for split in SPLITS},
        "windows_dropped_across_split_cuts": counts[STRADDLING],
        "sequences_path": f"{sequences}/{run_day}",
        "stats_path": f"{stats_dataset}/{run_day}",
    }
    report_path = lake.write_report(lake_fs, args.lake, "prepare_sequences", args.run_date, report)
    log.info(
        "prepare_sequences %s: windows %s, %d dropped across split cuts; report %s",
        args.run_date,
        report["windows"],
        counts[STRADDLING],
        report_path,
    )
    return report


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    spark = lake.spark_session("prepare_sequences")
    try:
        run(spark, args)
    except ValueError as error:
        print(f"prepare_sequences failed: {error}", file=sys.stderr)
        sys.exit(2)
    finally:
        spark.stop()


if __name__ == "__main__":
    main()
