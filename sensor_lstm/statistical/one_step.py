"""Forecasts of a statistical model, one step (or a window's horizon) ahead, that never read the
reading they forecast, nor any later one. Each model is fitted once, on the history before the fit
end; then each target is forecast from the ``history`` readings before it alone (statsforecast's
``forward``), as the forecaster serves it. In-sample values would read the future: MSTL's
decomposition smooths in both directions, and AutoARIMA's fitted values moved by 0.0014 when the
readings after them changed (measured). A forecast per target costs about a fit of MSTL, so the
callers pass an evenly spaced subsample of the targets to bound the cost."""

from __future__ import annotations

import time
import warnings

import numpy as np

from sensor_lstm.forecasting.methods import season_aligned_length
from sensor_lstm.statistical.candidates import build

# Models whose forward decomposes the history again: each forecast costs about a fit (measured:
# MSTL on a day of 1,440 minutes, fit 2.35 s, forward 2.23 s), so the fit's time projects them.
FORWARD_REFITS = ("mstl",)


# Fit seconds by model, seasons and readings, for the Python worker's life: a worker that has
# fitted MSTL on one sensor's history knows what the next sensor's of the same size costs, and
# leaves it out without spending a fit when that is over the budget.
_FIT_SECONDS: dict[tuple, float] = {}


class OverBudget(Exception):
    """A model's one-step forecasts would run past the sensor's deadline."""


def over_budget(forecasts: int, each: float, deadline: float, measured_on: str) -> None:
    """Raise OverBudget when ``forecasts`` of ``each`` seconds from now would end after ``deadline``."""
    if time.monotonic() + each * forecasts > deadline:
        raise OverBudget(
            f"{forecasts} forecasts at about {each:.2f} s each ({measured_on}) would pass the sensor's time budget"
        )


def evenly_spaced(indices: np.ndarray, limit: int) -> np.ndarray:
    """At most ``limit`` of ``indices``, evenly spaced, the first and last included."""
    indices = np.asarray(indices)
    if len(indices) <= limit:
        return indices
    return indices[np.unique(np.linspace(0, len(indices) - 1, limit).round().astype(int))]


def aligned_span(first_index: int, last: int, history: int, season: int) -> int:
    """season_aligned_length for the readings of ``y`` up to ``y[last]`` (``y[0]`` at grid index
    ``first_index``), whole seasons shorter where ``y`` does not reach back that far."""
    length = season_aligned_length(first_index + last, history, season)
    while length > last + 1:
        length -= season
    return length


def one_step(
    name: str,
    seasons: list[int],
    y: np.ndarray,
    fit_end: int,
    targets: np.ndarray,
    history: int,
    deadline: float,
    horizon: int = 1,
    first_index: int = 0,
):
    """The model's forecasts of ``y[targets]`` (each target after ``fit_end``), each ``horizon``
    steps ahead of the last reading it reads, from about ``history`` readings before it, as the
    forecaster takes them (methods.statistical_forward: starting on a whole season of the grid,
    ``y[0]`` being grid point ``first_index``); the model fitted on the same span before
    ``fit_end``. A model that would end after ``deadline`` (time.monotonic()) raises OverBudget:
    at its fit's pace before any forecast (FORWARD_REFITS; before the fit, too, where this worker
    has timed a fit of the same size), at its first forecast's pace after it, and whenever the
    deadline passes between two."""
    y = np.asarray(y, dtype=np.float64)
    season = seasons[0] if seasons else 1
    span = aligned_span(first_index, fit_end - 1, history, season)
    with warnings.catch_warnings():
        # AutoARIMA warns whenever its optimizer stops early: the model is still fitted, and scored.
        warnings.simplefilter("ignore", UserWarning)
        size = (name, tuple(seasons), span)
        if name in FORWARD_REFITS and size in _FIT_SECONDS:
            over_budget(len(targets), _FIT_SECONDS[size], deadline, "a fit of the same size in this worker")
        started = time.monotonic()
        fitted = build(name, seasons).fit(y[fit_end - span : fit_end])
        _FIT_SECONDS[size] = time.monotonic() - started
        if name in FORWARD_REFITS:
            over_budget(len(targets), _FIT_SECONDS[size], deadline, "its fit")
        forecasts = []
        for done, target in enumerate(targets):
            started = time.monotonic()
            known = target - horizon + 1  # the readings before this one are the forecast's history
            span = aligned_span(first_index, known - 1, history, season)
            forecasts.append(fitted.forward(y[known - span : known], h=horizon)["mean"][-1])
            now, left = time.monotonic(), len(targets) - done - 1
            if done == 0 and now + (now - started) * left > deadline:
                raise OverBudget(
                    f"{len(targets)} forecasts at {now - started:.2f} s each would pass the sensor's time budget"
                )
            if left and now > deadline:
                raise OverBudget(f"the sensor's time budget ran out after {done + 1} of {len(targets)} forecasts")
    return np.asarray(forecasts, dtype=np.float64), fitted
