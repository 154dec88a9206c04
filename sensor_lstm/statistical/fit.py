"""One sensor's statistical forecasters, fitted and scored where its readings are (a Spark
``applyInPandas`` group): each candidate (sensor_lstm.statistical.candidates) fitted on the history
before the train cut, then its one-step forecasts (sensor_lstm.statistical.one_step) at the
scored targets, an evenly spaced subsample of each period's real readings. The models run
cheapest first within the sensor's time budget; one that cannot, or whose fit fails, is left out
with the reason. pandas in, pandas out."""

from __future__ import annotations

import json
import pickle
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sensor_lstm.forecasting.methods import filled_grid
from sensor_lstm.statistical.candidates import MODELS, candidates
from sensor_lstm.statistical.one_step import OverBudget, evenly_spaced, one_step

RESULT_COLUMNS = ("sensor_id", "model", "period", "target_time", "forecast", "fit", "fitted_model")
# Fewer readings before the train cut than this, and no model is fitted.
MIN_FIT_READINGS = 10


@dataclass(frozen=True)
class FitSetup:
    """What every sensor's fit takes: the grid, the periods (each [start_us, end_us), by name) whose
    targets are scored, the train cut, the seasons, the models, and the bounds on the work."""

    interval_us: int
    train_cut_us: int
    periods: dict[str, tuple[int, int]]
    seasonal_lags: tuple[int, ...]
    fit_history: int  # readings before the train cut (or a target) each model is fitted on, at most
    targets_per_period: int  # scored targets per period and sensor, at most
    models: tuple[str, ...] = MODELS
    sensor_seconds: float = float("inf")  # each sensor's time budget for all its models
    horizon: int = 1  # steps from a forecast's last reading to its target, as in the windows


def scored_targets(points: np.ndarray, real: np.ndarray, setup: FitSetup) -> dict[str, np.ndarray]:
    """Per period, the indices of the real readings in it, at most ``targets_per_period``, evenly spaced."""
    return {
        period: evenly_spaced(np.flatnonzero(real & (points >= start) & (points < end)), setup.targets_per_period)
        for period, (start, end) in setup.periods.items()
    }


def sensor_forecasts(frame: pd.DataFrame, setup: FitSetup) -> pd.DataFrame:
    """Rows (RESULT_COLUMNS) for one sensor's readings on the grid (sensor_id, timestamp, reading):
    each model's forecast per scored target, and one row per model with ``fit`` (JSON: seasons and
    seconds, or why it was not fitted), its pickled model and no target."""
    deadline = time.monotonic() + setup.sensor_seconds
    sensor = frame["sensor_id"].iloc[0]
    frame = frame.sort_values("timestamp")
    times_us = frame["timestamp"].to_numpy(dtype="datetime64[us]").astype(np.int64)
    points, y, real = filled_grid(times_us, frame["reading"].to_numpy(), setup.interval_us)
    fit_end = int(np.searchsorted(points, setup.train_cut_us))
    history = min(fit_end, setup.fit_history)
    chosen = candidates(list(setup.seasonal_lags), setup.interval_us // 1_000_000, history, setup.models)
    targets = scored_targets(points, real, setup)
    every = np.concatenate([np.asarray(indices, dtype=np.int64) for indices in targets.values()])
    period_of = np.repeat(list(targets), [len(indices) for indices in targets.values()])
    not_fitted = {name: reason for name, reason in chosen.left_out.items() if not name.startswith("season_")}
    if fit_end < MIN_FIT_READINGS or not len(every):
        why = f"{fit_end} readings before the train cut" if fit_end < MIN_FIT_READINGS else "no target to score"
        not_fitted |= dict.fromkeys(chosen.seasons, why)
    rows = [{"model": name, "fit": json.dumps({"not_fitted": reason})} for name, reason in not_fitted.items()]
    for name, seasons in chosen.seasons.items():
        if name in not_fitted:
            continue
        started = time.perf_counter()
        try:
            forecasts, fitted = one_step(
                name, seasons, y, fit_end, every, history, deadline, setup.horizon, int(points[0] // setup.interval_us)
            )
        except OverBudget as over:
            rows.append({"model": name, "fit": json.dumps({"not_fitted": f"over the time budget: {over}"})})
            continue
        except Exception as error:  # a model that cannot fit this sensor leaves the others to it
            rows.append({"model": name, "fit": json.dumps({"not_fitted": f"fit failed: {error!r}"})})
            continue
        rows += [
            {"model": name, "period": period, "target_time": int(points[i]), "forecast": float(value)}
            for i, period, value in zip(every, period_of, forecasts, strict=True)
        ]
        fit = {"seasons": seasons, "seconds": round(time.perf_counter() - started, 3), "targets": len(every)}
        fit["history"] = history  # the readings it was fitted on, and forecasts each target from
        rows.append(
            {
                "model": name,
                "fit": json.dumps(fit | {"seasons_left_out": chosen.left_out}),
                "fitted_model": pickle.dumps(fitted),
            }
        )
    result = pd.DataFrame(rows, columns=[column for column in RESULT_COLUMNS if column != "sensor_id"])
    result["target_time"] = pd.to_datetime(result["target_time"], unit="us")
    return result.assign(sensor_id=sensor)[list(RESULT_COLUMNS)]
