"""The split of a lookback into train, validation, calibration and test, and each sensor's
normalization by its training period alone. Pure DataFrame functions."""

from __future__ import annotations

from datetime import datetime

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from sensor_lstm.errors import JobInputError
from sensor_lstm.settings.table import NORMALIZED_BOUND
from sensor_lstm.windows.cutter import SPLITS


def split_cuts(
    start: datetime, end: datetime, train_fraction: float, validation_fraction: float, calibration_fraction: float
) -> tuple:
    """The three instants that cut the period ``[start, end)`` into train, validation, calibration and test."""
    fractions = (train_fraction, validation_fraction, calibration_fraction)
    if not (min(fractions) > 0 and sum(fractions) < 1):
        raise JobInputError(
            f"need train ({train_fraction}), validation ({validation_fraction}) and calibration "
            f"({calibration_fraction}) above 0, and together below 1"
        )
    span = end - start
    return (
        start + span * train_fraction,
        start + span * (train_fraction + validation_fraction),
        start + span * sum(fractions),
    )


def split_periods(start: datetime, cuts: tuple, end: datetime) -> dict:
    """Each split's period [from, to); ``cuts`` as split_cuts gives them."""
    bounds = (start, *cuts, end)
    return {split: (bounds[index], bounds[index + 1]) for index, split in enumerate(SPLITS)}


def longest_runs(readings: DataFrame, interval_seconds: int, cuts: tuple) -> dict:
    """Per split, the most consecutive grid points of one sensor within the split's period; a split
    whose period holds no reading is absent. ``readings`` are on the grid; ``cuts`` as split_cuts
    gives them."""
    split = F.lit(SPLITS[-1])
    for cut, name in reversed(list(zip(cuts, SPLITS, strict=False))):
        split = F.when(F.col("timestamp") < F.lit(cut), name).otherwise(split)
    step = F.unix_micros("timestamp") / (interval_seconds * 1_000_000)
    by_time = Window.partitionBy("sensor_id", "split").orderBy("timestamp")
    # Consecutive grid points keep step - row number constant: one value per run.
    runs = readings.withColumn("split", split).withColumn("run", step - F.row_number().over(by_time))
    lengths = runs.groupBy("split", "sensor_id", "run").count().groupBy("split").agg(F.max("count").alias("longest"))
    return {row["split"]: row["longest"] for row in lengths.collect()}


def training_statistics(
    readings: DataFrame,
    train_cut: datetime,
    std_floor_absolute: float,
    std_floor_relative: float,
    interval_seconds: int,
) -> DataFrame:
    """Per sensor: mean and standard deviation of its readings before the train cut, and how many
    there were. The std is the population one, raised to the floor ``max(std_floor_absolute,
    std_floor_relative x |mean|)`` (``std_floored`` says when), so a sensor that barely moves (one
    20.1 among 20.0, a one-ulp flicker) is not divided by almost nothing. A sensor without training
    readings gets nulls and a count of 0. ``non_finite_readings`` counts NaN and infinite readings
    over the whole lookback (ingest quarantines them; readings written by other tools may hold some).

    ``one_step_naive_mae`` is MASE's scale (Hyndman and Koehler): the mean absolute change between
    consecutive grid points (one interval apart) of the training period, in original units; 0 for
    a sensor stuck through it, null where no two training readings are consecutive.
    ``one_step_naive_rmse`` is the root mean square of the same changes: persistence's training
    RMSE, the scale a model that learns the change weighs each sensor's squared errors by.
    """
    by_time = Window.partitionBy("sensor_id").orderBy("timestamp")
    consecutive = F.unix_micros("timestamp") - F.lag(F.unix_micros("timestamp")).over(by_time) == F.lit(
        interval_seconds * 1_000_000
    )
    in_training = F.col("timestamp") < F.lit(train_cut)
    one_step_change = F.when(in_training & consecutive, F.abs(F.col("reading") - F.lag("reading").over(by_time)))
    training_reading = F.when(in_training, F.col("reading"))
    non_finite = F.isnan("reading") | (F.abs("reading") == float("inf"))
    stats = (
        readings.withColumn("one_step_change", one_step_change)
        .groupBy("sensor_id")
        .agg(
            F.mean(training_reading).alias("mean"),
            F.stddev_pop(training_reading).alias("raw_std"),
            F.count(training_reading).alias("train_readings"),
            F.mean("one_step_change").alias("one_step_naive_mae"),
            F.sqrt(F.mean(F.col("one_step_change") ** 2)).alias("one_step_naive_rmse"),
            F.count(F.when(non_finite, 1)).alias("non_finite_readings"),
        )
    )
    floor = F.greatest(F.lit(float(std_floor_absolute)), F.lit(float(std_floor_relative)) * F.abs("mean"))
    return stats.select(
        "sensor_id",
        "mean",
        F.when(F.col("train_readings") > 0, F.greatest("raw_std", floor)).alias("std"),
        F.when(F.col("train_readings") > 0, F.col("raw_std") < floor).alias("std_floored"),
        "train_readings",
        "one_step_naive_mae",
        "one_step_naive_rmse",
        "non_finite_readings",
    )


def normalize(readings: DataFrame, stats: DataFrame) -> DataFrame:
    """Add ``value``, the reading in training standard units clipped to +-NORMALIZED_BOUND, and
    ``clipped``, whether it was; sensors without statistics drop out."""
    usable = stats.where(F.col("train_readings") > 0).select("sensor_id", "mean", "std")
    standard = (F.col("reading") - F.col("mean")) / F.col("std")
    return (
        readings.join(F.broadcast(usable), "sensor_id")
        .withColumn("clipped", F.abs(standard) > NORMALIZED_BOUND)
        .withColumn("value", F.least(F.greatest(standard, F.lit(-NORMALIZED_BOUND)), F.lit(NORMALIZED_BOUND)))
        .withColumn("value", F.col("value").cast("float"))
    )


def clipped_by_sensor(normalized: DataFrame) -> dict[str, int]:
    """How many of each sensor's values ``normalize`` clipped, for sensors with any."""
    counts = normalized.where("clipped").groupBy("sensor_id").count().collect()
    return {row["sensor_id"]: row["count"] for row in counts}
