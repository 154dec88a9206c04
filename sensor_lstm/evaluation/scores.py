"""Scoring every model and naive forecast on the same test windows, per sensor, in one Spark pass:
each task adds up its windows' errors by sensor (``mapInArrow``), Spark adds up the tasks'."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from sensor_lstm import scoring
from sensor_lstm.errors import JobInputError
from sensor_lstm.forecasting.methods import PARTITION_BASELINES
from sensor_lstm.training import model as lstm
from sensor_lstm.windows import tensors

# BASELINES: each sensor scored with its partition's model, as the forecaster method of that name serves it.
DISTRIBUTED, CHAMPION, BASELINES = "distributed", "champion", PARTITION_BASELINES
SUMS_SCHEMA = "model string, sensor_id string, windows double, squared double, absolute double"
SUMS_ARROW_SCHEMA = pa.schema(
    [("model", pa.string()), ("sensor_id", pa.string())]
    + [(name, pa.float64()) for name in ("windows", "squared", "absolute")]
)


def batch_error_sums(
    batch: pa.RecordBatch,
    models: dict,
    partition_models: dict,
    sensor_partition: dict[str, int],
    seasons: dict[int, int],
    statistical: tuple[str, ...] = (),
) -> list[dict]:
    """Each model's and naive forecast's error sums (scoring.error_sums) per sensor, on one batch
    of windows with statistics, in original units: rows of SUMS_SCHEMA. ``seasons``: each scored
    season's column in the windows' ``seasonal_naive`` lists; ``statistical``: the columns holding
    statistical models' forecasts in original units, each scored where it is not null."""
    table = pa.Table.from_batches([batch])
    x, y = tensors.arrow_window_tensors(table)
    mean, std = table.column("mean").to_numpy(), table.column("std").to_numpy()
    actual = tensors.to_original_units(y, mean, std)
    sensors, sensor_index = np.unique(
        np.asarray(table.column("sensor_id").to_pylist(), dtype=object), return_inverse=True
    )
    seasonal = tensors.seasonal_naive_matrix(table)[:, list(seasons.values())]
    forecasts = scoring.naive_forecasts(x, seasonal, list(seasons))
    forecasts |= {name: model.predict(x, verbose=0)[:, 0] for name, model in models.items()}
    sums = {
        name: scoring.error_sums_by_group(
            tensors.to_original_units(normalized, mean, std), actual, sensor_index, len(sensors)
        )
        for name, normalized in forecasts.items()
    }
    for name in statistical:
        forecast = np.asarray(table.column(name).to_numpy(zero_copy_only=False), dtype=np.float64)
        have = ~np.isnan(forecast)
        sums[name] = scoring.error_sums_by_group(forecast[have], actual[have], sensor_index[have], len(sensors))
    partition = np.array([sensor_partition.get(sensor, -1) for sensor in sensors])[sensor_index]
    sums[BASELINES] = np.zeros((len(sensors), 3))
    for index, model in partition_models.items():
        mine = partition == index
        if mine.any():
            predicted = tensors.to_original_units(model.predict(x[mine], verbose=0)[:, 0], mean[mine], std[mine])
            sums[BASELINES] += scoring.error_sums_by_group(predicted, actual[mine], sensor_index[mine], len(sensors))
    return [
        {"model": name, "sensor_id": sensor, "windows": row[0], "squared": row[1], "absolute": row[2]}
        for name, by_sensor in sums.items()
        for sensor, row in zip(sensors, by_sensor, strict=True)
        if row[0] > 0
    ]


def score_windows(
    windows: DataFrame,
    model_specs: dict,
    partition_specs: dict,
    sensor_partition: dict,
    seasons: dict[int, int],
    statistical: tuple[str, ...] = (),
) -> dict[tuple[str, str], dict]:
    """Each model's scores per sensor, (model, sensor) -> scores: partial sums per Spark task,
    added up by Spark. ``statistical``: columns of ``windows`` with forecasts (batch_error_sums)."""

    def score_task(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        lstm.limit_tensorflow_threads(1)
        models = {name: lstm.model_from_spec(spec) for name, spec in model_specs.items()}
        partition_models = {index: lstm.model_from_spec(spec) for index, spec in partition_specs.items()}
        for batch in batches:
            rows = batch_error_sums(batch, models, partition_models, sensor_partition, seasons, statistical)
            yield pa.RecordBatch.from_pylist(rows, schema=SUMS_ARROW_SCHEMA)

    totals = (
        windows.mapInArrow(score_task, SUMS_SCHEMA)
        .groupBy("model", "sensor_id")
        .agg(*(F.sum(column).alias(column) for column in ("windows", "squared", "absolute")))
        .collect()
    )
    return {
        (row["model"], row["sensor_id"]): scoring.scores_from_sums([row["windows"], row["squared"], row["absolute"]])
        for row in totals
    }


def scored_seasons(windows: DataFrame, seasons: list[int]) -> dict[int, int]:
    """The seasons whose naive forecast at least one test window has, with their column in the
    ``seasonal_naive`` lists. A season no window has (the lake holds no readings that far before
    the test period, as on a new deployment's first days) is left out of the table, not a failure."""
    if not seasons:
        return {}
    found = windows.agg(
        *(
            F.max(F.col("seasonal_naive")[column].isNotNull().cast("int")).alias(str(column))
            for column in range(len(seasons))
        )
    ).first()
    return {season: column for column, season in enumerate(seasons) if found[str(column)]}


def windows_with_every_naive_forecast(
    spark: SparkSession, test_path: str, stats_path: str, seasons: list[int]
) -> tuple[DataFrame, int, dict[int, int]]:
    """The test windows with their sensor's statistics, leaving out (and counting) those without
    every scored season's naive forecast, so that every row of the table scores the same ones;
    and the scored seasons (scored_seasons)."""
    windows = spark.read.parquet(test_path).select("sensor_id", "target_time", "inputs", "target", "seasonal_naive")
    scored = scored_seasons(windows, seasons)
    complete = F.lit(True)
    for column in scored.values():
        complete = complete & F.col("seasonal_naive")[column].isNotNull()
    excluded = windows.where(~complete).count()
    windows = windows.where(complete)
    if windows.isEmpty():
        raise JobInputError(
            f"no test window in {test_path} has every scored seasonal naive forecast ({excluded} have not): the "
            "readings a season before the test period are missing; lengthen lookback_days or change seasonal_periods"
        )
    stats = spark.read.parquet(stats_path).select("sensor_id", "mean", "std")
    return windows.join(F.broadcast(stats), "sensor_id"), excluded, scored
