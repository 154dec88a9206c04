from datetime import date, datetime

from sensor_lstm.evaluation import accuracy
from sensor_lstm.lake import Lake
from tests.support.lake_data import write_readings

DAY = date(2026, 11, 25)


def test_the_days_whose_forecasts_can_reach_the_run_day():
    assert accuracy.forecast_days(DAY, steps=12, interval_seconds=60) == [date(2026, 11, 24)]
    assert accuracy.forecast_days(DAY, steps=48, interval_seconds=3600) == [date(2026, 11, 23), date(2026, 11, 24)]


def test_earlier_forecasts_due_on_the_run_day_are_scored_against_the_readings_that_arrived(spark, tmp_path):
    lake = Lake(str(tmp_path))
    issued = datetime(2026, 11, 24, 23, 58)
    # Issued at 23:58 the day before: step 1 is that day's, steps 2 and 3 are due on the run day.
    forecasts = [
        ("a", issued, 1, datetime(2026, 11, 24, 23, 59), 9.0),
        ("a", issued, 2, datetime(2026, 11, 25, 0, 0), 10.0),
        ("a", issued, 3, datetime(2026, 11, 25, 0, 1), 10.0),
    ]
    rows = [
        (sensor, issued, step, target, value, value - 1, value + 1, value - 3, value + 3, "persistence", 1)
        for sensor, issued, step, target, value in forecasts
    ]
    spark.createDataFrame(
        rows,
        "sensor_id string, issued_at timestamp, step int, target_time timestamp, forecast double, lower_80 double, "
        "upper_80 double, lower_95 double, upper_95 double, method string, forecaster_version int",
    ).write.parquet(lake.partition("forecasts", date(2026, 11, 24)))
    # Readings at 00:00 (12.0: outside the 80% interval, inside the 95%) and 00:01 (10.5: inside both).
    write_readings(
        spark, tmp_path, [("a", datetime(2026, 11, 25, 0, 0, 2), 12.0), ("a", datetime(2026, 11, 25, 0, 1), 10.5)]
    )
    spark.createDataFrame(
        [("a", 10.0, 1.0, 4, 0.5)],
        "sensor_id string, mean double, std double, train_readings long, one_step_naive_mae double",
    ).write.parquet(lake.partition("sequence_stats", DAY))
    prepared = type("Prepared", (), {"sampling_interval_seconds": 60, "grid_aggregate": "mean"})()
    rows = accuracy.score_earlier_forecasts(spark, lake, DAY, prepared, steps=3)
    # Errors 2.0 and 0.5: MAE 1.25, MASE 1.25 / 0.5.
    assert rows == [
        {
            "sensor_id": "a",
            "method": "persistence",
            "forecast_day": date(2026, 11, 24),
            "forecasts": 2,
            "mae": 1.25,
            "coverage_80": 0.5,
            "coverage_95": 1.0,
            "mase": 2.5,
        }
    ]
    assert spark.read.parquet(lake.partition("forecast_accuracy", DAY)).count() == 1
    assert accuracy.accuracy_summary(rows) == {
        "forecasts": 2,
        "sensors": 1,
        "median_mase": 2.5,
        "coverage_80": 0.5,
        "coverage_95": 1.0,
    }
    assert accuracy.accuracy_summary([]) == {}
    assert accuracy.score_earlier_forecasts(spark, lake, date(2026, 11, 27), prepared, steps=3) == []
