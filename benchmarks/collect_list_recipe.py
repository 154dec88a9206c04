"""The common blog recipe for LSTM windows on Spark, kept only as the benchmark's baseline.

Each sensor's whole history is gathered into one array with ``collect_list``, a row-at-a-time
Python UDF sorts it and slices the windows, and ``explode`` turns them back into rows. It uses
the same normalization statistics and writes the same kind of output as prepare_sequences, but
it ignores gaps and split cuts, and one sensor's history must fit in one row.

Example:
    spark-submit benchmarks/collect_list_recipe.py --lake var/bench/lake --run-date 2026-11-07 \\
        --lookback-days 7 --seq-len 24 --horizon 1 --output var/bench/recipe-out
"""

from __future__ import annotations

import argparse
from datetime import timedelta

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from sensor_lstm.job import run_job
from sensor_lstm.lake import utc_day_start
from sensor_lstm.settings import job_parser
from sensor_lstm.windows import prepare, statistics

WINDOW = T.StructType(
    [
        T.StructField("window_start", T.TimestampType()),
        T.StructField("target_time", T.TimestampType()),
        T.StructField("inputs", T.ArrayType(T.FloatType())),
        T.StructField("target", T.FloatType()),
    ]
)


def collect_list_windows(readings: DataFrame, stats: DataFrame, seq_len: int, horizon: int) -> DataFrame:
    @F.udf(T.ArrayType(WINDOW))
    def slice_windows(history, mean, std):
        history = sorted(history, key=lambda point: point["timestamp"])
        values = [(point["reading"] - mean) / std for point in history]
        return [
            (
                history[i]["timestamp"],
                history[i + seq_len - 1 + horizon]["timestamp"],
                values[i : i + seq_len],
                values[i + seq_len - 1 + horizon],
            )
            for i in range(len(values) - seq_len - horizon + 1)
        ]

    histories = readings.groupBy("sensor_id").agg(F.collect_list(F.struct("timestamp", "reading")).alias("history"))
    return (
        histories.join(F.broadcast(stats), "sensor_id")
        .select("sensor_id", F.explode(slice_windows("history", "mean", "std")).alias("window"))
        .select("sensor_id", "window.*")
    )


def run(spark: SparkSession, args: argparse.Namespace) -> None:
    """Same input, statistics and window shape as prepare_sequences; writes to ``args.output``."""
    days = prepare.lookback_days(args.run_date, args.lookback_days)
    readings, _ = prepare.read_lookback(spark, args.lake, days)
    period_start, period_end = utc_day_start(days[0]), utc_day_start(days[-1] + timedelta(days=1))
    train_cut, _, _ = statistics.split_cuts(
        period_start, period_end, args.train_fraction, args.validation_fraction, args.calibration_fraction
    )
    stats = statistics.training_statistics(
        readings, train_cut, args.std_floor_absolute, args.std_floor_relative, args.sampling_interval_seconds
    ).where("train_readings > 0")
    windows = collect_list_windows(readings, stats, args.seq_len, args.horizon)
    windows.write.mode("overwrite").parquet(args.output)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """prepare_sequences' arguments, and where the windows go."""
    parser = job_parser("prepare_sequences", __doc__)
    parser.add_argument("--output", required=True, help="the windows' Parquet folder")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    run_job("collect_list_recipe", run, parse_args(argv))


if __name__ == "__main__":
    main()
