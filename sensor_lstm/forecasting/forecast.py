"""The forecast stage: the forecaster (sensor_lstm.forecasting.forecaster) that evaluate registered,
pinned when the stage starts, forecasts every sensor from its raw readings up to the run day's
end, inside Spark (``applyInPandas``, the pyfunc loaded once per Python worker from a copy the
driver ships); the run day's forecasts partition is swapped in, and the report counts the sensors
per method and names every sensor not forecast, and why. spark_jobs/forecast.py runs it."""

from __future__ import annotations

import logging
import shutil
import tempfile
from argparse import Namespace
from datetime import date
from pathlib import Path

import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from sensor_lstm import tracking
from sensor_lstm.errors import JobInputError
from sensor_lstm.forecasting.forecaster import BOUNDS, OUTPUT_COLUMNS, iso
from sensor_lstm.forecasting.recursive import NO_READING_ON_RUN_DAY, days_to_read
from sensor_lstm.lake import Lake, datasets, utc_day_start
from sensor_lstm.lake.reports import ForecastReport
from sensor_lstm.readings.deliveries import read_readings

log = logging.getLogger("forecast")

# A run's status: forecasts made, or none since evaluate has registered no forecaster yet.
FORECAST, NO_FORECASTER = "forecast", "no_forecaster"
FORECASTS_SCHEMA = (
    "sensor_id string, issued_at timestamp, step int, target_time timestamp, forecast double, "
    + ", ".join(f"{bound} double" for bound in BOUNDS)
    + ", method string, forecaster_version int"
)
OUTPUT_SCHEMA = (
    "sensor_id string, method string, issued_at string, target_times array<string>, forecast array<double>, "
    + ", ".join(f"{bound} array<double>" for bound in BOUNDS)
    + ", reason string"
)
_LOADED: dict[str, object] = {}  # shipped model -> pyfunc, for the Python worker's life


def forecaster_version(client, name: str, alias: str):
    """The forecaster version holding ``alias``, or None when none does."""
    version = tracking.current_champion(client, name, alias)
    if version is not None and "run_day" not in version.tags:
        raise JobInputError(f"{name} version {version.version} has no run_day tag: not this pipeline's")
    return version


def shipped_forecaster(spark: SparkSession, model_uri: str):
    """The forecaster loaded on the driver, and the name of the zip of it shipped to executors
    (SparkContext.addFile takes no folder on a cluster; MLflow's spark_udf ships models so too)."""
    import mlflow.artifacts
    import mlflow.pyfunc

    folder = Path(tempfile.mkdtemp(prefix="forecaster-"))  # a new name: SparkContext.addFile never replaces
    local = Path(mlflow.artifacts.download_artifacts(model_uri, dst_path=str(folder / "model")))
    archive = shutil.make_archive(str(folder / folder.name), "zip", root_dir=local)
    spark.sparkContext.addFile(archive)
    return mlflow.pyfunc.load_model(str(local)), Path(archive).name


def unpacked_forecaster(shipped: str):
    """The shipped forecaster, unpacked and loaded once per Python worker."""
    import mlflow.pyfunc
    from pyspark import SparkFiles

    if shipped not in _LOADED:
        # Under the application's files, which Spark removes when the application ends.
        target = Path(tempfile.mkdtemp(prefix="forecaster-", dir=SparkFiles.getRootDirectory()))
        shutil.unpack_archive(SparkFiles.get(shipped), target, "zip")
        _LOADED[shipped] = mlflow.pyfunc.load_model(str(target))
    return _LOADED[shipped]


def forecast_sensors(readings: DataFrame, shipped: str) -> pd.DataFrame:
    """The forecaster's output row (OUTPUT_COLUMNS) for every sensor in ``readings``."""

    def run(frame: pd.DataFrame) -> pd.DataFrame:
        frame = frame.sort_values("timestamp")
        stamps = frame["timestamp"].to_numpy(dtype="datetime64[us]").astype("int64")
        sensor = {
            "sensor_id": frame["sensor_id"].iloc[0],
            "timestamps": iso(stamps),
            "readings": frame["reading"].tolist(),
        }
        return unpacked_forecaster(shipped).predict(pd.DataFrame([sensor]))

    return readings.groupBy("sensor_id").applyInPandas(run, OUTPUT_SCHEMA).toPandas()


def forecast(spark: SparkSession, args: Namespace) -> ForecastReport:
    """Forecast every sensor the forecaster knows, from its readings up to the run day's end; the report."""
    import mlflow

    lake: Lake = args.lake
    lake.restore_interrupted_swaps(datasets.FORECASTS, [args.run_date])
    name = f"{args.model_name}_forecaster"
    version = forecaster_version(mlflow.MlflowClient(), name, args.alias)
    if version is None:
        return no_forecaster(lake, args, name)
    model_uri = f"models:/{name}/{version.version}"
    loaded, shipped = shipped_forecaster(spark, model_uri)
    model = loaded.unwrap_python_model().forecaster
    bundle = model.bundle
    needed = max(model.readings_needed(plan) for plan in bundle["sensors"].values())
    days = days_to_read(args.run_date, needed, bundle["interval_seconds"])
    try:
        with lake.readings_locked(days):
            present = [day for day in days if lake.exists(lake.partition(datasets.READINGS, day))]
            output = pd.DataFrame(columns=list(OUTPUT_COLUMNS))
            if present:
                output = forecast_sensors(read_readings(spark, lake, present), shipped)
    finally:
        shutil.rmtree(Path(tempfile.gettempdir()) / Path(shipped).stem, ignore_errors=True)
    output = on_the_run_day(output, bundle, args.run_date)
    forecast_rows = rows_of(output, int(version.version))
    write_forecasts(spark, lake, forecast_rows, args.run_date)
    made = output[output.reason == ""]
    reasons = output[output.reason != ""].groupby("reason").sensor_id.apply(sorted).to_dict()
    report = ForecastReport(
        run_date=args.run_date.isoformat(),
        status=FORECAST,
        model_name=args.model_name,
        alias=args.alias,
        sensors_forecast=len(made),
        forecasts=len(forecast_rows),
        forecaster_name=name,
        forecaster_version=int(version.version),
        model_uri=model_uri,
        model_version=bundle["lstm_version"],
        trained_day=bundle["run_day"],
        seq_len=bundle["seq_len"],
        horizon=bundle["horizon"],
        sampling_interval_seconds=bundle["interval_seconds"],
        steps=bundle["steps"],
        readings_days=[day.isoformat() for day in present],
        methods=made.groupby("method").size().astype(int).to_dict(),
        sensors_not_forecast=reasons,
        forecasts_path=lake.partition(datasets.FORECASTS, args.run_date),
    )
    log_report(report, report.write(lake, args.run_date))
    return report


def on_the_run_day(output: pd.DataFrame, bundle: dict, run_date: date) -> pd.DataFrame:
    """The forecaster's rows, with every sensor of the bundle: one without readings in the days
    read, or whose last grid point is before the run day, is not forecast (NO_READING_ON_RUN_DAY)."""
    missing = sorted(set(bundle["sensors"]) - set(output.sensor_id))
    output = pd.concat(
        [output, pd.DataFrame({"sensor_id": missing, "reason": NO_READING_ON_RUN_DAY})], ignore_index=True
    ).fillna({"method": "", "issued_at": ""})
    day_start = utc_day_start(run_date)
    stale = (output.reason == "") & (pd.to_datetime(output.issued_at, utc=True, format="ISO8601") < day_start)
    output.loc[stale, "reason"] = NO_READING_ON_RUN_DAY
    return output


def rows_of(output: pd.DataFrame, version: int) -> list[tuple]:
    """The forecasts partition's rows (FORECASTS_SCHEMA) of every forecast sensor."""
    rows = []
    for sensor in output[output.reason == ""].itertuples(index=False):
        issued_at = pd.Timestamp(sensor.issued_at).to_pydatetime()
        for step, target in enumerate(sensor.target_times, start=1):
            bounds = [float(getattr(sensor, bound)[step - 1]) for bound in BOUNDS]
            rows.append(
                (
                    sensor.sensor_id,
                    issued_at,
                    step,
                    pd.Timestamp(target).to_pydatetime(),
                    float(sensor.forecast[step - 1]),
                    *bounds,
                    sensor.method,
                    version,
                )
            )
    return rows


def no_forecaster(lake: Lake, args: Namespace, name: str) -> ForecastReport:
    """Not a failure of the run: evaluate has not registered a forecaster yet. The day's forecasts
    from an earlier attempt go too."""
    nothing = lake.new_staging_path(datasets.FORECASTS, args.run_date.isoformat())
    lake.swap_in_partitions(nothing, datasets.FORECASTS, [args.run_date])
    report = ForecastReport(
        run_date=args.run_date.isoformat(),
        status=NO_FORECASTER,
        model_name=args.model_name,
        alias=args.alias,
        forecaster_name=name,
    )
    report.write(lake, args.run_date)
    log.warning(
        "no version of %s holds the alias %s, so there are no forecasts for %s", name, args.alias, args.run_date
    )
    return report


def write_forecasts(spark: SparkSession, lake: Lake, rows: list, run_date: date) -> None:
    run_key = run_date.isoformat()
    lake.clear_stale_staging(datasets.FORECASTS, run_key)
    staged = lake.new_staging_path(datasets.FORECASTS, run_key)
    frame = spark.createDataFrame(rows, FORECASTS_SCHEMA).withColumn("date", F.lit(run_date))
    frame.coalesce(1).write.partitionBy("date").parquet(staged)
    lake.swap_in_partitions(staged, datasets.FORECASTS, [run_date])


def log_report(report: ForecastReport, path: str) -> None:
    not_forecast = report.sensors_not_forecast
    if not_forecast:
        log.warning(
            "%d sensors get no forecast: %s",
            sum(len(sensors) for sensors in not_forecast.values()),
            "; ".join(f"{reason}: {', '.join(sensors[:5])}" for reason, sensors in not_forecast.items()),
        )
    log.info(
        "forecast %s: %d sensors x %d steps with %s (from %s), methods %s; report %s",
        report.run_date,
        report.sensors_forecast,
        report.steps,
        report.model_uri,
        report.trained_day,
        report.methods,
        path,
    )
