"""The split of a lookback into train, validation and test, and each sensor's normalization by its
training period alone. Pure DataFrame functions."""

from __future__ import annotations

from datetime import datetime

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from sensor_lstm.errors import JobInputError


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
