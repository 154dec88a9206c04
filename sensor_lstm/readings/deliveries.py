"""A day's readings come from several deliveries: its own landing file, and the late rows of later
files (a logger that uploads yesterday's last hours with today's file). A delivery is a landing
file's day. In every partition, each delivery's rows are files of their own, named
``delivery-<file day>-...``; ingest replaces the slices of the files it reads and keeps the others,
so a rerun of either day never loses the other's rows. Files without the prefix are the day's own
delivery (as every file was before late rows landed).

Readers take, for each sensor and timestamp, the reading of the latest delivery
(``read_readings``, the one way prepare_sequences, forecast and ingest read the readings).
"""

from __future__ import annotations

import os
from datetime import date

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from sensor_lstm.lake import Lake, datasets
from sensor_lstm.readings.grid import on_grid

PREFIX = "delivery-"
DELIVERY_FILE = r"^delivery-(\d{4}-\d{2}-\d{2})-"


def delivery_file_name(delivery: date, name: str) -> str:
    return f"{PREFIX}{delivery.isoformat()}-{name}"


def file_delivery(name: str, partition_day: date) -> date:
    """The delivery a readings file of ``partition_day`` came from."""
    if name.startswith(PREFIX):
        return date.fromisoformat(name[len(PREFIX) : len(PREFIX) + 10])
    return partition_day


def delivery_column(file_name: Column, partition_day: Column) -> Column:
    """``file_delivery`` as a column."""
    prefixed = F.nullif(F.regexp_extract(file_name, DELIVERY_FILE, 1), F.lit(""))
    return F.coalesce(F.to_date(prefixed), partition_day)


def read_readings(
    spark: SparkSession, lake: Lake, days: list[date], skip_deliveries: set[date] = frozenset()
) -> DataFrame:
    """The readings of ``days`` (their partitions must exist): one row per sensor and timestamp,
    the latest delivery's; the files of ``skip_deliveries`` left out. Columns sensor_id, timestamp,
    reading, date, delivery."""
    frame = (
        spark.read.schema(datasets.READINGS_SCHEMA)
        .option("basePath", lake.dataset(datasets.READINGS))
        .parquet(*(lake.partition(datasets.READINGS, day) for day in days))
        .withColumn("delivery", delivery_column(F.col("_metadata.file_name"), F.col("date")))
    )
    if skip_deliveries:
        frame = frame.where(~F.col("delivery").isin(*sorted(skip_deliveries)))
    latest = frame.groupBy("sensor_id", "timestamp").agg(
        F.max_by(F.struct("reading", "date", "delivery"), "delivery").alias("kept")
    )
    return latest.select("sensor_id", "timestamp", "kept.reading", "kept.date", "kept.delivery")


def keep_other_deliveries(lake: Lake, staged_partition: str, day: date, deliveries: set[date]) -> None:
    """Flatten a staged partition written by (date, delivery), its files named by delivery, and link
    in the current partition's files of every delivery not in ``deliveries``, so that swapping the
    staged partition in replaces those deliveries' slices alone. Hard links: no byte is copied."""
    os.makedirs(staged_partition, exist_ok=True)
    for folder in os.listdir(staged_partition):
        if folder.startswith("delivery="):
            delivery = date.fromisoformat(folder.removeprefix("delivery="))
            for name in os.listdir(f"{staged_partition}/{folder}"):
                source = f"{staged_partition}/{folder}/{name}"
                if name.endswith(".parquet"):
                    os.rename(source, f"{staged_partition}/{delivery_file_name(delivery, name)}")
            lake.delete(f"{staged_partition}/{folder}")
    current = lake.partition(datasets.READINGS, day)
    if not lake.exists(current):
        return
    for name in os.listdir(current):
        if name.endswith(".parquet") and file_delivery(name, day) not in deliveries:
            os.link(f"{current}/{name}", f"{staged_partition}/{name}")


def days_holding(lake: Lake, deliveries: set[date], days: list[date]) -> list[date]:
    """Those of ``days`` whose partition holds rows of one of ``deliveries``."""
    held = []
    for day in days:
        current = lake.partition(datasets.READINGS, day)
        if lake.exists(current) and any(
            file_delivery(name, day) in deliveries for name in os.listdir(current) if name.endswith(".parquet")
        ):
            held.append(day)
    return held


def lookback_on_grid(spark: SparkSession, lake: Lake, prepared) -> DataFrame:
    """The readings of a prepare_sequences report's lookback days, on its grid, as it put them:
    sensor_id, timestamp, reading (original units)."""
    days = [date.fromisoformat(day) for day in prepared.lookback_days if day not in prepared.missing_lookback_days]
    return on_grid(read_readings(spark, lake, days), prepared.sampling_interval_seconds, prepared.grid_aggregate)
