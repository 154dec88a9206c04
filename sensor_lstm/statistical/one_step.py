"""One-step forecasts of a statistical model that never read the reading they forecast, nor any
later one. Each model is fitted once, on the history before the fit end. AutoETS is then filtered
forward over the whole series with those parameters (statsforecast's ``forward(..., fitted=True)``:
each value comes from the readings before it; a test rewrites the future to show it). The others'
in-sample values read the future: MSTL's decomposition smooths in both directions, and AutoARIMA's
fitted values moved by 0.0014 when the readings after them changed (measured). They forecast each
target from the history before it alone, so their callers pass an evenly spaced subsample of the
targets to bound the cost."""

from __future__ import annotations

import numpy as np

from sensor_lstm.statistical.candidates import build

FILTERED = ("auto_ets",)


def evenly_spaced(indices: np.ndarray, limit: int) -> np.ndarray:
    """At most ``limit`` of ``indices``, evenly spaced, the first and last included."""
    indices = np.asarray(indices)
    if len(indices) <= limit:
        return indices
    return indices[np.unique(np.linspace(0, len(indices) - 1, limit).round().astype(int))]


def filled_grid(
    times_us: np.ndarray, values: np.ndarray, interval_us: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A gap-free series on the grid from ``times_us`` (grid points, ascending): missing points
    linearly interpolated. Returns the points, the values and which points are real readings."""
    times_us = np.asarray(times_us, dtype=np.int64)
    points = np.arange(times_us[0], times_us[-1] + 1, interval_us, dtype=np.int64)
    real = np.isin(points, times_us)
    return points, np.interp(points, times_us, np.asarray(values, dtype=np.float64)), real


def one_step(name: str, seasons: list[int], y: np.ndarray, fit_end: int, targets: np.ndarray, history: int):
    """The model's one-step forecasts of ``y[targets]`` (each target after ``fit_end``), fitted on
    at most ``history`` readings before ``fit_end``, and the fitted model."""
    y = np.asarray(y, dtype=np.float64)
    fitted = build(name, seasons).fit(y[max(0, fit_end - history) : fit_end])
    if name in FILTERED:
        return fitted.forward(y, h=1, fitted=True)["fitted"][targets], fitted
    forecasts = [fitted.forward(y[max(0, target - history) : target], h=1)["mean"][0] for target in targets]
    return np.asarray(forecasts, dtype=np.float64), fitted
