"""The forecast stage: the champion version, pinned when the stage starts, forecasts every sensor's
next readings from its latest ones with MLflow's Spark UDF, in the units, window and statistics of
the day it was trained on; the run day's forecasts partition is swapped in and the report names
every sensor it could not forecast, and why. spark_jobs/forecast.py runs it."""

from __future__ import annotations

import logging
from argparse import Namespace
from collections.abc import Callable
from datetime import date, timedelta

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from sensor_lstm import tracking
from sensor_lstm.errors import JobInputError
from sensor_lstm.forecasting.recursive import (
    NO_READING_ON_RUN_DAY,
    NO_STATISTICS,
    NOT_FORECAST,
    days_to_read,
    readings_needed,
    recursive_forecast,
    why_not_forecast,
)
from sensor_lstm.lake import Lake, datasets, utc_day_start
from sensor_lstm.lake.reports import ForecastReport, PrepareSequencesReport
from sensor_lstm.readings.deliveries import read_readings
from sensor_lstm.readings.grid import on_grid
from sensor_lstm.settings.table import NORMALIZED_BOUND

log = logging.getLogger("forecast")

# A run's status: forecasts made, or none since no version holds the alias yet.
FORECAST, NO_CHAMPION = "forecast", "no_champion"
FORECASTS_SCHEMA = (
    "sensor_id string, issued_at timestamp, step int, target_time timestamp, forecast double, "
    "model_name string, model_version int"
)


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


def read_statistics(spark: SparkSession, lake: Lake, trained_day: date) -> dict[str, tuple[float, float]]:
    """The trained day's statistics: sensor -> (mean, std)."""
    stats_path = lake.partition(datasets.SEQUENCE_STATS, trained_day)
    if not lake.exists(stats_path):
        raise JobInputError(
            f"the champion was trained on {trained_day}, but {stats_path} is missing: "
            "run prepare_sequences for that day"
        )
    return {row["sensor_id"]: (row["mean"], row["std"]) for row in spark.read.parquet(stats_path).collect()}


def forecast(spark: SparkSession, args: Namespace) -> ForecastReport:
    """Forecast every sensor the champion can, from its readings up to the run day's end; the report."""
    import mlflow

    lake: Lake = args.lake
    lake.restore_interrupted_swaps(datasets.FORECASTS, [args.run_date])
    version = champion_version(mlflow.MlflowClient(), args.model_name, args.alias)
    if version is None:
        return no_champion(lake, args)
    trained_day = date.fromisoformat(version.tags["run_day"])
    prepared = PrepareSequencesReport.read(lake, trained_day)
    stats = read_statistics(spark, lake, trained_day)
    needed = readings_needed(prepared.seq_len, prepared.horizon)
    latest, days = read_latest(spark, lake, args.run_date, needed, prepared)
    contexts, origins, not_forecast = sensor_contexts(latest, stats, needed, prepared, args.run_date)
    model_uri = f"models:/{args.model_name}/{version.version}"
    rows = forecast_rows(spark, model_uri, contexts, origins, stats, prepared, args, int(version.version))
    write_forecasts(spark, lake, rows, args.run_date)
    reasons = {reason: sorted(s for s, why in not_forecast.items() if why == reason) for reason in NOT_FORECAST}
    report = ForecastReport(
        run_date=args.run_date.isoformat(),
        status=FORECAST,
        model_name=args.model_name,
        alias=args.alias,
        sensors_forecast=len(contexts),
        forecasts=len(rows),
        model_version=int(version.version),
        model_uri=model_uri,
        trained_day=trained_day.isoformat(),
        seq_len=prepared.seq_len,
        horizon=prepared.horizon,
        sampling_interval_seconds=prepared.sampling_interval_seconds,
        steps=args.forecast_steps,
        readings_days=[day.isoformat() for day in days],
        sensors_not_forecast={reason: sensors for reason, sensors in reasons.items() if sensors},
        forecasts_path=lake.partition(datasets.FORECASTS, args.run_date),
    )
    log_report(report, report.write(lake, args.run_date))
    return report


def no_champion(lake: Lake, args: Namespace) -> ForecastReport:
    """Not a failure of the run: no version has passed evaluate's quality gate yet. The day's
    forecasts from an earlier attempt, made with a champion since demoted by hand, go too."""
    nothing = lake.new_staging_path(datasets.FORECASTS, args.run_date.isoformat())
    lake.swap_in_partitions(nothing, datasets.FORECASTS, [args.run_date])
    report = ForecastReport(
        run_date=args.run_date.isoformat(), status=NO_CHAMPION, model_name=args.model_name, alias=args.alias
    )
    report.write(lake, args.run_date)
    log.warning(
        "no version of %s holds the alias %s, so there are no forecasts for %s: evaluate promotes a "
        "version once one beats the naive forecasts",
        args.model_name,
        args.alias,
        args.run_date,
    )
    return report


def read_latest(spark: SparkSession, lake: Lake, run_date: date, needed: int, prepared: PrepareSequencesReport):
    """Each sensor's last ``needed`` grid points up to the run day's end (pandas), on the grid and
    merged as the model's windows were; and the days read."""
    reachable = days_to_read(run_date, needed, prepared.sampling_interval_seconds)
    with lake.readings_locked(reachable):
        days = [day for day in reachable if lake.exists(lake.partition(datasets.READINGS, day))]
        if not days:
            return pd.DataFrame(columns=["sensor_id", "timestamp", "value"]), days
        readings = read_readings(spark, lake, days)
        gridded = on_grid(readings, prepared.sampling_interval_seconds, prepared.grid_aggregate)
        values = gridded.select("sensor_id", "timestamp", F.col("reading").alias("value"))
        return latest_readings(values, needed).toPandas(), days


def sensor_contexts(latest: pd.DataFrame, stats: dict, needed: int, prepared: PrepareSequencesReport, run_date: date):
    """Each forecastable sensor's normalized latest readings and the time of its last one; every
    other sensor with its reason."""
    run_day_start_us = int(utc_day_start(run_date).timestamp() * 1_000_000)
    interval_us = prepared.sampling_interval_seconds * 1_000_000
    not_forecast: dict[str, str] = {}
    contexts, origins = {}, {}
    for sensor, rows in latest.sort_values(["sensor_id", "timestamp"]).groupby("sensor_id", sort=True):
        times_us = rows["timestamp"].to_numpy(dtype="datetime64[us]").astype(np.int64)
        reason = why_not_forecast(times_us, needed, interval_us, run_day_start_us)
        if reason is None and sensor not in stats:
            reason = NO_STATISTICS
        if reason is not None:
            not_forecast[sensor] = reason
            continue
        mean, std = stats[sensor]
        standard = (rows["value"].to_numpy(dtype=np.float64) - mean) / std
        contexts[sensor] = np.clip(standard, -NORMALIZED_BOUND, NORMALIZED_BOUND)  # as the training windows were
        origins[sensor] = rows["timestamp"].iloc[-1]
    for sensor in stats.keys() - set(latest["sensor_id"]):
        not_forecast[sensor] = NO_READING_ON_RUN_DAY
    return contexts, origins, not_forecast


def forecast_rows(spark, model_uri: str, contexts, origins, stats, prepared, args: Namespace, version: int) -> list:
    """The forecasts of every sensor in ``contexts``, in original units, as rows of FORECASTS_SCHEMA."""
    sensors = sorted(contexts)
    if not sensors:
        return []
    context = np.stack([contexts[sensor] for sensor in sensors]).astype(np.float32)
    predict = spark_udf_predict(spark, model_uri)
    normalized = recursive_forecast(context, args.forecast_steps, prepared.seq_len, prepared.horizon, predict)
    interval = prepared.sampling_interval_seconds
    rows = []
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
                version,
            )
            for step in range(1, args.forecast_steps + 1)
        ]
    return rows


def write_forecasts(spark: SparkSession, lake: Lake, rows: list, run_date: date) -> None:
    run_key = run_date.isoformat()
    lake.clear_stale_staging(datasets.FORECASTS, run_key)
    staged = lake.new_staging_path(datasets.FORECASTS, run_key)
    frame = spark.createDataFrame(rows, FORECASTS_SCHEMA).withColumn("date", F.lit(run_date))
    frame.coalesce(1).write.partitionBy("date").parquet(staged)
    lake.swap_in_partitions(staged, datasets.FORECASTS, [run_date])


def log_report(report: ForecastReport, path: str) -> None:
    not_forecast = report.sensors_not_forecast
    if not_forecast:
        log.warning(
            "%d sensors get no forecast: %s",
            sum(len(sensors) for sensors in not_forecast.values()),
            "; ".join(f"{reason}: {', '.join(sensors[:5])}" for reason, sensors in not_forecast.items()),
        )
    log.info(
        "forecast %s: %d sensors x %d steps with %s (trained on %s); report %s",
        report.run_date,
        report.sensors_forecast,
        report.steps,
        report.model_uri,
        report.trained_day,
        path,
    )
