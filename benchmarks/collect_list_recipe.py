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

from spark_jobs import prepare_sequences as prep
from spark_jobs.job import run_job
from spark_jobs.lake import add_lake_arguments, utc_day_start

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
    days = prep.lookback_days(args.run_date, args.lookback_days)
    readings, _ = prep.read_lookback(spark, args.lake, days)
    period_start, period_end = utc_day_start(days[0]), utc_day_start(days[-1] + timedelta(days=1))
    train_cut, _ = prep.split_cuts(period_start, period_end, args.train_fraction, args.validation_fraction)
    stats = prep.training_statistics(readings, train_cut).where("train_readings > 0")
    windows = collect_list_windows(readings, stats, args.seq_len, args.horizon)
    windows.write.mode("overwrite").parquet(args.output)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_lake_arguments(parser)
    parser.add_argument("--lookback-days", type=int, required=True)
    parser.add_argument("--seq-len", type=int, required=True)
    parser.add_argument("--horizon", type=int, required=True)
    parser.add_argument("--train-fraction", type=float, default=0.7)
    parser.add_argument("--validation-fraction", type=float, default=0.15)
    parser.add_argument("--output", required=True)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    run_job("collect_list_recipe", parse_args, run, argv)


if __name__ == "__main__":
    main()
