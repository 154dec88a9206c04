"""The forecaster: the pipeline's product as one MLflow pyfunc that stands on its own. Given a
sensor's raw readings in its own units, it puts them on the sampling grid, forecasts the next
steps with the method evaluate chose for that sensor (the LSTM champion, the LSTM of the sensor's
partition, a statistical model or a naive forecast), and
adds the prediction intervals calibrated for that sensor and step. The forecast job and
``mlflow models serve`` run this same code.

Input, one row per sensor: ``sensor_id``, ``timestamps`` (ISO-8601 strings; without a zone, UTC)
and ``readings`` (numbers), at least the latest readings its method needs (consecutive on the grid;
a statistical method's gaps are filled by linear interpolation, as it was fitted). Output, one row per
input row: ``sensor_id``, ``method``, ``issued_at`` (the last grid point read), ``target_times``,
``forecast``, ``lower_80``, ``upper_80``, ``lower_95``, ``upper_95`` (arrays over the steps) and
``reason``: empty when forecast, else why not (then the arrays are empty).

The bundle (``forecaster.json``) holds the grid, seq_len, horizon, steps and the intervals' scale
window, and per sensor its method, statistics, scale floor, interval offsets (in units of the
local scale, sensor_lstm.forecasting.intervals) and, for a statistical method, its ``history``, for
``partition_baselines`` its ``partition``; the LSTMs' architectures and weights are artifacts of
their own (the champion's, and each partition model in use), and so are the statistical methods'
fitted statsforecast models (pickled, one per sensor that uses one). Format 1 bundles (before the
local scale) have offsets in the sensor's units; format 2, no statistical method; format 3, no
partition model.
Only NumPy, pandas, MLflow, and for the methods in use tf_keras or statsforecast, are imported.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from urllib.parse import quote, unquote

import numpy as np
import pandas as pd

from sensor_lstm.forecasting.intervals import LEVELS, bound_name, local_scales
from sensor_lstm.forecasting.methods import (
    PARTITION_BASELINES,
    filled_grid,
    forecast_context,
    forecast_paths,
    is_lstm,
    statistical_forward,
)
from sensor_lstm.settings.table import STATISTICAL_MODELS

BUNDLE_FORMAT = 4
# 1: absolute offsets, what the first release registered; 2: no statistical method; 3: no partition model.
READABLE_FORMATS = (1, 2, 3, BUNDLE_FORMAT)
BOUNDS = tuple(bound_name(side, level) for level in LEVELS for side in ("lower", "upper"))
OUTPUT_COLUMNS = ("sensor_id", "method", "issued_at", "target_times", "forecast", *BOUNDS, "reason")
# Why a sensor gets no forecast.
UNKNOWN_SENSOR = "not_in_the_forecasters_sensors"
NO_READINGS = "no_readings"
TOO_FEW_READINGS = "too_few_readings"
GAP_IN_LATEST_READINGS = "gap_in_latest_readings"


def grid_points(times_us: np.ndarray, values: np.ndarray, interval_us: int, aggregate: str):
    """Readings on the sampling grid, as sensor_lstm.readings.grid.on_grid puts them: each at its
    nearest multiple of the interval (a tie to the earlier), the readings of a point merged by
    ``aggregate`` (mean, nearest, last). Returns the points (ascending) and their values."""
    times_us, values = np.asarray(times_us, dtype=np.int64), np.asarray(values, dtype=np.float64)
    order = np.argsort(times_us, kind="stable")
    times_us, values = times_us[order], values[order]
    past_half = times_us - interval_us // 2
    remainder = np.mod(past_half, interval_us)
    points = past_half - remainder + np.where(remainder > 0, interval_us, 0)
    unique, first = np.unique(points, return_index=True)
    if aggregate == "mean":
        merged = np.add.reduceat(values, first) / np.diff(np.append(first, len(points)))
    elif aggregate == "last":
        merged = values[np.append(first[1:], len(points)) - 1]
    elif aggregate == "nearest":
        distance = np.abs(times_us - points)
        nearest = np.lexsort((times_us, distance, points))  # by point, then distance, then time
        merged = values[nearest[np.searchsorted(points[nearest], unique)]]
    else:
        raise ValueError(f"grid aggregate {aggregate!r} is none of mean, nearest, last")
    return unique, merged


def read_timestamps(texts) -> np.ndarray:
    """ISO-8601 strings (UTC where they name no zone) as microseconds since the epoch."""
    parsed = pd.to_datetime(pd.Series(list(texts), dtype=object), utc=True, format="ISO8601")
    return parsed.to_numpy(dtype="datetime64[us]").astype(np.int64)


def iso(micros: np.ndarray) -> list[str]:
    return [f"{moment}Z" for moment in np.asarray(micros, dtype=np.int64).astype("datetime64[us]").astype(str)]


class Forecaster:
    """A bundle and its models (those the sensors' methods use), forecasting sensors from raw readings."""

    def __init__(
        self,
        bundle: dict,
        lstm_model=None,
        statistical_models: dict | None = None,
        partition_models: dict | None = None,
    ):
        if bundle.get("format") not in READABLE_FORMATS:
            raise ValueError(f"forecaster bundle format {bundle.get('format')!r}, this code reads {READABLE_FORMATS}")
        self.bundle, self.lstm_model = bundle, lstm_model
        self.statistical_models = statistical_models or {}  # by sensor, fitted
        self.partition_models = partition_models or {}  # by partition
        self.interval_us = bundle["interval_seconds"] * 1_000_000
        self.scale_window = bundle.get("scale_window")

    def readings_needed(self, plan: dict) -> int:
        """The latest consecutive readings a sensor with this plan (its bundle entry) is forecast from."""
        bundle = self.bundle
        return forecast_context(plan["method"], bundle["seq_len"], bundle["horizon"], self.scale_window, plan)

    def lstm_for(self, sensor: dict):
        """The LSTM that forecasts a sensor with an LSTM method, as forecast_paths' ``model``."""
        if sensor["method"] == PARTITION_BASELINES:
            network = self.partition_models[sensor["partition"]]
        else:
            network = self.lstm_model

        def predict_normalized(windows: np.ndarray) -> np.ndarray:
            return network.predict(np.asarray(windows, dtype=np.float32)[:, :, np.newaxis], verbose=0)[:, 0]

        return self.bundle["seq_len"], self.bundle["horizon"], predict_normalized

    def forecast(self, sensor_id: str, times_us: np.ndarray, readings: np.ndarray) -> dict:
        """One output row (OUTPUT_COLUMNS) for one sensor's raw readings."""
        row = {"sensor_id": sensor_id, "method": "", "issued_at": "", "target_times": [], "forecast": []}
        row |= {bound: [] for bound in BOUNDS}
        sensor = self.bundle["sensors"].get(sensor_id)
        if sensor is None:
            return row | {"reason": UNKNOWN_SENSOR}
        if len(times_us) == 0:
            return row | {"reason": NO_READINGS}
        points, values = grid_points(times_us, readings, self.interval_us, self.bundle["grid_aggregate"])
        method, steps = sensor["method"], self.bundle["steps"]
        if method in STATISTICAL_MODELS:  # fitted and scored over gaps filled so: served so
            points, values, _ = filled_grid(points, values, self.interval_us)
        needed = self.readings_needed(sensor)
        if len(points) < needed:
            return row | {"reason": TOO_FEW_READINGS}
        if (np.diff(points[-needed:]) != self.interval_us).any():
            return row | {"reason": GAP_IN_LATEST_READINGS}
        model = self.lstm_for(sensor) if is_lstm(method) else None
        statistical = None
        if sensor_id in self.statistical_models:
            last_index = np.array([points[-1] // self.interval_us])
            statistical = statistical_forward(
                self.statistical_models[sensor_id], sensor["history"], sensor["season"], last_index
            )
        context = values[None, -needed:]
        paths = forecast_paths(method, context, steps, sensor["mean"], sensor["std"], model, statistical)[0]
        scale = 1.0
        if self.scale_window:
            scale = local_scales(values[None, -needed:], self.scale_window, sensor["scale_floor"])[0]
        targets = points[-1] + self.interval_us * np.arange(1, steps + 1)
        row |= {
            "method": method,
            "issued_at": iso(points[-1:])[0],
            "target_times": iso(targets),
            "forecast": paths.tolist(),
            "reason": "",
        }
        return row | {bound: (paths + np.asarray(sensor["offsets"][bound]) * scale).tolist() for bound in BOUNDS}

    def forecast_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        rows = [
            self.forecast(str(sensor), read_timestamps(times), np.asarray(readings, dtype=np.float64))
            for sensor, times, readings in zip(frame["sensor_id"], frame["timestamps"], frame["readings"], strict=True)
        ]
        return pd.DataFrame(rows, columns=list(OUTPUT_COLUMNS))


def load_lstm(architecture_path: str, weights_path: str):
    from sensor_lstm.training.model import model_from_spec

    with np.load(weights_path) as stored:
        weights = [stored[f"w{index}"] for index in range(len(stored.files))]
    return model_from_spec((Path(architecture_path).read_text(), weights))


def write_spec(spec, architecture_path: Path, weights_path: Path) -> None:
    architecture, weights = spec
    architecture_path.write_text(architecture)
    np.savez(weights_path, **{f"w{index}": array for index, array in enumerate(weights)})


def save_lstm(spec, folder: Path) -> dict[str, str]:
    """The LSTM spec as the pyfunc's artifacts: architecture JSON and weights."""
    write_spec(spec, folder / "lstm.json", folder / "lstm_weights.npz")
    return {"lstm_architecture": str(folder / "lstm.json"), "lstm_weights": str(folder / "lstm_weights.npz")}


def save_partition_models(specs: dict[int, tuple], folder: Path) -> dict[str, str]:
    """The partition models in use, by partition, as the pyfunc's artifact: architecture and weights each."""
    stored = folder / "partition_models"
    stored.mkdir()
    for partition, spec in specs.items():
        write_spec(spec, stored / f"partition-{partition}.json", stored / f"partition-{partition}.npz")
    return {"partition_models": str(stored)}


def load_partition_models(folder: str) -> dict:
    """save_partition_models' models, by partition."""
    return {
        int(path.stem.removeprefix("partition-")): load_lstm(str(path), str(path.with_suffix(".npz")))
        for path in sorted(Path(folder).glob("partition-*.json"))
    }


def save_statistical(models: dict[str, bytes], folder: Path) -> dict[str, str]:
    """Pickled fitted statistical models, by sensor, as the pyfunc's artifact: one file each."""
    stored = folder / "statistical_models"
    stored.mkdir()
    for sensor, pickled in models.items():
        (stored / f"{quote(sensor, safe='')}.pkl").write_bytes(pickled)
    return {"statistical_models": str(stored)}


def load_statistical(folder: str) -> dict:
    """save_statistical's models, unpickled (statsforecast's classes), by sensor."""
    return {unquote(path.stem): pickle.loads(path.read_bytes()) for path in sorted(Path(folder).glob("*.pkl"))}


def pyfunc_class():
    """The MLflow PythonModel, defined on use so that importing this module needs no MLflow."""
    import mlflow.pyfunc

    class SensorForecaster(mlflow.pyfunc.PythonModel):
        def load_context(self, context):
            bundle = json.loads(Path(context.artifacts["bundle"]).read_text())
            lstm_model = None
            if "lstm_architecture" in context.artifacts:
                lstm_model = load_lstm(context.artifacts["lstm_architecture"], context.artifacts["lstm_weights"])
            statistical = None
            if "statistical_models" in context.artifacts:
                statistical = load_statistical(context.artifacts["statistical_models"])
            partition_models = None
            if "partition_models" in context.artifacts:
                partition_models = load_partition_models(context.artifacts["partition_models"])
            self.forecaster = Forecaster(bundle, lstm_model, statistical, partition_models)

        def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
            return self.forecaster.forecast_frame(model_input)

    return SensorForecaster
