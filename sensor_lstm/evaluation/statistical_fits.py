"""What fit_statistical left for evaluate: its one-step forecasts of each sensor's sampled targets,
joined to the windows those targets end, and its fitted models, pickled in its MLflow run."""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from datetime import date
from urllib.parse import quote

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from sensor_lstm.lake import Lake, datasets
from sensor_lstm.lake.reports import FitStatisticalReport

MODELS_ARTIFACT = "statistical_models.zip"


@dataclass(frozen=True)
class StatisticalFits:
    report: FitStatisticalReport
    forecasts_path: str

    def source(self) -> str:
        return f"statsforecast, runs:/{self.report.mlflow_run_id}/{MODELS_ARTIFACT}"

    def history(self, sensor: str, model: str) -> dict:
        """What ``model`` forecasts ``sensor`` from: ``history`` (the readings it was fitted on) and
        ``season`` (its first season, 1 for none), as methods.statistical_forward takes them."""
        row = next(row for row in self.report.per_sensor if (row["sensor_id"], row["model"]) == (sensor, model))
        return {"history": row["history"], "season": (row["seasons"] or [1])[0]}

    def pickled(self, chosen: dict[str, str]) -> dict[str, bytes]:
        """The fitted model of each sensor in ``chosen`` (sensor -> model), pickled, from the MLflow run."""
        if not chosen:
            return {}
        import mlflow

        archive = mlflow.artifacts.download_artifacts(f"runs:/{self.report.mlflow_run_id}/{MODELS_ARTIFACT}")
        with zipfile.ZipFile(archive) as models:
            return {sensor: models.read(f"{quote(sensor, safe='')}/{model}.pkl") for sensor, model in chosen.items()}


def statistical_fits(lake: Lake, run_date: date) -> StatisticalFits | None:
    """fit_statistical's output for ``run_date``; None when it forecast no target (or did not run)."""
    path = lake.partition(datasets.STATISTICAL_FORECASTS, run_date)
    if not lake.exists(path):
        return None
    return StatisticalFits(FitStatisticalReport.read(lake, run_date), path)


def with_statistical_forecasts(
    spark: SparkSession, fits: StatisticalFits, period: str, windows: DataFrame
) -> tuple[DataFrame, tuple[str, ...]]:
    """The ``windows`` (sensor_id, target_time, ...) whose targets the statistical models forecast in
    ``period``, with one column of forecasts per model (null where a model was not fitted for the
    sensor); and the models."""
    forecasts = spark.read.parquet(fits.forecasts_path).where(F.col("period") == period)
    models = tuple(sorted(row["model"] for row in forecasts.select("model").distinct().collect()))
    by_target = forecasts.groupBy("sensor_id", "target_time").pivot("model", list(models)).agg(F.first("forecast"))
    return windows.join(by_target, ["sensor_id", "target_time"]), models
