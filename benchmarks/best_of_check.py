"""The per-sensor best-of against a rival forecaster on every test window, not only the statistical
models' sample of them: both forecast every test window that evaluate scores (those with every
seasonal naive forecast) one step ahead, as they are scored and served, and the RMSE ratio comes
with a 95% interval from a paired block bootstrap (blocks of one season of consecutive windows,
since neighbouring windows' errors are alike). bench_quality runs it where the sample's best
single forecaster is not the one the forecaster chose. ``--split validation`` does the same on the
validation windows the choice was made on. Prints one JSON line.

Forecasters: ``distributed`` (the run's model version), ``partition_baselines`` (each sensor's
partition model), a statsforecast model of fit_statistical (forward from its fitted parameters over
the history it was fitted on, gaps filled as it was fitted), and the naive forecasts.

Example:
    python -m benchmarks.best_of_check --lake var/bench-quality/greensboro_temperature/lake \\
        --run-date 2026-01-01 --sensor greensboro_temperature_c --best-of partition_baselines --rival auto_arima
"""

from __future__ import annotations

import argparse
import json
import pickle
import zipfile
from datetime import date
from urllib.parse import quote

import numpy as np
import pyarrow.parquet as pq

from benchmarks.reference_fit import windows, with_every_seasonal_forecast
from sensor_lstm.evaluation.evaluate import load_model_spec
from sensor_lstm.evaluation.scores import BASELINES, DISTRIBUTED
from sensor_lstm.evaluation.statistical_fits import MODELS_ARTIFACT
from sensor_lstm.forecasting.forecaster import grid_points
from sensor_lstm.forecasting.methods import filled_grid, season_aligned_length, season_of
from sensor_lstm.lake import Lake, datasets
from sensor_lstm.lake.reports import (
    FitStatisticalReport,
    PrepareSequencesReport,
    TrainBaselineReport,
    TrainDistributedReport,
)
from sensor_lstm.scoring import PERSISTENCE, TRAINING_MEAN
from sensor_lstm.settings.table import STATISTICAL_MODELS
from sensor_lstm.training import model as lstm
from sensor_lstm.windows import tensors

RESAMPLES = 10_000


def block_bootstrap_ratio(errors: np.ndarray, rival_errors: np.ndarray, block: int, seed: int = 0) -> list[float]:
    """The 95% interval of RMSE(errors) / RMSE(rival_errors) over circular blocks of ``block``
    consecutive windows, resampled together for both."""
    count = len(errors)
    block = max(1, min(block, count))
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, count, (RESAMPLES, -(-count // block)))
    rows = ((starts[:, :, None] + np.arange(block)) % count).reshape(RESAMPLES, -1)[:, :count]
    ratios = np.sqrt(errors[rows].mean(axis=1) / rival_errors[rows].mean(axis=1))
    return [float(value) for value in np.percentile(ratios, [2.5, 97.5])]


class Forecasts:
    """One sensor's windows of a split and every forecaster's one-step forecast of them, in original units."""

    def __init__(self, lake: str, day: str, sensor: str, split: str = "test"):
        self.lake, self.day, self.sensor = Lake(lake), date.fromisoformat(day), sensor
        every = with_every_seasonal_forecast(windows(lake, day, split))
        self.windows = every.filter(np.asarray(every.column("sensor_id").to_pylist()) == sensor)
        stats = pq.read_table(self.lake.partition(datasets.SEQUENCE_STATS, self.day)).to_pylist()
        self.stats = next(row for row in stats if row["sensor_id"] == sensor)
        self.x, y = tensors.arrow_window_tensors(self.windows)
        self.actual = self.original(y)
        self.prepared = PrepareSequencesReport.read(self.lake, self.day)

    def original(self, normalized: np.ndarray) -> np.ndarray:
        return tensors.to_original_units(np.asarray(normalized), self.stats["mean"], self.stats["std"])

    def of(self, forecaster: str) -> np.ndarray:
        if forecaster in (DISTRIBUTED, BASELINES):
            return self.original(lstm.model_from_spec(self.model_spec(forecaster)).predict(self.x, verbose=0)[:, 0])
        if forecaster in STATISTICAL_MODELS:
            return self.statistical(forecaster)
        if forecaster == PERSISTENCE:
            return self.original(self.x[:, -1, 0])
        if forecaster == TRAINING_MEAN:
            return np.full(len(self.actual), float(self.stats["mean"]))
        season = season_of(forecaster)
        if season is not None:
            column = self.prepared.seasonal_periods.index(season)
            return self.original(tensors.seasonal_naive_matrix(self.windows)[:, column])
        raise ValueError(f"no forecasts of {forecaster!r} here")

    def model_spec(self, forecaster: str):
        if forecaster == DISTRIBUTED:
            trained = TrainDistributedReport.read(self.lake, self.day)
            return load_model_spec(f"models:/{trained.model_name}/{trained.model_version}")
        baseline = TrainBaselineReport.read(self.lake, self.day)
        partition = next(row["partition"] for row in baseline.trained_partitions() if self.sensor in row["sensors"])
        return load_model_spec(f"runs:/{baseline.mlflow_run_id}/partition-{partition}")

    def statistical(self, model: str) -> np.ndarray:
        import mlflow

        fitted_report = FitStatisticalReport.read(self.lake, self.day)
        row = next(row for row in fitted_report.per_sensor if (row["sensor_id"], row["model"]) == (self.sensor, model))
        history, season = row["history"], (row["seasons"] or [1])[0]
        archive = mlflow.artifacts.download_artifacts(f"runs:/{fitted_report.mlflow_run_id}/{MODELS_ARTIFACT}")
        with zipfile.ZipFile(archive) as models:
            fitted = pickle.loads(models.read(f"{quote(self.sensor, safe='')}/{model}.pkl"))
        interval_us = self.prepared.sampling_interval_seconds * 1_000_000
        readings = pq.read_table(self.lake.dataset(datasets.READINGS)).to_pandas()
        mine = readings[readings.sensor_id == self.sensor]
        times_us = mine.timestamp.to_numpy(dtype="datetime64[us]").astype(np.int64)
        points, values = grid_points(times_us, mine.reading.to_numpy(), interval_us, self.prepared.grid_aggregate)
        points, values, _ = filled_grid(points, values, interval_us)
        targets = self.windows.column("target_time").to_numpy().astype("datetime64[us]").astype(np.int64)
        forecasts = []
        for target in targets:
            last = int(np.searchsorted(points, target)) - 1
            length = season_aligned_length(int(points[last] // interval_us), history, season)
            context = values[last - length + 1 : last + 1]
            forecasts.append(float(np.asarray(fitted.forward(context, h=1)["mean"])[0]))
        return np.array(forecasts)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lake", required=True)
    parser.add_argument("--run-date", required=True)
    parser.add_argument("--sensor", required=True)
    parser.add_argument("--best-of", required=True)
    parser.add_argument("--rival", required=True)
    parser.add_argument("--split", default="test", choices=["test", "validation"])
    args = parser.parse_args(argv)
    forecasts = Forecasts(args.lake, args.run_date, args.sensor, args.split)
    errors = {name: (forecasts.of(name) - forecasts.actual) ** 2 for name in (args.best_of, args.rival)}
    block = forecasts.prepared.seasonal_periods[0] if forecasts.prepared.seasonal_periods else 1
    rmse = {name: float(np.sqrt(squared.mean())) for name, squared in errors.items()}
    print(
        json.dumps(
            {
                "windows": len(forecasts.actual),
                "rmse": rmse,
                "ratio": rmse[args.best_of] / rmse[args.rival],
                "interval": block_bootstrap_ratio(errors[args.best_of], errors[args.rival], block),
                "block": block,
            }
        )
    )


if __name__ == "__main__":
    main()
