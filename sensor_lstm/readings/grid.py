"""Readings on the sampling grid: the one way every job that reads readings puts them in steps.

Real loggers do not write on the grid: their clocks jitter by a second or two, run a little slow,
or log faster than the run's interval. A window is a run of consecutive grid points, so each
reading is moved to its nearest grid point, and the readings sharing a point are merged into one.

The grid is the multiples of the sampling interval from 1970-01-01 00:00 UTC: when the interval
divides a day (the only case with a default seasonal period), every day's 00:00 UTC is on it.
Pure DataFrame functions.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from sensor_lstm.settings.table import GRID_AGGREGATES

MEAN, NEAREST, LAST = GRID_AGGREGATES
# A sensor whose readings are usually further apart than this many intervals leaves most grid
# points empty: its windows break at nearly every step.
SLOW_SENSOR_FACTOR = 1.5
# Sampling intervals a user would pick: the divisors of a day that are whole seconds up to a minute,
# or whole minutes.
COMMON_INTERVALS_SECONDS = (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60, 120, 180, 240, 300, 360, 600, 720, 900)
COMMON_INTERVALS_SECONDS += (1200, 1800, 3600, 7200, 10800, 14400, 21600, 43200, 86400)


def grid_point_micros(timestamp: Column, interval_seconds: int) -> Column:
    """The nearest grid point to ``timestamp``, in microseconds since the epoch; a reading exactly
    half way between two points belongs to the earlier one. Integer arithmetic: no rounding."""
    interval = interval_seconds * 1_000_000
    past_half = F.unix_micros(timestamp) - interval // 2
    remainder = F.pmod(past_half, F.lit(interval))
    return past_half - remainder + F.when(remainder > 0, F.lit(interval)).otherwise(F.lit(0))


def merged_reading(aggregate: str, timestamp: Column, point: Column) -> Column:
    """How a grid point's readings become one: their mean, the one nearest the point (the earlier
    on a tie), or the last one."""
    if aggregate == MEAN:
        return F.mean("reading")
    if aggregate == NEAREST:
        return F.min_by("reading", F.struct(F.abs(F.unix_micros(timestamp) - point), timestamp))
    if aggregate == LAST:
        return F.max_by("reading", timestamp)
    raise ValueError(f"grid aggregate {aggregate!r} is none of {', '.join(GRID_AGGREGATES)}")


def on_grid(readings: DataFrame, interval_seconds: int, aggregate: str) -> DataFrame:
    """``sensor_id``, ``timestamp`` (a grid point) and ``reading``: one row per sensor and grid point
    that has readings, merged by ``aggregate``. A point without readings has no row: a gap."""
    point = grid_point_micros(F.col("timestamp"), interval_seconds)
    placed = readings.select("sensor_id", "timestamp", "reading", point.alias("grid_micros"))
    merged = placed.groupBy("sensor_id", "grid_micros").agg(
        merged_reading(aggregate, F.col("timestamp"), F.col("grid_micros")).alias("reading")
    )
    return merged.select("sensor_id", F.timestamp_micros("grid_micros").alias("timestamp"), "reading")


def sampling_by_sensor(readings: DataFrame, interval_seconds: int) -> DataFrame:
    """Per sensor: its raw ``readings``, the ``grid_points`` they fill, ``readings_merged`` (those
    that shared a point with an earlier one: readings - grid_points) and the median interval between
    its consecutive raw readings in seconds (null for a single reading)."""
    by_time = Window.partitionBy("sensor_id").orderBy("timestamp")
    micros = F.unix_micros("timestamp")
    steps = readings.select(
        "sensor_id",
        grid_point_micros(F.col("timestamp"), interval_seconds).alias("grid_micros"),
        (micros - F.lag(micros).over(by_time)).alias("step_micros"),
    )
    per_sensor = steps.groupBy("sensor_id").agg(
        F.count("*").alias("readings"),
        F.count_distinct("grid_micros").alias("grid_points"),
        (F.median("step_micros") / 1_000_000).alias("median_interval_seconds"),
    )
    return per_sensor.withColumn("readings_merged", F.col("readings") - F.col("grid_points"))


def fitting_interval(median_interval_seconds: float) -> int:
    """The common sampling interval a sensor with this median raw interval would fill: the
    shortest one at least as long."""
    for interval in COMMON_INTERVALS_SECONDS:
        if interval >= median_interval_seconds:
            return interval
    return COMMON_INTERVALS_SECONDS[-1]


def slower_than_the_grid(median_interval_seconds: float | None, interval_seconds: int) -> bool:
    return median_interval_seconds is not None and median_interval_seconds > SLOW_SENSOR_FACTOR * interval_seconds
