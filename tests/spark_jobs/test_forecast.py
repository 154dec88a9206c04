import json
from datetime import date, datetime, timedelta

import numpy as np
import pytest

from spark_jobs import forecast, tracking
from tests.support.lake_data import write_readings

RUN_DAY = date(2026, 11, 25)
TRAINED_DAY = date(2026, 11, 24)
MINUTE_US = 60_000_000


def test_a_sensor_needs_seq_len_plus_horizon_minus_one_readings_and_the_days_they_reach():
    assert forecast.readings_needed(seq_len=24, horizon=1) == 24
    assert forecast.readings_needed(seq_len=24, horizon=3) == 26
    assert forecast.days_to_read(RUN_DAY, 24, 60) == [date(2026, 11, 24), RUN_DAY]
    assert forecast.days_to_read(RUN_DAY, 288, 600) == [date(2026, 11, 23), date(2026, 11, 24), RUN_DAY]


def test_each_sensor_without_a_whole_latest_window_on_the_run_day_is_named_with_its_reason():
    day_start = 1_000 * MINUTE_US
    whole = day_start + MINUTE_US * np.arange(4)
    assert forecast.why_not_forecast(whole, 4, MINUTE_US, day_start) is None
    assert forecast.why_not_forecast(whole[:3], 4, MINUTE_US, day_start) == forecast.TOO_FEW_READINGS
    gap = whole + np.array([0, 0, MINUTE_US, MINUTE_US])
    assert forecast.why_not_forecast(gap, 4, MINUTE_US, day_start) == forecast.GAP_IN_LATEST_READINGS
    assert forecast.why_not_forecast(whole - 10 * MINUTE_US, 4, MINUTE_US, day_start) == forecast.NO_READING_ON_RUN_DAY
    assert forecast.why_not_forecast(np.array([], np.int64), 4, MINUTE_US, day_start) == forecast.NO_READING_ON_RUN_DAY


def test_a_perfect_model_of_a_straight_line_forecasts_it_exactly_directly_then_recursively():
    calls = []

    def last_plus(horizon):
        def predict(windows):
            calls.append(len(windows))
            return windows[:, -1] + horizon  # the value ``horizon`` steps after the window, on x_t = t

        return predict

    # horizon 1: every step is recursive, one call per step.
    assert forecast.recursive_forecast(np.array([[0.0, 1.0]]), 3, 2, 1, last_plus(1)).tolist() == [[2.0, 3.0, 4.0]]
    assert calls == [1, 1, 1]
    calls.clear()
    # horizon 2: steps 1 and 2 come directly from the windows ending 1 and 0 values before the
    # last, steps 3 and 4 from windows ending on the forecasts; one call per 2 steps, every sensor at once.
    context = np.array([[0.0, 1.0, 2.0], [10.0, 11.0, 12.0]])
    assert forecast.recursive_forecast(context, 5, 2, 2, last_plus(2)).tolist() == [
        [3.0, 4.0, 5.0, 6.0, 7.0],
        [13.0, 14.0, 15.0, 16.0, 17.0],
    ]
    assert calls == [4, 4, 2]
    with pytest.raises(ValueError, match="not seq_len \\+ horizon - 1 = 3"):
        forecast.recursive_forecast(context[:, 1:], 5, 2, 2, last_plus(2))


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
    ]
    write_readings(spark, tmp_path, readings)
    stats = [
        ("whole", 10.0, 2.0),
        ("across_midnight", 0.0, 1.0),
        ("gappy", 0.0, 1.0),
        ("short", 0.0, 1.0),
        ("yesterday", 0.0, 1.0),
        ("silent", 0.0, 1.0),
    ]
    spark.createDataFrame(stats, "sensor_id string, mean double, std double").write.parquet(
        str(tmp_path / "sequence_stats" / f"date={TRAINED_DAY}")
    )
    report = tmp_path / "reports" / "prepare_sequences" / f"date={TRAINED_DAY}" / "report.json"
    report.parent.mkdir(parents=True)
    report.write_text(json.dumps({"seq_len": 3, "horizon": 1, "sampling_interval_seconds": 60}))
    return tmp_path


def run_forecast(spark, lake_dir, *extra):
    args = ["--lake", str(lake_dir), "--run-date", RUN_DAY.isoformat(), "--model-name", "m", *extra]
    return forecast.run(spark, forecast.parse_args(args))


def test_the_champion_forecasts_every_sensor_with_a_window_in_original_units_and_names_the_rest(
    spark, lake_with_champion
):
    report = run_forecast(spark, lake_with_champion, "--steps", "2")
    rows = spark.read.parquet(str(lake_with_champion / "forecasts" / f"date={RUN_DAY}")).collect()
    got = sorted(
        (r.sensor_id, r.issued_at, r.step, r.target_time, r.forecast, r.model_name, r.model_version) for r in rows
    )
    last = datetime(2026, 11, 25, 0, 4)
    # whole: last reading 14 is (14 - 10) / 2 = 2 normalized; +1 per step: 3, 4 -> 16, 18.
    # across_midnight: 3 normalized with mean 0 and std 1 -> 4, 5.
    assert got == [
        ("across_midnight", datetime(2026, 11, 25, 0, 1), 1, datetime(2026, 11, 25, 0, 2), 4.0, "m", 1),
        ("across_midnight", datetime(2026, 11, 25, 0, 1), 2, datetime(2026, 11, 25, 0, 3), 5.0, "m", 1),
        ("whole", last, 1, last + timedelta(minutes=1), 16.0, "m", 1),
        ("whole", last, 2, last + timedelta(minutes=2), 18.0, "m", 1),
    ]
    assert report["sensors_not_forecast"] == {
        forecast.NO_STATISTICS: ["unknown"],
        forecast.NO_READING_ON_RUN_DAY: ["silent", "yesterday"],
        forecast.TOO_FEW_READINGS: ["short"],
        forecast.GAP_IN_LATEST_READINGS: ["gappy"],
    }
    assert (report["model_uri"], report["trained_day"], report["sensors_forecast"], report["forecasts"]) == (
        "models:/m/1",
        TRAINED_DAY.isoformat(),
        2,
        4,
    )
    assert report["readings_days"] == [date(2026, 11, 24).isoformat(), RUN_DAY.isoformat()]


def test_a_rerun_replaces_the_days_forecasts_and_without_a_champion_the_day_has_none_and_says_why(
    spark, lake_with_champion, caplog
):
    import mlflow

    run_forecast(spark, lake_with_champion, "--steps", "3")
    assert run_forecast(spark, lake_with_champion, "--steps", "2")["status"] == forecast.FORECAST
    partition = lake_with_champion / "forecasts" / f"date={RUN_DAY}"
    assert spark.read.parquet(str(partition)).count() == 4
    mlflow.MlflowClient().delete_registered_model_alias("m", "champion")
    report = run_forecast(spark, lake_with_champion)
    assert report == {
        "run_date": RUN_DAY.isoformat(),
        "status": forecast.NO_CHAMPION,
        "model_name": "m",
        "alias": "champion",
        "sensors_forecast": 0,
        "forecasts": 0,
    }
    assert not partition.exists()
    assert "no version of m holds the alias champion, so there are no forecasts for 2026-11-25" in caplog.text
