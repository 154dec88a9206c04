"""Forecasts of a statistical model, one step (or a window's horizon) ahead, that never read the
reading they forecast, nor any later one. Each model is fitted once, on the history before the fit
end. One step ahead, AutoETS is then filtered forward over the whole series with those parameters
(statsforecast's ``forward(..., fitted=True)``: each value comes from the readings before it; a
test rewrites the future to show it). The others' in-sample values read the future: MSTL's
decomposition smooths in both directions, and AutoARIMA's fitted values moved by 0.0014 when the
readings after them changed (measured). They forecast each target from the history before it
alone, so their callers pass an evenly spaced subsample of the targets to bound the cost."""

from __future__ import annotations

import time
import warnings

import numpy as np

from sensor_lstm.statistical.candidates import build

FILTERED = ("auto_ets",)


class OverBudget(Exception):
    """A model's one-step forecasts would run past the sensor's deadline."""


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


def one_step(
    name: str,
    seasons: list[int],
    y: np.ndarray,
    fit_end: int,
    targets: np.ndarray,
    history: int,
    deadline: float,
    horizon: int = 1,
):
    """The model's forecasts of ``y[targets]`` (each target after ``fit_end``), each ``horizon``
    steps ahead of the last reading it reads, fitted on at most ``history`` readings before
    ``fit_end``; and the fitted model. A model that forecasts each target from its own history
    raises OverBudget when the rest would end after ``deadline`` (time.monotonic()) at the first
    forecast's pace, and when the deadline passes between two."""
    y = np.asarray(y, dtype=np.float64)
    with warnings.catch_warnings():
        # AutoARIMA warns whenever its optimizer stops early: the model is still fitted, and scored.
        warnings.simplefilter("ignore", UserWarning)
        fitted = build(name, seasons).fit(y[max(0, fit_end - history) : fit_end])
        if name in FILTERED and horizon == 1:
            return fitted.forward(y, h=1, fitted=True)["fitted"][targets], fitted
        forecasts = []
        for done, target in enumerate(targets):
            started = time.monotonic()
            known = target - horizon + 1  # the readings before this one are the forecast's history
            forecasts.append(fitted.forward(y[max(0, known - history) : known], h=horizon)["mean"][-1])
            now, left = time.monotonic(), len(targets) - done - 1
            if done == 0 and now + (now - started) * left > deadline:
                raise OverBudget(
                    f"{len(targets)} forecasts at {now - started:.2f} s each would pass the sensor's time budget"
                )
            if left and now > deadline:
                raise OverBudget(f"the sensor's time budget ran out after {done + 1} of {len(targets)} forecasts")
    return np.asarray(forecasts, dtype=np.float64), fitted
