"""One sensor's statistical forecasters, fitted and scored where its readings are (a Spark
``applyInPandas`` group): each candidate (sensor_lstm.statistical.candidates) fitted on the history
before the train cut, then its one-step forecasts (sensor_lstm.statistical.one_step) at the
scored targets, an evenly spaced subsample of each period's real readings. pandas in, pandas out."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sensor_lstm.statistical.candidates import candidates
from sensor_lstm.statistical.one_step import evenly_spaced, filled_grid, one_step

RESULT_COLUMNS = ("sensor_id", "model", "period", "target_time", "forecast", "fit")


@dataclass(frozen=True)
class FitSetup:
    """What every sensor's fit takes: the grid, the periods (each [start_us, end_us), by name) whose
    targets are scored, the train cut, the seasons, and the bounds on the work."""

    interval_us: int
    train_cut_us: int
    periods: dict[str, tuple[int, int]]
    seasonal_lags: tuple[int, ...]
    fit_history: int  # readings before the train cut each model is fitted on, at most
    targets_per_period: int  # scored targets per period and sensor, at most


def scored_targets(points: np.ndarray, real: np.ndarray, setup: FitSetup) -> dict[str, np.ndarray]:
    """Per period, the indices of the real readings in it, at most ``targets_per_period``, evenly spaced."""
    return {
        period: evenly_spaced(np.flatnonzero(real & (points >= start) & (points < end)), setup.targets_per_period)
        for period, (start, end) in setup.periods.items()
    }


def sensor_forecasts(frame: pd.DataFrame, setup: FitSetup) -> pd.DataFrame:
    """Rows (RESULT_COLUMNS) for one sensor's readings on the grid (sensor_id, timestamp, reading):
    each model's forecast per scored target, and one row per model with ``fit`` (JSON: seasons,
    fit seconds, or why it was not fitted) and no target."""
    sensor = frame["sensor_id"].iloc[0]
    frame = frame.sort_values("timestamp")
    times_us = frame["timestamp"].to_numpy(dtype="datetime64[us]").astype(np.int64)
    points, y, real = filled_grid(times_us, frame["reading"].to_numpy(), setup.interval_us)
    fit_end = int(np.searchsorted(points, setup.train_cut_us))
    chosen = candidates(list(setup.seasonal_lags), setup.interval_us // 1_000_000, min(fit_end, setup.fit_history))
    targets = scored_targets(points, real, setup)
    rows = [
        {"model": name, "fit": json.dumps({"not_fitted": reason})}
        for name, reason in chosen.left_out.items()
        if not name.startswith("season_")
    ]
    every = np.concatenate([np.asarray(indices, dtype=np.int64) for indices in targets.values()])
    period_of = np.repeat(list(targets), [len(indices) for indices in targets.values()])
    for name, seasons in chosen.seasons.items():
        started = time.perf_counter()
        forecasts, _ = one_step(name, seasons, y, fit_end, every, setup.fit_history)
        rows += [
            {"model": name, "period": period, "target_time": int(points[i]), "forecast": float(value)}
            for i, period, value in zip(every, period_of, forecasts, strict=True)
        ]
        fitted = {"seasons": seasons, "seconds": round(time.perf_counter() - started, 3)}
        rows.append({"model": name, "fit": json.dumps(fitted | {"seasons_left_out": chosen.left_out})})
    result = pd.DataFrame(rows, columns=[column for column in RESULT_COLUMNS if column != "sensor_id"])
    result["target_time"] = pd.to_datetime(result["target_time"], unit="us")
    return result.assign(sensor_id=sensor)[list(RESULT_COLUMNS)]
