from datetime import datetime, timedelta

import pytest
from pyspark.sql import functions as F

from sensor_lstm.readings import grid
from tests.support.lake_data import utc

SCHEMA = "sensor_id string, timestamp timestamp, reading double"


def at(seconds: float) -> datetime:
    return utc(2026, 11, 25) + timedelta(seconds=seconds)


def test_a_reading_moves_to_its_nearest_grid_point_and_a_tie_to_the_earlier(spark):
    seconds_to_point = {
        0: 0,
        29: 0,
        29.999999: 0,
        30: 0,  # half way: the earlier point
        30.000001: 60,
        61: 60,
        -30: -60,  # the day before, half way: the earlier point
        -1: 0,
        86_398: 86_400,  # 23:59:58 is the next day's 00:00
    }
    frame = spark.createDataFrame([("s", at(seconds), 1.0) for seconds in seconds_to_point], SCHEMA)
    placed = frame.select(grid.grid_point_micros(F.col("timestamp"), 60).alias("micros")).collect()
    assert [row.micros for row in placed] == [
        int(at(point).timestamp()) * 1_000_000 for point in seconds_to_point.values()
    ]


@pytest.mark.parametrize(
    ("aggregate", "expected"),
    [("mean", 7.0 / 3.0), ("nearest", 2.0), ("last", 4.0)],
)
def test_readings_sharing_a_point_merge_by_the_aggregate_setting(spark, aggregate, expected):
    # Three readings around 00:01:00 (10 s before, 5 s after, 25 s after), one alone at 00:03:00.
    frame = spark.createDataFrame(
        [("a", at(50), 1.0), ("a", at(65), 2.0), ("a", at(85), 4.0), ("a", at(181), 9.0)], SCHEMA
    )
    merged = grid.on_grid(frame, 60, aggregate).orderBy("timestamp").collect()
    assert [(row.sensor_id, row.timestamp, row.reading) for row in merged] == [
        ("a", at(60).replace(tzinfo=None), pytest.approx(expected)),
        ("a", at(180).replace(tzinfo=None), 9.0),
    ]


def test_nearest_takes_the_earlier_reading_when_two_are_equally_near(spark):
    frame = spark.createDataFrame([("a", at(65), 2.0), ("a", at(55), 1.0)], SCHEMA)
    assert grid.on_grid(frame, 60, "nearest").first().reading == 1.0


def test_an_unknown_aggregate_is_refused_by_name(spark):
    frame = spark.createDataFrame([("a", at(0), 1.0)], SCHEMA)
    with pytest.raises(ValueError, match="grid aggregate 'median' is none of mean, nearest, last"):
        grid.on_grid(frame, 60, "median")


def test_sampling_by_sensor_counts_readings_points_merges_and_the_median_raw_interval(spark):
    # a: 0, 10, 20 and 60 s: three readings share 00:00, one fills 00:01. b: a single reading.
    frame = spark.createDataFrame(
        [("a", at(0), 1.0), ("a", at(10), 1.0), ("a", at(20), 1.0), ("a", at(60), 1.0), ("b", at(0), 1.0)], SCHEMA
    )
    rows = {row.sensor_id: row.asDict() for row in grid.sampling_by_sensor(frame, 60).collect()}
    assert rows == {
        "a": {
            "sensor_id": "a",
            "readings": 4,
            "grid_points": 2,
            "readings_merged": 2,
            "median_interval_seconds": 10.0,
        },
        "b": {"sensor_id": "b", "readings": 1, "grid_points": 1, "readings_merged": 0, "median_interval_seconds": None},
    }


def test_a_sensor_is_slower_than_the_grid_beyond_one_and_a_half_intervals_and_gets_the_interval_that_fits():
    assert not grid.slower_than_the_grid(90, 60)
    assert grid.slower_than_the_grid(90.5, 60)
    assert not grid.slower_than_the_grid(None, 60)
    assert [grid.fitting_interval(seconds) for seconds in (10, 61, 300, 301, 1e6)] == [10, 120, 300, 360, 86400]
