from datetime import date, datetime, timedelta

import numpy as np
import pytest

from sensor_lstm import tracking
from sensor_lstm.forecasting import recursive
from sensor_lstm.forecasting.forecast import FORECAST, NO_CHAMPION, forecast
from sensor_lstm.lake import Lake
from sensor_lstm.lake.reports import ForecastReport, PrepareSequencesReport
from tests.support.jobs import job_args
from tests.support.lake_data import write_readings

RUN_DAY = date(2026, 11, 25)
TRAINED_DAY = date(2026, 11, 24)


def register_last_plus_one_champion(tmp_path, seq_len: int, trained_day: date) -> str:
    """A pyfunc model with the LSTM's tensor signature that forecasts (normalized) the window's last
    value + 1, registered as version 1 of 'm' with the champion alias, like evaluate leaves one."""
    import mlflow
    from mlflow.models import ModelSignature
    from mlflow.types import Schema, TensorSpec

    class LastPlusOne(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input, params=None):
            return model_input[:, -1, :] + 1.0

    signature = ModelSignature(
        Schema([TensorSpec(np.dtype(np.float32), (-1, seq_len, 1))]),
        Schema([TensorSpec(np.dtype(np.float32), (-1, 1))]),
    )
    with mlflow.start_run(experiment_id=tracking.mlflow_experiment("test-forecast")):
        logged = mlflow.pyfunc.log_model(name="model", python_model=LastPlusOne(), signature=signature)
    version = mlflow.register_model(logged.model_uri, "m", tags={"run_day": trained_day.isoformat()})
    mlflow.MlflowClient().set_registered_model_alias("m", "champion", version.version)
    return version.version


@pytest.fixture()
def lake_with_champion(spark, tmp_path, monkeypatch):
    """Readings on the run day (and the day before) for sensors of every kind; the champion's
    trained day's report and statistics."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    monkeypatch.setenv("SENSOR_LSTM_MLFLOW_ARTIFACTS", str(tmp_path / "mlflow-artifacts"))
    register_last_plus_one_champion(tmp_path, seq_len=3, trained_day=TRAINED_DAY)
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
    ]
    write_readings(spark, tmp_path, readings)
    stats = [
        ("whole", 10.0, 2.0),
        ("across_midnight", 0.0, 1.0),
        ("gappy", 0.0, 1.0),
        ("short", 0.0, 1.0),
        ("yesterday", 0.0, 1.0),
        ("silent", 0.0, 1.0),
        ("jittered", 0.0, 1.0),
        ("every_20_s", 0.0, 1.0),
        ("far_out", 0.0, 1.0),
    ]
    spark.createDataFrame(stats, "sensor_id string, mean double, std double").write.parquet(
        str(tmp_path / "sequence_stats" / f"date={TRAINED_DAY}")
    )
    trained_windows(seq_len=3, horizon=1, sampling_interval_seconds=60).write(Lake(str(tmp_path)), TRAINED_DAY)
    return tmp_path


def trained_windows(**settings) -> PrepareSequencesReport:
    """prepare_sequences' report of the champion's trained day, with the window ``settings``."""
    return PrepareSequencesReport(
        run_date=TRAINED_DAY.isoformat(),
        lookback_days=[TRAINED_DAY.isoformat()],
        missing_lookback_days=[],
        train_cut="2026-11-24T16:48:00+00:00",
        test_cut="2026-11-24T20:24:00+00:00",
        sensors=6,
        sensors_without_training_data=[],
        windows={"train": 100, "validation": 20, "test": 20},
        windows_dropped_across_split_cuts=0,
        seasonal_periods=[],
        seasonal_lags=[],
        windows_without_seasonal_naive={"train": 0, "validation": 0, "test": 0},
        sequences_path="",
        stats_path="",
        **settings,
    )


def run_forecast(spark, lake_dir, *extra):
    args = ["--lake", str(lake_dir), "--run-date", RUN_DAY.isoformat(), "--model-name", "m", *extra]
    return forecast(spark, job_args("forecast", *args))


def test_the_champion_forecasts_every_sensor_with_a_window_in_original_units_and_names_the_rest(
    spark, lake_with_champion
):
    report = run_forecast(spark, lake_with_champion, "--forecast-steps", "2")
    rows = spark.read.parquet(str(lake_with_champion / "forecasts" / f"date={RUN_DAY}")).collect()
    got = sorted(
        (r.sensor_id, r.issued_at, r.step, r.target_time, r.forecast, r.model_name, r.model_version) for r in rows
    )
    last = datetime(2026, 11, 25, 0, 4)
    # whole: last reading 14 is (14 - 10) / 2 = 2 normalized; +1 per step: 3, 4 -> 16, 18.
    # across_midnight: 3 normalized with mean 0 and std 1 -> 4, 5.
    # The others' last grid point is 00:02: 3 for jittered, 5.5 for every_20_s, 10 (clipped) for far_out.
    at_two = datetime(2026, 11, 25, 0, 2)
    assert got == [
        ("across_midnight", datetime(2026, 11, 25, 0, 1), 1, datetime(2026, 11, 25, 0, 2), 4.0, "m", 1),
        ("across_midnight", datetime(2026, 11, 25, 0, 1), 2, datetime(2026, 11, 25, 0, 3), 5.0, "m", 1),
        ("every_20_s", at_two, 1, at_two + timedelta(minutes=1), 6.5, "m", 1),
        ("every_20_s", at_two, 2, at_two + timedelta(minutes=2), 7.5, "m", 1),
        ("far_out", at_two, 1, at_two + timedelta(minutes=1), 11.0, "m", 1),
        ("far_out", at_two, 2, at_two + timedelta(minutes=2), 12.0, "m", 1),
        ("jittered", at_two, 1, at_two + timedelta(minutes=1), 4.0, "m", 1),
        ("jittered", at_two, 2, at_two + timedelta(minutes=2), 5.0, "m", 1),
        ("whole", last, 1, last + timedelta(minutes=1), 16.0, "m", 1),
        ("whole", last, 2, last + timedelta(minutes=2), 18.0, "m", 1),
    ]
    assert report.sensors_not_forecast == {
        recursive.NO_STATISTICS: ["unknown"],
        recursive.NO_READING_ON_RUN_DAY: ["silent", "yesterday"],
        recursive.TOO_FEW_READINGS: ["short"],
        recursive.GAP_IN_LATEST_READINGS: ["gappy"],
    }
    assert (report.model_uri, report.trained_day, report.sensors_forecast, report.forecasts) == (
        "models:/m/1",
        TRAINED_DAY.isoformat(),
        5,
        10,
    )
    assert report.readings_days == [date(2026, 11, 24).isoformat(), RUN_DAY.isoformat()]


def test_a_rerun_replaces_the_days_forecasts_and_without_a_champion_the_day_has_none_and_says_why(
    spark, lake_with_champion, caplog
):
    import mlflow

    run_forecast(spark, lake_with_champion, "--forecast-steps", "3")
    assert run_forecast(spark, lake_with_champion, "--forecast-steps", "2").status == FORECAST
    partition = lake_with_champion / "forecasts" / f"date={RUN_DAY}"
    assert spark.read.parquet(str(partition)).count() == 10
    mlflow.MlflowClient().delete_registered_model_alias("m", "champion")
    report = run_forecast(spark, lake_with_champion)
    assert report == ForecastReport(run_date=RUN_DAY.isoformat(), status=NO_CHAMPION, model_name="m", alias="champion")
    assert (report.sensors_forecast, report.forecasts, report.model_version) == (0, 0, None)
    assert not partition.exists()
    assert "no version of m holds the alias champion, so there are no forecasts for 2026-11-25" in caplog.text
