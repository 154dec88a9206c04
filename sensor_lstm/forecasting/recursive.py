"""The readings a forecast needs, and the recursive forecast past the model's horizon. NumPy only."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date, timedelta

import numpy as np

from sensor_lstm.lake import SECONDS_PER_DAY

# Why a sensor gets no forecast, besides the forecaster's own reasons: its last reading is before the run day.
NO_READING_ON_RUN_DAY = "no_reading_on_run_day"


def readings_needed(seq_len: int, horizon: int) -> int:
    """The latest readings a sensor needs: the window that forecasts step 1 starts at the first."""
    return seq_len + horizon - 1


def days_to_read(run_date: date, needed: int, sampling_interval_seconds: int) -> list[date]:
    """The run day and the days before it that ``needed`` readings ending on the run day can reach."""
    earlier = math.ceil(needed * sampling_interval_seconds / SECONDS_PER_DAY)
    return [run_date - timedelta(days=offset) for offset in range(earlier, -1, -1)]


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
