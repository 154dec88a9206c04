"""How every forecast is scored: the naive forecasts each model must beat, and the error sums that
separate workers add up to score together. NumPy only."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

PERSISTENCE, TRAINING_MEAN = "persistence", "training_mean"


def persistence_forecast(x: np.ndarray) -> np.ndarray:
    """The naive forecast: the target equals the window's last input."""
    return x[:, -1, 0]


def seasonal_naive_name(season: int) -> str:
    return f"seasonal_naive_{season}"


def naive_forecasts(x: np.ndarray, seasonal: np.ndarray, seasons: Sequence[int]) -> dict[str, np.ndarray]:
    """The naive forecasts of each window, normalized: persistence (the last input), the
    sensor's training mean (0 in normalized units), and each season's seasonal naive forecast
    (``seasonal``: one column per season, from prepare_sequences)."""
    return {
        PERSISTENCE: persistence_forecast(x),
        TRAINING_MEAN: np.zeros(len(x), dtype=np.float32),
        **{seasonal_naive_name(season): seasonal[:, column] for column, season in enumerate(seasons)},
    }


def naive_sources(seasons: Sequence[int], lags: Sequence[int]) -> dict[str, str]:
    """What each naive forecast is, for the comparison table."""
    return {
        PERSISTENCE: "the last input",
        **{
            seasonal_naive_name(season): f"the reading {lag} steps before the target"
            for season, lag in zip(seasons, lags, strict=True)
        },
        TRAINING_MEAN: "the sensor's training mean",
    }


def rmse(predicted: np.ndarray, actual: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(np.asarray(predicted) - np.asarray(actual)))))


def mae(predicted: np.ndarray, actual: np.ndarray) -> float:
    return float(np.mean(np.abs(np.asarray(predicted) - np.asarray(actual))))


def scores(predicted: np.ndarray, actual: np.ndarray) -> dict[str, float]:
    return {"rmse": rmse(predicted, actual), "mae": mae(predicted, actual)}


def error_sums(predicted: np.ndarray, actual: np.ndarray) -> np.ndarray:
    """Windows, squared and absolute errors: what separate workers add up to score together."""
    error = np.asarray(predicted, dtype=np.float64) - np.asarray(actual, dtype=np.float64)
    return np.array([len(error), np.sum(np.square(error)), np.sum(np.abs(error))], dtype=np.float64)


def error_sums_by_group(predicted: np.ndarray, actual: np.ndarray, groups: np.ndarray, count: int) -> np.ndarray:
    """error_sums per group: a (count, 3) array whose row g sums the errors where ``groups`` is g."""
    error = np.asarray(predicted, dtype=np.float64) - np.asarray(actual, dtype=np.float64)
    return np.stack(
        [
            np.bincount(groups, minlength=count).astype(np.float64),
            np.bincount(groups, weights=np.square(error), minlength=count),
            np.bincount(groups, weights=np.abs(error), minlength=count),
        ],
        axis=1,
    )


def scores_from_sums(sums: Sequence[float]) -> dict[str, float]:
    windows, squared, absolute = (float(value) for value in sums)
    if windows == 0:
        return {"windows": 0}
    return {"windows": int(windows), "rmse": float(np.sqrt(squared / windows)), "mae": absolute / windows}


def skill(model_rmse: float, naive_rmse: float) -> float:
    """1 - RMSE / the naive forecast's; against a perfect naive forecast, 0 if also perfect, else -inf."""
    if naive_rmse == 0:
        return 0.0 if model_rmse == 0 else -math.inf
    return 1 - model_rmse / naive_rmse
