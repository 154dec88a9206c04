"""The fit_statistical stage: every sensor's statsforecast models fitted and scored one step ahead in
one Spark pass (the readings on the grid, grouped by sensor, each group run by
sensor_lstm.statistical.fit.sensor_forecasts on the periods prepare_sequences cut), the forecasts
written to the lake, one MLflow run with the per-sensor fits and the fitted models, and the
report. spark_jobs/fit_statistical.py runs it."""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import tempfile
import time
import zipfile
from argparse import Namespace
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from sensor_lstm import tracking
from sensor_lstm.lake import Lake, datasets, utc_day_start
from sensor_lstm.lake.reports import FitStatisticalReport, PrepareSequencesReport
from sensor_lstm.readings.deliveries import lookback_on_grid
from sensor_lstm.statistical.fit import FitSetup, sensor_forecasts

log = logging.getLogger("fit_statistical")

RESULT_SCHEMA = (
    "sensor_id string, model string, period string, target_time timestamp, forecast double, fit string, "
    "fitted_model binary"
)
FORECAST_COLUMNS = ("sensor_id", "model", "period", "target_time", "forecast")
FIT_TABLE_COLUMNS = ("sensor_id", "model", "seasons", "seconds", "targets", "not_fitted")


def micros(text: str) -> int:
    return int(pd.Timestamp(text).value // 1000)


def fit_setup(prepared: PrepareSequencesReport, run_date: date, args: Namespace) -> FitSetup:
    """The periods prepare_sequences cut for ``run_date`` whose targets are scored (validation, and
    test, which ends with the run day), each from its first window's target on, its grid and
    seasons, the models and the bounds on the work."""
    end = micros(utc_day_start(run_date + timedelta(days=1)).isoformat())
    train, calibration, test = (
        micros(cut) for cut in (prepared.train_cut, prepared.calibration_cut, prepared.test_cut)
    )
    interval_us = prepared.sampling_interval_seconds * 1_000_000
    first_target = (prepared.seq_len - 1 + prepared.horizon) * interval_us  # a window's span, as the cutter's
    return FitSetup(
        interval_us=interval_us,
        train_cut_us=train,
        periods={"validation": (train + first_target, calibration), "test": (test + first_target, end)},
        seasonal_lags=tuple(prepared.seasonal_lags),
        fit_history=max(1, round(args.statistical_fit_days * 86400 / prepared.sampling_interval_seconds)),
        targets_per_period=args.statistical_targets,
        models=tuple(args.statistical_models),
        sensor_seconds=args.statistical_sensor_seconds,
        horizon=prepared.horizon,
    )


def statistical_forecasts(readings: DataFrame, setup: FitSetup) -> DataFrame:
    """Each sensor's rows of sensor_forecasts, for ``readings`` on the grid (sensor_id, timestamp, reading)."""

    def fit(frame: pd.DataFrame) -> pd.DataFrame:
        return sensor_forecasts(frame, setup)

    return readings.select("sensor_id", "timestamp", "reading").groupBy("sensor_id").applyInPandas(fit, RESULT_SCHEMA)


def fit_rows(fits: list) -> list[dict]:
    """One row per sensor and model of the collected fit rows: seasons, seconds and targets, or not_fitted."""
    return sorted(
        ({"sensor_id": row["sensor_id"], "model": row["model"], **json.loads(row["fit"])} for row in fits),
        key=lambda row: (row["sensor_id"], row["model"]),
    )


def fit_table(rows: list[dict]) -> list[dict]:
    """fit_rows as a flat table (FIT_TABLE_COLUMNS): seasons as text, the missing values None."""
    return [
        {
            column: json.dumps(row["seasons"]) if column == "seasons" and "seasons" in row else row.get(column)
            for column in FIT_TABLE_COLUMNS
        }
        for row in rows
    ]


def fit_summary(rows: list[dict], models: list[str]) -> tuple[dict, dict]:
    """Per model, the sensors fitted, those not by reason, and the median and total fit seconds;
    and each sensor's seconds for all its models: median, max and total over the sensors."""
    summary = {}
    for model in models:
        mine = [row for row in rows if row["model"] == model]
        seconds = [row["seconds"] for row in mine if "seconds" in row]
        reasons: dict[str, int] = {}
        for row in mine:
            if "not_fitted" in row:
                reasons[row["not_fitted"]] = reasons.get(row["not_fitted"], 0) + 1
        summary[model] = {
            "sensors_fitted": len(seconds),
            "not_fitted": reasons,
            "median_seconds": float(np.median(seconds)) if seconds else None,
            "total_seconds": round(float(np.sum(seconds)), 3),
        }
    per_sensor: dict[str, float] = {}
    for row in rows:
        per_sensor[row["sensor_id"]] = per_sensor.get(row["sensor_id"], 0.0) + row.get("seconds", 0.0)
    spent = list(per_sensor.values()) or [0.0]
    sensor_seconds = {"median": float(np.median(spent)), "max": max(spent), "total": round(sum(spent), 3)}
    return summary, sensor_seconds


def write_forecasts(lake: Lake, forecasts: DataFrame, run_date: date) -> str:
    """Replace the run day's statistical forecasts, atomically; their path."""
    run_key = run_date.isoformat()
    lake.clear_stale_staging(datasets.STATISTICAL_FORECASTS, run_key)
    staged = lake.new_staging_path(datasets.STATISTICAL_FORECASTS, run_key)
    forecasts.withColumn("date", F.lit(run_date)).coalesce(1).write.partitionBy("date").parquet(staged)
    lake.swap_in_partitions(staged, datasets.STATISTICAL_FORECASTS, [run_date])
    return lake.partition(datasets.STATISTICAL_FORECASTS, run_date)


def models_archive(fits: list) -> bytes:
    """The fitted models, pickled, as one zip: <sensor>/<model>.pkl (the sensor's name URL-quoted)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for row in fits:
            if row["fitted_model"] is not None:
                archive.writestr(f"{quote(row['sensor_id'], safe='')}/{row['model']}.pkl", bytes(row["fitted_model"]))
    return buffer.getvalue()


def fit_statistical(spark: SparkSession, args: Namespace) -> FitStatisticalReport:
    """Fit and score every sensor's statistical models, log them, write the forecasts; the report."""
    experiment_id = tracking.reachable_experiment(args.experiment)  # before spending anything
    lake: Lake = args.lake
    prepared = PrepareSequencesReport.read(lake, args.run_date)
    setup = fit_setup(prepared, args.run_date, args)
    started = time.monotonic()
    with lake.readings_locked([date.fromisoformat(day) for day in prepared.lookback_days]):
        result = statistical_forecasts(lookback_on_grid(spark, lake, prepared), setup).persist()
        try:
            fits = (
                result.where(F.col("target_time").isNull())
                .select("sensor_id", "model", "fit", "fitted_model")
                .collect()
            )
            path = write_forecasts(
                lake, result.where(F.col("target_time").isNotNull()).select(*FORECAST_COLUMNS), args.run_date
            )
        finally:
            result.unpersist()
    rows = fit_rows(fits)
    summary, sensor_seconds = fit_summary(rows, list(setup.models))
    report = FitStatisticalReport(
        run_date=args.run_date.isoformat(),
        mlflow_run_id="",
        models=list(setup.models),
        forecasts_path=path,
        targets_per_period=setup.targets_per_period,
        fits=summary,
        sensors=len({row["sensor_id"] for row in rows}),
        wall_seconds=round(time.monotonic() - started, 1),
        sensor_seconds=sensor_seconds,
        per_sensor=rows,
    )
    report = log_fits(args, experiment_id, setup, report, models_archive(fits))
    log.info("fit_statistical %s: %s; report %s", args.run_date, summary, report.write(lake, args.run_date))
    return report


def log_fits(args: Namespace, experiment_id: str, setup: FitSetup, report: FitStatisticalReport, archive: bytes):
    """The stage's MLflow run: settings, per-sensor fit table, summary and models; the report with its id."""
    import mlflow

    mlflow.set_experiment(experiment_id=experiment_id)
    tags = tracking.nested_under_dag_run(experiment_id, tracking.run_tags(args.tag, args.run_date))
    with mlflow.start_run(run_name=f"fit_statistical {args.run_date}", tags=tags) as run:
        mlflow.log_params(
            {
                "models": ",".join(setup.models),
                "seasonal_lags": list(setup.seasonal_lags),
                "targets_per_period": setup.targets_per_period,
                "fit_history_readings": setup.fit_history,
                "sensor_seconds": setup.sensor_seconds,
            }
        )
        mlflow.log_metrics(
            {f"{model}.sensors_fitted": row["sensors_fitted"] for model, row in report.fits.items()}
            | {"wall_seconds": report.wall_seconds, "sensors": report.sensors}
            | {f"sensor_seconds_{name}": value for name, value in report.sensor_seconds.items()}
        )
        mlflow.log_table(pd.DataFrame(fit_table(report.per_sensor), columns=list(FIT_TABLE_COLUMNS)), "fits.json")
        mlflow.log_dict(report.fits, "fit_summary.json")
        with tempfile.TemporaryDirectory() as folder:
            models = Path(folder) / "statistical_models.zip"
            models.write_bytes(archive)
            mlflow.log_artifact(str(models))
    return dataclasses.replace(report, mlflow_run_id=run.info.run_id)
