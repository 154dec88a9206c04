from datetime import datetime, timedelta

import pytest
from pyspark.testing import assertDataFrameEqual

from sensor_lstm.windows import statistics
from tests.support.lake_data import utc


def at(minutes: float) -> datetime:
    return datetime(2026, 11, 25) + timedelta(minutes=minutes)


def test_split_cuts_divide_the_period_by_the_fractions():
    assert statistics.split_cuts(utc(2026, 11, 1), utc(2026, 11, 11), 0.7, 0.2) == (utc(2026, 11, 8), utc(2026, 11, 10))
    with pytest.raises(ValueError):
        statistics.split_cuts(utc(2026, 11, 1), utc(2026, 11, 11), 0.8, 0.2)


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
    stats = statistics.training_statistics(readings, train_cut=at(2))
    assertDataFrameEqual(
        stats.select("sensor_id", "mean", "std", "train_readings"),
        [("a", 2.0, 1.0, 2), ("b", 5.0, 1.0, 2), ("c", None, None, 0)],
    )
    normalized = statistics.normalize(readings.where("sensor_id != 'b'"), stats)
    assert [(row.sensor_id, row.value) for row in normalized.orderBy("timestamp").collect()] == [
        ("a", -1.0),
        ("a", 1.0),
        ("a", 98.0),
    ]
