"""Each sensor's forecasting method, chosen on the validation windows, then run from the readings
as the forecaster runs it, ``steps`` ahead from every origin whose targets fall in a period: the
calibration period's residuals calibrate the prediction intervals (sensor_lstm.forecasting.intervals),
the test period's say how often the intervals held. One ``applyInPandas`` pass per period, each
sensor's readings in one group; the LSTM is built once per Python worker."""

from __future__ import annotations

import hashlib
import json
import pickle
from collections.abc import Callable

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame

from sensor_lstm.forecasting import intervals
from sensor_lstm.forecasting.methods import (
    backtest_origins,
    contexts_and_actuals,
    filled_grid,
    forecast_context,
    forecast_paths,
    is_lstm,
    statistical_forward,
)
from sensor_lstm.scoring import PERSISTENCE
from sensor_lstm.settings.table import STATISTICAL_MODELS
from sensor_lstm.training import model as lstm

# Origins per sensor and period at most, evenly spaced: bounds the LSTM's work on long lookbacks,
# and a statistical model's, which forecasts each origin from its whole history (MSTL decomposes it).
MAX_ORIGINS = 2000
MAX_STATISTICAL_ORIGINS = 200
# Residual rows per sensor that go into the pool sensors with few calibration windows borrow.
POOL_SAMPLE = 200
NO_VALIDATION_WINDOW = "no validation window: persistence"
RESULT_SCHEMA = "sensor_id string, result string"
_MODELS: dict[str, object] = {}  # spec digest -> model, for the Python worker's life


def choose_methods(scores: dict[tuple[str, str], dict], candidates: list[str], sensors: list[str]) -> dict:
    """Per sensor, the candidate with the lowest validation RMSE, and why: {sensor: {"method",
    "why"}}. A sensor without a validation window gets persistence."""
    chosen = {}
    for sensor in sensors:
        ranked = sorted(
            (scores[name, sensor]["rmse"], name) for name in candidates if "rmse" in scores.get((name, sensor), {})
        )
        if not ranked:
            chosen[sensor] = {"method": PERSISTENCE, "why": NO_VALIDATION_WINDOW}
            continue
        (best, method), windows = ranked[0], scores[ranked[0][1], sensor]["windows"]
        runner_up = f", then {ranked[1][1]}'s {ranked[1][0]:.4g}" if len(ranked) > 1 else ""
        chosen[sensor] = {
            "method": method,
            "why": f"lowest validation RMSE, {best:.4g} over {windows} windows{runner_up}",
        }
    return chosen


def cached_model(spec):
    key = hashlib.sha256(spec[0].encode() + b"".join(np.asarray(w).tobytes() for w in spec[1])).hexdigest()
    if key not in _MODELS:
        lstm.limit_tensorflow_threads(1)
        _MODELS[key] = lstm.model_from_spec(spec)
    return _MODELS[key]


def sensor_residuals(frame: pd.DataFrame, plan: dict, setup: dict, period: tuple[int, int]):
    """Residuals (reading - forecast), (origins, steps), of the sensor's method from every origin
    (at most MAX_ORIGINS, evenly spaced) whose targets fall in ``period`` [start_us, end_us), and
    each origin's local scale (intervals.local_scales), as the forecaster computes it."""
    frame = frame.sort_values("timestamp")
    times_us = frame["timestamp"].to_numpy(dtype="datetime64[us]").astype(np.int64)
    values = frame["reading"].to_numpy(dtype=np.float64)
    method, steps = plan["method"], setup["steps"]
    context = forecast_context(method, setup["seq_len"], setup["horizon"], setup["scale_window"], plan)
    real = None
    if method in STATISTICAL_MODELS:  # as the forecaster serves it: over gaps filled by interpolation
        times_us, values, real = filled_grid(times_us, values, setup["interval_us"])
    origins = backtest_origins(times_us, *period, setup["interval_us"], context, steps)
    if real is not None:  # scored against real readings only
        origins = origins[np.all(real[origins[:, None] + np.arange(1, steps + 1)], axis=1)]
    most = MAX_STATISTICAL_ORIGINS if method in STATISTICAL_MODELS else MAX_ORIGINS
    if len(origins) > most:
        origins = origins[np.linspace(0, len(origins) - 1, most).round().astype(int)]
    if not len(origins):
        return np.zeros((0, steps)), np.zeros(0)
    contexts, actuals = contexts_and_actuals(values, origins, context, steps)
    model = None
    if is_lstm(method):
        partition = plan.get("partition")
        network = cached_model(setup["lstm_spec"] if partition is None else setup["partition_specs"][partition])
        model = (
            setup["seq_len"],
            setup["horizon"],
            lambda windows: network.predict(np.asarray(windows, np.float32)[:, :, None], verbose=0)[:, 0],
        )
    statistical = None
    if method in STATISTICAL_MODELS:
        fitted = pickle.loads(setup["statistical_models"][frame["sensor_id"].iloc[0]])
        last_indices = times_us[origins] // setup["interval_us"]
        statistical = statistical_forward(fitted, plan["history"], plan["season"], last_indices)
    residuals = actuals - forecast_paths(method, contexts, steps, plan["mean"], plan["std"], model, statistical)
    return residuals, intervals.local_scales(contexts, setup["scale_window"], plan["scale_floor"])


def per_sensor(readings: DataFrame, summarize: Callable[..., dict], plans, setup, period) -> dict:
    """``summarize(sensor, residuals, scales)`` of every planned sensor's residuals in ``period``, by sensor."""

    def run(frame: pd.DataFrame) -> pd.DataFrame:
        sensor = frame["sensor_id"].iloc[0]
        summary = summarize(sensor, *sensor_residuals(frame, plans[sensor], setup, period))
        return pd.DataFrame({"sensor_id": [sensor], "result": [json.dumps(summary)]})

    planned = readings.where(readings.sensor_id.isin(list(plans)))
    rows = planned.groupBy("sensor_id").applyInPandas(run, RESULT_SCHEMA).collect()
    return {row["sensor_id"]: json.loads(row["result"]) for row in rows}


def calibrate(readings: DataFrame, plans: dict, setup: dict, period: tuple[int, int]) -> dict:
    """Per sensor: its calibration windows and interval offsets (in units of the local scale), from
    its own scores or, with fewer than intervals.MIN_CALIBRATION_WINDOWS, from the pool of every
    sensor's."""

    def summarize(sensor: str, residuals: np.ndarray, scales: np.ndarray) -> dict:
        scores = residuals / scales[:, None]
        own = len(scores) >= intervals.MIN_CALIBRATION_WINDOWS
        sample = scores[np.linspace(0, len(scores) - 1, min(len(scores), POOL_SAMPLE)).astype(int)]
        return {
            "windows": len(scores),
            "offsets": intervals.level_offsets(scores) if own else None,
            "pool": sample.tolist(),
        }

    found = per_sensor(readings, summarize, plans, setup, period)
    pool = np.array([row for result in found.values() for row in result["pool"]]).reshape(-1, setup["steps"])
    calibrated = {}
    for sensor in plans:
        result = found.get(sensor, {"windows": 0, "offsets": None})
        own = result["offsets"] is not None
        calibrated[sensor] = {
            "calibration_windows": result["windows"],
            "offsets": result["offsets"] if own else intervals.level_offsets(pool),
            "calibrated_on": "own residuals" if own else f"the pool of {len(pool)} scored windows of every sensor",
        }
    return calibrated


def coverage(readings: DataFrame, plans: dict, setup: dict, period: tuple[int, int]) -> dict:
    """Per sensor, the test residuals its intervals hold: {"windows", "steps_scored", "covered_80", ...}."""

    def summarize(sensor: str, residuals: np.ndarray, scales: np.ndarray) -> dict:
        counted = intervals.coverage_counts(residuals, scales, plans[sensor]["offsets"])
        return {"windows": len(residuals), "steps_scored": int(residuals.size), **counted}

    return per_sensor(readings, summarize, plans, setup, period)
