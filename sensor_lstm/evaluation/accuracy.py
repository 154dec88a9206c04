"""How good the earlier forecasts turned out: every forecast of an earlier day whose target time
falls on the run day, against the reading that arrived for it (on the grid, as the forecaster
puts readings), per sensor, method and forecast day: MAE, MASE (over the run day's training
scale) and how often the 80% and 95% intervals held it. evaluate runs it each day."""

from __future__ import annotations

import math
import statistics
from datetime import date, timedelta

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from sensor_lstm.lake import SECONDS_PER_DAY, Lake, datasets, utc_day_start
from sensor_lstm.readings.deliveries import read_readings
from sensor_lstm.readings.grid import on_grid

ACCURACY_SCHEMA = (
    "sensor_id string, method string, forecast_day date, forecasts long, mae double, mase double, "
    "coverage_80 double, coverage_95 double"
)


def forecast_days(run_date: date, steps: int, interval_seconds: int) -> list[date]:
    """The earlier days whose forecasts can reach into the run day: a forecast issued on day d
    reaches steps x interval past d's end at most."""
    back = max(1, math.ceil(steps * interval_seconds / SECONDS_PER_DAY))
    return [run_date - timedelta(days=offset) for offset in range(back, 0, -1)]


def forecasts_due(spark: SparkSession, lake: Lake, run_date: date, days: list[date]) -> DataFrame | None:
    """The forecasts of ``days`` whose target time falls on the run day, with their forecast day;
    None when there are none. Forecasts written before intervals existed score without them."""
    frames = []
    for day in days:
        path = lake.partition(datasets.FORECASTS, day)
        if not lake.exists(path):
            continue
        frame = spark.read.parquet(path)
        method = F.col("method") if "method" in frame.columns else F.concat(F.lit("model:"), F.col("model_version"))
        bounds = [
            (F.col(name) if name in frame.columns else F.lit(None).cast("double")).alias(name)
            for name in ("lower_80", "upper_80", "lower_95", "upper_95")
        ]
        frames.append(
            frame.select("sensor_id", "target_time", "forecast", method.alias("method"), *bounds).withColumn(
                "forecast_day", F.lit(day)
            )
        )
    if not frames:
        return None
    due = frames[0]
    for frame in frames[1:]:
        due = due.unionByName(frame)
    start, end = utc_day_start(run_date), utc_day_start(run_date + timedelta(days=1))
    due = due.where((F.col("target_time") >= F.lit(start)) & (F.col("target_time") < F.lit(end)))
    return None if due.isEmpty() else due


def accuracy_rows(due: DataFrame, readings: DataFrame, scales: dict[str, float | None]) -> list[dict]:
    """Per sensor, method and forecast day: the forecasts whose reading arrived, their MAE, MASE
    and interval coverage (null for forecasts without intervals)."""
    joined = due.join(
        readings.select("sensor_id", F.col("timestamp").alias("target_time"), "reading"), ["sensor_id", "target_time"]
    )
    error = F.abs(F.col("reading") - F.col("forecast"))

    def held(level: int):
        inside = (F.col("reading") >= F.col(f"lower_{level}")) & (F.col("reading") <= F.col(f"upper_{level}"))
        return F.avg(F.when(F.col(f"lower_{level}").isNotNull(), inside.cast("double"))).alias(f"coverage_{level}")

    grouped = joined.groupBy("sensor_id", "method", "forecast_day").agg(
        F.count("*").alias("forecasts"), F.avg(error).alias("mae"), held(80), held(95)
    )
    rows = []
    for row in grouped.orderBy("sensor_id", "forecast_day", "method").collect():
        scale = scales.get(row["sensor_id"])
        rows.append(row.asDict() | {"mase": row["mae"] / scale if scale else None})
    return rows


def score_earlier_forecasts(spark: SparkSession, lake: Lake, run_date: date, prepared, steps: int) -> list[dict]:
    """accuracy_rows of every earlier forecast due on the run day (none: an empty list), and the
    partition written; the run day's readings are read under its lock."""
    days = forecast_days(run_date, steps, prepared.sampling_interval_seconds)
    due = forecasts_due(spark, lake, run_date, days)
    if due is None or not lake.exists(lake.partition(datasets.READINGS, run_date)):
        return []
    stats = spark.read.parquet(lake.partition(datasets.SEQUENCE_STATS, run_date)).collect()
    scales = {row["sensor_id"]: row["one_step_naive_mae"] for row in stats}
    with lake.readings_locked([run_date]):
        readings = on_grid(
            read_readings(spark, lake, [run_date]), prepared.sampling_interval_seconds, prepared.grid_aggregate
        )
        rows = accuracy_rows(due, readings, scales)
    write_accuracy(spark, lake, rows, run_date)
    return rows


def write_accuracy(spark: SparkSession, lake: Lake, rows: list[dict], run_date: date) -> None:
    run_key = run_date.isoformat()
    lake.clear_stale_staging(datasets.FORECAST_ACCURACY, run_key)
    staged = lake.new_staging_path(datasets.FORECAST_ACCURACY, run_key)
    frame = spark.createDataFrame(rows, ACCURACY_SCHEMA).withColumn("date", F.lit(run_date))
    frame.coalesce(1).write.partitionBy("date").parquet(staged)
    lake.swap_in_partitions(staged, datasets.FORECAST_ACCURACY, [run_date])


def accuracy_summary(rows: list[dict]) -> dict:
    """Over every scored forecast: how many, their sensors, the median of the sensors' MASE and the
    coverage of each interval, weighted by forecasts."""
    if not rows:
        return {}
    total = sum(row["forecasts"] for row in rows)
    mases = [row["mase"] for row in rows if row["mase"] is not None]
    summary = {
        "forecasts": total,
        "sensors": len({row["sensor_id"] for row in rows}),
        "median_mase": statistics.median(mases) if mases else None,
    }
    for level in (80, 95):
        scored = [row for row in rows if row[f"coverage_{level}"] is not None]
        weight = sum(row["forecasts"] for row in scored)
        summary[f"coverage_{level}"] = (
            sum(row[f"coverage_{level}"] * row["forecasts"] for row in scored) / weight if weight else None
        )
    return summary
