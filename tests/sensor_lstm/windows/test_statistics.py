import math
from datetime import datetime, timedelta

import pytest
from pyspark.testing import assertDataFrameEqual

from sensor_lstm.windows import statistics
from tests.support.lake_data import utc


def at(minutes: float) -> datetime:
    return datetime(2026, 11, 25) + timedelta(minutes=minutes)


def test_split_cuts_divide_the_period_by_the_fractions():
    assert statistics.split_cuts(utc(2026, 11, 1), utc(2026, 11, 11), 0.6, 0.2, 0.1) == (
        utc(2026, 11, 7),
        utc(2026, 11, 9),
        utc(2026, 11, 10),
    )
    with pytest.raises(ValueError):
        statistics.split_cuts(utc(2026, 11, 1), utc(2026, 11, 11), 0.8, 0.2, 0.1)
    cuts = (utc(2026, 11, 7), utc(2026, 11, 9), utc(2026, 11, 10))
    assert statistics.split_periods(utc(2026, 11, 1), cuts, utc(2026, 11, 11)) == {
        "train": (utc(2026, 11, 1), utc(2026, 11, 7)),
        "validation": (utc(2026, 11, 7), utc(2026, 11, 9)),
        "calibration": (utc(2026, 11, 9), utc(2026, 11, 10)),
        "test": (utc(2026, 11, 10), utc(2026, 11, 11)),
    }


def test_statistics_come_from_the_training_period_only(spark):
    readings = spark.createDataFrame(
        [
            ("a", at(0), 1.0),
            ("a", at(1), 3.0),
            ("a", at(2), 100.0),
            ("b", at(0), 5.0),
            ("b", at(1), 5.0),
            ("c", at(3), 7.0),
        ],
        "sensor_id string, timestamp timestamp, reading double",
    )
    stats = statistics.training_statistics(
        readings, train_cut=at(2), std_floor_absolute=0.01, std_floor_relative=0.1, interval_seconds=60
    )
    # b never moves: its std is the floor, max(0.01, 0.1 x |5.0|) = 0.5. a's std of 1.0 is above its 0.2.
    assertDataFrameEqual(
        stats.select(
            "sensor_id", "mean", "std", "std_floored", "train_readings", "one_step_naive_mae", "one_step_naive_rmse"
        ),
        [
            ("a", 2.0, 1.0, False, 2, 2.0, 2.0),
            ("b", 5.0, 0.5, True, 2, 0.0, 0.0),
            ("c", None, None, None, 0, None, None),
        ],
    )
    normalized = statistics.normalize(readings.where("sensor_id != 'b'"), stats)
    # a's 100.0 is 98 standard deviations out: clipped to the bound, and counted.
    assert [(row.sensor_id, row.value, row.clipped) for row in normalized.orderBy("timestamp").collect()] == [
        ("a", -1.0, False),
        ("a", 1.0, False),
        ("a", 10.0, True),
    ]
    assert statistics.clipped_by_sensor(normalized) == {"a": 1}


def test_the_absolute_floor_holds_where_the_mean_is_near_zero(spark):
    readings = spark.createDataFrame(
        [("z", at(0), 0.0), ("z", at(1), 1e-12), ("z", at(2), 0.5)],
        "sensor_id string, timestamp timestamp, reading double",
    )
    stats = statistics.training_statistics(
        readings, train_cut=at(2), std_floor_absolute=0.01, std_floor_relative=0.1, interval_seconds=60
    )
    assert [tuple(row) for row in stats.select("std", "std_floored").collect()] == [(0.01, True)]
    values = [row.value for row in statistics.normalize(readings, stats).orderBy("timestamp").collect()]
    assert values == [pytest.approx(-5e-11), pytest.approx(5e-11), 10.0]


def test_the_mase_scale_is_the_mean_one_step_change_between_consecutive_training_grid_points_and_its_rms(spark):
    # Minutes 0, 1, 2 and 4 are in training: the change across the gap from 2 to 4 is not one step,
    # nor is the change into minute 5, which is after the train cut.
    rows = [("a", at(minute), value) for minute, value in ((0, 1.0), (1, 4.0), (2, 2.0), (4, 9.0), (5, 0.0))]
    readings = spark.createDataFrame(rows, "sensor_id string, timestamp timestamp, reading double")
    stats = statistics.training_statistics(
        readings, train_cut=at(5), std_floor_absolute=0.01, std_floor_relative=0.1, interval_seconds=60
    )
    assert [(row.one_step_naive_mae, row.one_step_naive_rmse) for row in stats.collect()] == [
        (2.5, pytest.approx(math.sqrt((3.0**2 + 2.0**2) / 2)))
    ]
    lone = statistics.training_statistics(readings.limit(1), at(5), 0.01, 0.1, interval_seconds=60)
    assert [(row.one_step_naive_mae, row.one_step_naive_rmse) for row in lone.collect()] == [(None, None)]
