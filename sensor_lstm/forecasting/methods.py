"""The forecasting methods a sensor can be given, as one function from its latest readings to its
next ``steps`` forecasts: the LSTM (``model:<version>``, recursive past its horizon), the LSTM that
train_baseline fitted on the sensor's partition alone (``partition_baselines``, as evaluate's table
names them; recursive too), statsforecast's
models that fit_statistical fitted for the sensor (``auto_ets``, ``auto_arima``, ``mstl``: forecast
from the readings they were fitted on, as many), and the naive forecasts evaluate scores them
against (``persistence``, ``seasonal_naive_<n>``, ``training_mean``). evaluate's backtests and the
forecaster bundle call the same function. NumPy only: a statistical model comes fitted."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np

from sensor_lstm.forecasting.recursive import readings_needed, recursive_forecast
from sensor_lstm.scoring import PERSISTENCE, TRAINING_MEAN, seasonal_naive_name
from sensor_lstm.settings.table import NORMALIZED_BOUND, STATISTICAL_MODELS

MODEL_PREFIX = "model:"
PARTITION_BASELINES = "partition_baselines"
SEASONAL_PREFIX = seasonal_naive_name(0)[:-1]


def model_method(version: int) -> str:
    return f"{MODEL_PREFIX}{version}"


def is_lstm(method: str) -> bool:
    """Whether ``method`` forecasts with an LSTM: the champion's or the sensor's partition's."""
    return method.startswith(MODEL_PREFIX) or method == PARTITION_BASELINES


def season_of(method: str) -> int | None:
    """The season of a ``seasonal_naive_<n>`` method, else None."""
    return int(method.removeprefix(SEASONAL_PREFIX)) if method.startswith(SEASONAL_PREFIX) else None


def context_length(method: str, seq_len: int, horizon: int, history: int | None = None, season: int = 1) -> int:
    """The latest consecutive grid points ``method`` forecasts from; ``history`` and ``season``: a
    statistical model's (the readings it was fitted on, and its first season)."""
    if is_lstm(method):
        return readings_needed(seq_len, horizon)
    if method in STATISTICAL_MODELS:
        if not history:
            raise ValueError(f"forecasting method {method!r} needs the length of its history")
        return history + season - 1  # season_aligned_length at most
    season = season_of(method)
    if season is not None:
        return season
    if method in (PERSISTENCE, TRAINING_MEAN):
        return 1
    raise ValueError(f"unknown forecasting method {method!r}")


def forecast_context(
    method: str, seq_len: int, horizon: int, scale_window: int | None, plan: dict | None = None
) -> int:
    """The latest consecutive grid points a forecast with intervals takes: the method's context,
    and ``scale_window`` steps for the intervals' local scale (none for a scale-free bundle).
    ``plan``: the sensor's, with a statistical method's history and season."""
    plan = plan or {}
    context = context_length(method, seq_len, horizon, plan.get("history"), plan.get("season", 1))
    return max(context, scale_window + 1 if scale_window else 1)


def filled_grid(
    times_us: np.ndarray, values: np.ndarray, interval_us: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A gap-free series on the grid from ``times_us`` (grid points, ascending): missing points
    linearly interpolated, as a statistical model is fitted, scored and served. Returns the
    points, the values and which points are real readings."""
    times_us = np.asarray(times_us, dtype=np.int64)
    points = np.arange(times_us[0], times_us[-1] + 1, interval_us, dtype=np.int64)
    real = np.isin(points, times_us)
    return points, np.interp(points, times_us, np.asarray(values, dtype=np.float64)), real


def season_aligned_length(last_index: int, history: int, season: int) -> int:
    """How many readings, ending at grid index ``last_index`` (since the epoch), a statistical
    model reads: at least ``history``, from a grid point whose index is a whole number of seasons.
    AutoETS's seasonal states start where its fit did (on such a point): a history starting
    elsewhere would read them a phase off."""
    return history + int((last_index + 1 - history) % season)


def statistical_forward(fitted, history: int, season: int, last_indices: np.ndarray):
    """A fitted statsforecast model as forecast_paths' ``statistical``: each context's next ``steps``
    from its season-aligned history (season_aligned_length), its last reading at grid index
    ``last_indices[row]``."""

    def paths(contexts: np.ndarray, steps: int) -> np.ndarray:
        rows = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # AutoARIMA's optimizer notes, as when it was fitted
            for context, last in zip(contexts, last_indices, strict=True):
                length = season_aligned_length(int(last), history, season)
                rows.append(np.asarray(fitted.forward(np.asarray(context[-length:]), h=steps)["mean"]))
        return np.stack(rows)

    return paths


def forecast_paths(
    method: str,
    contexts: np.ndarray,
    steps: int,
    mean: np.ndarray,
    std: np.ndarray,
    model: tuple[int, int, Callable[[np.ndarray], np.ndarray]] | None = None,
    statistical: Callable[[np.ndarray, int], np.ndarray] | None = None,
) -> np.ndarray:
    """Forecasts (origins, steps) in original units from ``contexts`` (origins, at least
    context_length readings each, the last one the origin's). ``mean`` and ``std`` are each row's
    sensor statistics; ``model`` is (seq_len, horizon, predict) for an LSTM method (is_lstm), predict
    taking normalized windows (n, seq_len) and returning one value each; ``statistical`` is a
    statistical method's statistical_forward."""
    contexts = np.asarray(contexts, dtype=np.float64)
    mean, std = np.broadcast_to(mean, len(contexts))[:, None], np.broadcast_to(std, len(contexts))[:, None]
    if method == PERSISTENCE:
        return np.repeat(contexts[:, -1:], steps, axis=1)
    if method == TRAINING_MEAN:
        return np.repeat(mean, steps, axis=1)
    season = season_of(method)
    if season is not None:
        # Step k forecasts the reading whole seasons back from its target, the latest one known:
        # the context's entry (k - 1) % season - season.
        return contexts[:, [(step - 1) % season - season for step in range(1, steps + 1)]]
    if method in STATISTICAL_MODELS and statistical is not None:
        return np.asarray(statistical(contexts, steps), dtype=np.float64)
    if is_lstm(method) and model is not None:
        seq_len, horizon, predict = model
        normalized = np.clip(
            (contexts[:, -readings_needed(seq_len, horizon) :] - mean) / std, -NORMALIZED_BOUND, NORMALIZED_BOUND
        )
        forecasts = recursive_forecast(normalized.astype(np.float32), steps, seq_len, horizon, predict)
        return forecasts.astype(np.float64) * std + mean
    raise ValueError(f"cannot forecast with {method!r} without its model")


def backtest_origins(times_us: np.ndarray, start_us: int, end_us: int, interval_us: int, context: int, steps: int):
    """The indices of one sensor's grid points (``times_us``, ascending) from which a forecast of
    ``steps`` can be checked against readings: its ``context`` points and its ``steps`` targets
    are consecutive grid points, and every target falls in [start_us, end_us)."""
    times_us = np.asarray(times_us, dtype=np.int64)
    span = context - 1 + steps
    if len(times_us) <= span:
        return np.array([], dtype=np.int64)
    segment = np.concatenate([[0], np.cumsum(np.diff(times_us) != interval_us)])
    origin = np.arange(context - 1, len(times_us) - steps)
    first, last = origin - (context - 1), origin + steps
    whole = segment[first] == segment[last]
    inside = (times_us[origin + 1] >= start_us) & (times_us[last] < end_us)
    return origin[whole & inside]


def contexts_and_actuals(values: np.ndarray, origins: np.ndarray, context: int, steps: int):
    """Each origin's context (its last ``context`` values) and the ``steps`` values after it."""
    values = np.asarray(values, dtype=np.float64)
    before = origins[:, None] + np.arange(-context + 1, 1)
    after = origins[:, None] + np.arange(1, steps + 1)
    return values[before], values[after]
