"""Every sensor's statistical forecasters over the run day's lookback, in one Spark pass: the
readings on the grid, grouped by sensor, each group fitted and scored by
sensor_lstm.statistical.fit.sensor_forecasts on the periods prepare_sequences cut."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
from pyspark.sql import DataFrame

from sensor_lstm.lake import utc_day_start
from sensor_lstm.lake.reports import PrepareSequencesReport
from sensor_lstm.statistical.fit import FitSetup, sensor_forecasts

FORECASTS_SCHEMA = "sensor_id string, model string, period string, target_time timestamp, forecast double, fit string"


def micros(text: str) -> int:
    return int(pd.Timestamp(text).value // 1000)


def fit_setup(prepared: PrepareSequencesReport, run_date: date, fit_history: int, targets_per_period: int) -> FitSetup:
    """The periods prepare_sequences cut for ``run_date`` (validation, calibration, test; the test
    period ends with the run day), its grid and seasons, and the bounds on the work."""
    end = micros(utc_day_start(run_date + timedelta(days=1)).isoformat())
    train, calibration, test = (
        micros(cut) for cut in (prepared.train_cut, prepared.calibration_cut, prepared.test_cut)
    )
    return FitSetup(
        interval_us=prepared.sampling_interval_seconds * 1_000_000,
        train_cut_us=train,
        periods={"validation": (train, calibration), "calibration": (calibration, test), "test": (test, end)},
        seasonal_lags=tuple(prepared.seasonal_lags),
        fit_history=fit_history,
        targets_per_period=targets_per_period,
    )


def statistical_forecasts(readings: DataFrame, setup: FitSetup) -> DataFrame:
    """Each sensor's rows of sensor_forecasts, for ``readings`` on the grid (sensor_id, timestamp, reading)."""

    def fit(frame: pd.DataFrame) -> pd.DataFrame:
        return sensor_forecasts(frame, setup)

    return (
        readings.select("sensor_id", "timestamp", "reading").groupBy("sensor_id").applyInPandas(fit, FORECASTS_SCHEMA)
    )
