"""Forecasts, the pipeline's product: the champion model on every sensor's latest readings.

Example:
    spark-submit spark_jobs/forecast.py --lake var/lake --run-date 2026-11-25 --steps 12

Inputs:
    the registered model --model-name at --alias (``champion``), pinned to the version the alias
    names when the job starts; its ``run_day`` tag is the day it was trained on, and from that day:
    <lake>/reports/prepare_sequences/date=<trained day>/report.json  seq_len, horizon, sampling interval
    <lake>/sequence_stats/date=<trained day>/  the statistics its inputs were normalized with
    <lake>/readings/date=<day>/ for the run day and the days before it that a window may reach into
Outputs (the run day's partition replaced atomically):
    <lake>/forecasts/date=<run-date>/
        sensor_id, issued_at (the sensor's last reading, UTC), step (1..--steps), target_time
        (issued_at + step sampling intervals), forecast (original units), model_name, model_version
    <lake>/reports/forecast/date=<run-date>/report.json  the model, sensors forecast, and every
        sensor not forecast with its reason (NOT_FORECAST)
While no version holds the alias (none has passed evaluate's quality gate yet), the job succeeds
with status ``no_champion`` in the report and a warning, and the day has no forecasts partition.

A sensor is forecast from its readings up to the run day's end, when its last seq_len + horizon - 1
readings are at most one sampling interval apart (prepare_sequences' segments) and the last is on
the run day. The model forecasts ``horizon`` steps ahead, so the window ending ``horizon - k``
readings before the last forecasts step k directly, for k up to the horizon; further steps are
recursive: forecasts join the series as if read, and the windows that end on them forecast the
next ``horizon`` steps. Each round is one pass of MLflow's Spark UDF over every sensor's windows.
"""

from __future__ import annotations

import argparse
import logging
import math
from collections.abc import Callable
from datetime import date, timedelta

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from spark_jobs import names, tracking
from spark_jobs.job import JobInputError, run_job
from spark_jobs.lake import READINGS_SCHEMA, SECONDS_PER_DAY, Lake, add_lake_arguments, utc_day_start

log = logging.getLogger("forecast")

# Why a sensor gets no forecast.
NO_STATISTICS = "not_in_the_models_training_data"  # no mean and std to normalize its readings with
NO_READING_ON_RUN_DAY = "no_reading_on_run_day"
TOO_FEW_READINGS = "too_few_readings"  # fewer than a window needs, in the days read
GAP_IN_LATEST_READINGS = "gap_in_latest_readings"  # enough readings, but not one interval apart
NOT_FORECAST = (NO_STATISTICS, NO_READING_ON_RUN_DAY, TOO_FEW_READINGS, GAP_IN_LATEST_READINGS)
# A run's status: forecasts made, or none since no version holds the alias yet.
FORECAST, NO_CHAMPION = "forecast", "no_champion"

FORECASTS_SCHEMA = (
    "sensor_id string, issued_at timestamp, step int, target_time timestamp, forecast double, "
    "model_name string, model_version int"
)


def readings_needed(seq_len: int, horizon: int) -> int:
    """The latest readings a sensor needs: the window that forecasts step 1 starts at the first."""
    return seq_len + horizon - 1


def days_to_read(run_date: date, needed: int, sampling_interval_seconds: int) -> list[date]:
    """The run day and the days before it that ``needed`` readings ending on the run day can reach."""
    earlier = math.ceil(needed * sampling_interval_seconds / SECONDS_PER_DAY)
    return [run_date - timedelta(days=offset) for offset in range(earlier, -1, -1)]


def why_not_forecast(times_us: np.ndarray, needed: int, interval_us: int, run_day_start_us: int) -> str | None:
    """The reason a sensor with these latest reading times (ascending, at most ``needed``) gets no
    forecast, or None when it gets one."""
    if len(times_us) == 0 or times_us[-1] < run_day_start_us:
        return NO_READING_ON_RUN_DAY
    if len(times_us) < needed:
        return TOO_FEW_READINGS
    if (np.diff(times_us) > interval_us).any():
        return GAP_IN_LATEST_READINGS
    return None


def recursive_forecast(
    context: np.ndarray, steps: int, seq_len: int, horizon: int, predict: Callable[[np.ndarray], np.ndarray]
) -> np.ndarray:
    """Forecasts (sensors, steps) from each sensor's latest ``seq_len + horizon - 1`` values (normalized,
    one row per sensor). Step k's window ends ``horizon - k`` values after the last one known before;
    ``predict`` takes windows (n, seq_len) and returns one value each, and is called once per round
    of ``horizon`` steps."""
    sensors, known = context.shape
    if known != readings_needed(seq_len, horizon):
        raise ValueError(f"context of {known} values, not seq_len + horizon - 1 = {readings_needed(seq_len, horizon)}")
    series = np.concatenate([context, np.zeros((sensors, steps), dtype=context.dtype)], axis=1)
    for first in range(1, steps + 1, horizon):
        round_steps = range(first, min(first + horizon, steps + 1))
        # Step k's target is series[:, known - 1 + k]; its window ends horizon steps before.
        windows = np.stack([series[:, k - 1 : k - 1 + seq_len] for k in round_steps], axis=1)
        predicted = np.asarray(predict(windows.reshape(-1, seq_len)), dtype=series.dtype)
        series[:, known - 1 + first : known + round_steps[-1]] = predicted.reshape(sensors, len(round_steps))
    return series[:, known:]


def latest_readings(readings: DataFrame, needed: int) -> DataFrame:
    """Each sensor's last ``needed`` readings."""
    latest_first = Window.partitionBy("sensor_id").orderBy(F.col("timestamp").desc())
    return readings.withColumn("age", F.row_number().over(latest_first)).where(F.col("age") <= needed).drop("age")


def spark_udf_predict(spark: SparkSession, model_uri: str) -> Callable[[np.ndarray], np.ndarray]:
    """A predict function that scores windows with MLflow's Spark UDF, one Spark job per call."""
    import mlflow.pyfunc

    model = mlflow.pyfunc.spark_udf(spark, model_uri, result_type="float", env_manager="local")

    def predict(windows: np.ndarray) -> np.ndarray:
        frame = spark.createDataFrame(
            pd.DataFrame({"row": np.arange(len(windows)), "inputs": list(windows.astype(np.float32))}),
            "row long, inputs array<float>",
        )
        scored = frame.select("row", model("inputs").alias("forecast")).toPandas().sort_values("row")
        return scored["forecast"].to_numpy()

    return predict


def champion_version(client, model_name: str, alias: str):
    """The version holding ``alias``, or None when none does (only a missing model or alias means
    that: any other MLflow error is raised)."""
    version = tracking.current_champion(client, model_name, alias)
    if version is not None and "run_day" not in version.tags:
        raise JobInputError(f"{model_name} version {version.version} has no run_day tag: not this pipeline's")
    return version


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Forecast every sensor's next readings with the champion model.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_lake_arguments(parser)
    parser.add_argument("--steps", type=int, default=12, help="forecasts per sensor, one sampling interval apart")
    parser.add_argument("--model-name", default=names.MODEL_NAME, help="the registered model")
    parser.add_argument("--alias", default=names.CHAMPION_ALIAS, help="the alias of the version that forecasts")
    return parser.parse_args(argv)


def read_model_inputs(spark: SparkSession, lake: Lake, trained_day: date):
    """The trained day's prepare_sequences report and statistics (sensor -> (mean, std))."""
    prepared = lake.read_report("prepare_sequences", trained_day)
    stats_path = lake.partition("sequence_stats", trained_day)
    if not lake.exists(stats_path):
        raise JobInputError(
            f"the champion was trained on {trained_day}, but {stats_path} is missing: "
            "run prepare_sequences for that day"
        )
    stats = {row["sensor_id"]: (row["mean"], row["std"]) for row in spark.read.parquet(stats_path).collect()}
    return prepared, stats


def run(spark: SparkSession, args: argparse.Namespace) -> dict:
    import mlflow

    if args.steps < 1:
        raise JobInputError(f"--steps must be at least 1, got {args.steps}")
    lake: Lake = args.lake
    lake.restore_interrupted_swaps("forecasts", [args.run_date])
    version = champion_version(mlflow.MlflowClient(), args.model_name, args.alias)
    if version is None:
        # Not a failure of this run: no version has passed evaluate's quality gate yet. The day's
        # forecasts from an earlier attempt, made with a champion since demoted by hand, go too.
        nothing = lake.new_staging_path("forecasts", args.run_date.isoformat())
        lake.swap_in_partitions(nothing, "forecasts", [args.run_date])
        report = {
            "run_date": args.run_date.isoformat(),
            "status": NO_CHAMPION,
            "model_name": args.model_name,
            "alias": args.alias,
            "sensors_forecast": 0,
            "forecasts": 0,
        }
        lake.write_report("forecast", args.run_date, report)
        log.warning(
            "no version of %s holds the alias %s, so there are no forecasts for %s: evaluate promotes a "
            "version once one beats the naive forecasts",
            args.model_name,
            args.alias,
            args.run_date,
        )
        return report
    trained_day = date.fromisoformat(version.tags["run_day"])
    model_uri = f"models:/{args.model_name}/{version.version}"
    prepared, stats = read_model_inputs(spark, lake, trained_day)
    seq_len, horizon, interval = prepared["seq_len"], prepared["horizon"], prepared["sampling_interval_seconds"]
    needed = readings_needed(seq_len, horizon)

    reachable = days_to_read(args.run_date, needed, interval)
    with lake.readings_locked(reachable):
        days = [day for day in reachable if lake.exists(lake.partition("readings", day))]
        latest = pd.DataFrame(columns=["sensor_id", "timestamp", "value"])
        if days:
            readings = (
                spark.read.schema(READINGS_SCHEMA)
                .option("basePath", lake.dataset("readings"))
                .parquet(*(lake.partition("readings", day) for day in days))
            )
            latest = latest_readings(
                readings.select("sensor_id", "timestamp", F.col("reading").alias("value")), needed
            ).toPandas()

    run_day_start_us = int(utc_day_start(args.run_date).timestamp() * 1_000_000)
    not_forecast: dict[str, str] = {}
    contexts, origins = {}, {}
    for sensor, rows in latest.sort_values(["sensor_id", "timestamp"]).groupby("sensor_id", sort=True):
        times_us = rows["timestamp"].to_numpy(dtype="datetime64[us]").astype(np.int64)
        reason = why_not_forecast(times_us, needed, interval * 1_000_000, run_day_start_us)
        if reason is None and sensor not in stats:
            reason = NO_STATISTICS
        if reason is not None:
            not_forecast[sensor] = reason
            continue
        mean, std = stats[sensor]
        contexts[sensor] = (rows["value"].to_numpy(dtype=np.float64) - mean) / std
        origins[sensor] = rows["timestamp"].iloc[-1]
    for sensor in stats.keys() - set(latest["sensor_id"]):
        not_forecast[sensor] = NO_READING_ON_RUN_DAY

    sensors = sorted(contexts)
    rows = []
    if sensors:
        context = np.stack([contexts[sensor] for sensor in sensors]).astype(np.float32)
        normalized = recursive_forecast(context, args.steps, seq_len, horizon, spark_udf_predict(spark, model_uri))
        for index, sensor in enumerate(sensors):
            mean, std = stats[sensor]
            issued_at = pd.Timestamp(origins[sensor]).tz_localize("UTC").to_pydatetime()
            rows += [
                (
                    sensor,
                    issued_at,
                    step,
                    issued_at + timedelta(seconds=interval * step),
                    float(normalized[index, step - 1]) * std + mean,
                    args.model_name,
                    int(version.version),
                )
                for step in range(1, args.steps + 1)
            ]

    run_key = args.run_date.isoformat()
    lake.clear_stale_staging("forecasts", run_key)
    staged = lake.new_staging_path("forecasts", run_key)
    spark.createDataFrame(rows, FORECASTS_SCHEMA).withColumn("date", F.lit(args.run_date)).coalesce(
        1
    ).write.partitionBy("date").parquet(staged)
    lake.swap_in_partitions(staged, "forecasts", [args.run_date])
    reasons = {reason: sorted(s for s, why in not_forecast.items() if why == reason) for reason in NOT_FORECAST}
    report = {
        "run_date": run_key,
        "status": FORECAST,
        "model_name": args.model_name,
        "model_version": int(version.version),
        "model_uri": model_uri,
        "alias": args.alias,
        "trained_day": trained_day.isoformat(),
        "seq_len": seq_len,
        "horizon": horizon,
        "sampling_interval_seconds": interval,
        "steps": args.steps,
        "readings_days": [day.isoformat() for day in days],
        "sensors_forecast": len(sensors),
        "forecasts": len(rows),
        "sensors_not_forecast": {reason: names for reason, names in reasons.items() if names},
        "forecasts_path": lake.partition("forecasts", args.run_date),
    }
    report_path = lake.write_report("forecast", args.run_date, report)
    if not_forecast:
        log.warning(
            "%d sensors get no forecast: %s",
            len(not_forecast),
            "; ".join(f"{reason}: {', '.join(names[:5])}" for reason, names in reasons.items() if names),
        )
    log.info(
        "forecast %s: %d sensors x %d steps with %s (trained on %s); report %s",
        run_key,
        len(sensors),
        args.steps,
        model_uri,
        trained_day,
        report_path,
    )
    return report


def main(argv: list[str] | None = None) -> None:
    run_job("forecast", parse_args, run, argv)


if __name__ == "__main__":
    main()
