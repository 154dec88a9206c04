from datetime import date, datetime, timedelta
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from sensor_lstm import tracking
from sensor_lstm.evaluation.forecaster_bundle import ForecasterBuild, register_forecaster
from sensor_lstm.forecasting import forecaster
from sensor_lstm.forecasting.forecast import FORECAST, NO_FORECASTER, forecast
from sensor_lstm.forecasting.recursive import NO_READING_ON_RUN_DAY
from sensor_lstm.lake.reports import ForecastReport
from sensor_lstm.training import model as lstm
from tests.support.jobs import job_args
from tests.support.lake_data import write_readings

RUN_DAY = date(2026, 11, 25)
TRAINED_DAY = date(2026, 11, 24)
OFFSETS = {"lower_80": [-1.0, -1.5], "upper_80": [1.0, 1.5], "lower_95": [-2.0, -3.0], "upper_95": [2.0, 3.0]}


def last_plus_one(seq_len: int):
    """A real tf_keras model whose forecast is exactly the window's last value + 1 (normalized)."""
    keras = lstm.tf_keras()
    model = keras.Sequential([keras.Input((seq_len, 1)), keras.layers.Flatten(), keras.layers.Dense(1)])
    model.set_weights([np.eye(seq_len, dtype=np.float32)[:, -1:], np.ones(1, dtype=np.float32)])
    return model


def plan(method: str, mean: float = 0.0, std: float = 1.0) -> dict:
    return {"method": method, "why": "test", "mean": mean, "std": std, "offsets": OFFSETS}


def register_forecaster_of_the_trained_day() -> dict:
    """A forecaster as the first release's evaluate registered one (format 1: intervals in the
    sensor's units, no local scale), version 1 of m_forecaster with the champion alias: the LSTM
    (last + 1) on most sensors, persistence on three, seq_len 3 and 2 steps."""
    import mlflow

    bundle = {
        "format": 1,
        "run_day": TRAINED_DAY.isoformat(),
        "model_name": "m",
        "lstm_version": 4,
        "lstm_not_used_because": "",
        "seq_len": 3,
        "horizon": 1,
        "interval_seconds": 60,
        "grid_aggregate": "mean",
        "steps": 2,
        "levels": [0.8, 0.95],
        "sensors": {
            "whole": plan("model:4", 10.0, 2.0),
            **{name: plan("model:4") for name in ("across_midnight", "gappy", "short", "jittered", "every_20_s")},
            "far_out": plan("model:4"),
            "yesterday": plan("persistence"),
            "silent": plan("persistence"),
            "flat": plan("persistence"),
        },
    }
    build = ForecasterBuild(bundle, lstm.model_spec(last_plus_one(3)))
    example = pd.DataFrame({"sensor_id": ["flat"], "timestamps": [["2026-11-24T23:59:00Z"]], "readings": [[1.0]]})
    args = SimpleNamespace(model_name="m", run_date=TRAINED_DAY, alias="champion", promote_older_day=False)
    with mlflow.start_run(experiment_id=tracking.mlflow_experiment("test-forecast")):
        assert register_forecaster(mlflow.MlflowClient(), build, args, example) == 1
    return bundle


@pytest.fixture()
def lake_with_forecaster(spark, tmp_path, monkeypatch):
    """Readings on the run day (and the day before) for sensors of every kind; a registered forecaster."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    monkeypatch.setenv("SENSOR_LSTM_MLFLOW_ARTIFACTS", str(tmp_path / "mlflow-artifacts"))
    register_forecaster_of_the_trained_day()
    start = datetime(2026, 11, 25)
    readings = [
        *[("whole", start + timedelta(minutes=m), 10.0 + m) for m in range(5)],
        # Its window reaches into the day before: 23:59, 00:00, 00:01.
        ("across_midnight", start - timedelta(minutes=1), 1.0),
        ("across_midnight", start, 2.0),
        ("across_midnight", start + timedelta(minutes=1), 3.0),
        *[("gappy", start + timedelta(minutes=m), 1.0) for m in (0, 1, 3)],
        *[("short", start + timedelta(minutes=m), 1.0) for m in (0, 1)],
        *[("yesterday", start - timedelta(minutes=m), 1.0) for m in (1, 2, 3)],
        *[("unknown", start + timedelta(minutes=m), 1.0) for m in range(3)],
        # A jittering clock: 00:00:02, 00:00:59, 00:02:01 sit on 00:00, 00:01 and 00:02.
        *[("jittered", start + timedelta(seconds=s), float(v)) for v, s in enumerate((2, 59, 121), start=1)],
        # Every 20 s: 00:00 is the mean of 0 and 1, 00:01 of 2, 3, 4, and 00:02 of 5 and 6.
        *[("every_20_s", start + timedelta(seconds=20 * k), float(k)) for k in range(7)],
        # 100 standard deviations out: clipped to 10, as its training windows would have been.
        *[("far_out", start + timedelta(minutes=m), 100.0) for m in range(3)],
        ("flat", start + timedelta(minutes=7), 42.0),
    ]
    write_readings(spark, tmp_path, readings)
    return tmp_path


def run_forecast(spark, lake_dir):
    args = ["--lake", str(lake_dir), "--run-date", RUN_DAY.isoformat(), "--model-name", "m"]
    return forecast(spark, job_args("forecast", *args))


def test_the_forecaster_forecasts_every_sensor_by_its_method_with_intervals_and_names_the_rest(
    spark, lake_with_forecaster
):
    report = run_forecast(spark, lake_with_forecaster)
    rows = spark.read.parquet(str(lake_with_forecaster / "forecasts" / f"date={RUN_DAY}")).collect()
    got = sorted(
        (r.sensor_id, r.issued_at, r.step, r.target_time, r.forecast, r.method, r.forecaster_version) for r in rows
    )
    last = datetime(2026, 11, 25, 0, 4)
    # whole: last reading 14 is (14 - 10) / 2 = 2 normalized; +1 per step: 3, 4 -> 16, 18.
    # across_midnight: 3 normalized with mean 0 and std 1 -> 4, 5.
    # The others' last grid point is 00:02: 3 for jittered, 5.5 for every_20_s, 10 (clipped) for far_out.
    at_two = datetime(2026, 11, 25, 0, 2)
    flat = datetime(2026, 11, 25, 0, 7)
    assert got == [
        ("across_midnight", datetime(2026, 11, 25, 0, 1), 1, datetime(2026, 11, 25, 0, 2), 4.0, "model:4", 1),
        ("across_midnight", datetime(2026, 11, 25, 0, 1), 2, datetime(2026, 11, 25, 0, 3), 5.0, "model:4", 1),
        ("every_20_s", at_two, 1, at_two + timedelta(minutes=1), 6.5, "model:4", 1),
        ("every_20_s", at_two, 2, at_two + timedelta(minutes=2), 7.5, "model:4", 1),
        ("far_out", at_two, 1, at_two + timedelta(minutes=1), 11.0, "model:4", 1),
        ("far_out", at_two, 2, at_two + timedelta(minutes=2), 12.0, "model:4", 1),
        ("flat", flat, 1, flat + timedelta(minutes=1), 42.0, "persistence", 1),
        ("flat", flat, 2, flat + timedelta(minutes=2), 42.0, "persistence", 1),
        ("jittered", at_two, 1, at_two + timedelta(minutes=1), 4.0, "model:4", 1),
        ("jittered", at_two, 2, at_two + timedelta(minutes=2), 5.0, "model:4", 1),
        ("whole", last, 1, last + timedelta(minutes=1), 16.0, "model:4", 1),
        ("whole", last, 2, last + timedelta(minutes=2), 18.0, "model:4", 1),
    ]
    whole = sorted((r.step, r.lower_95, r.lower_80, r.upper_80, r.upper_95) for r in rows if r.sensor_id == "whole")
    assert whole == [(1, 14.0, 15.0, 17.0, 18.0), (2, 15.0, 16.5, 19.5, 21.0)]
    assert report.sensors_not_forecast == {
        forecaster.UNKNOWN_SENSOR: ["unknown"],
        NO_READING_ON_RUN_DAY: ["silent", "yesterday"],
        forecaster.TOO_FEW_READINGS: ["short"],
        forecaster.GAP_IN_LATEST_READINGS: ["gappy"],
    }
    assert (report.model_uri, report.trained_day, report.sensors_forecast, report.forecasts) == (
        "models:/m_forecaster/1",
        TRAINED_DAY.isoformat(),
        6,
        12,
    )
    assert (report.methods, report.model_version) == ({"model:4": 5, "persistence": 1}, 4)
    assert report.readings_days == [date(2026, 11, 24).isoformat(), RUN_DAY.isoformat()]


def test_a_rerun_replaces_the_days_forecasts_and_without_a_forecaster_the_day_has_none_and_says_why(
    spark, lake_with_forecaster, caplog
):
    import mlflow

    run_forecast(spark, lake_with_forecaster)
    assert run_forecast(spark, lake_with_forecaster).status == FORECAST
    partition = lake_with_forecaster / "forecasts" / f"date={RUN_DAY}"
    assert spark.read.parquet(str(partition)).count() == 12
    mlflow.MlflowClient().delete_registered_model_alias("m_forecaster", "champion")
    report = run_forecast(spark, lake_with_forecaster)
    assert report == ForecastReport(
        run_date=RUN_DAY.isoformat(),
        status=NO_FORECASTER,
        model_name="m",
        alias="champion",
        forecaster_name="m_forecaster",
    )
    assert not partition.exists()
    assert (
        "no version of m_forecaster holds the alias champion, so there are no forecasts for 2026-11-25" in caplog.text
    )
