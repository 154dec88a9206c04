import json
from datetime import date, datetime, timedelta

import pytest
from pyspark.testing import assertDataFrameEqual

from spark_jobs import prepare_sequences as prep
from tests.conftest import utc

T0 = datetime(2026, 11, 25, 0, 0)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def values_frame(spark, rows):
    """rows: (sensor_id, minute, segment, value)"""
    return spark.createDataFrame(
        [(sensor, at(minute), segment, float(value)) for sensor, minute, segment, value in rows],
        "sensor_id string, timestamp timestamp, segment long, value float",
    )


def windows_of(frame):
    return sorted(
        (row.sensor_id, row.window_start, row.last_input_time, row.target_time, list(row.inputs), row.target)
        for row in frame.collect()
    )


def test_segments_break_only_where_readings_are_more_than_the_interval_apart(spark):
    readings = spark.createDataFrame(
        [("a", at(m), 0.0) for m in (0, 1, 2, 4, 5, 5.5, 7)] + [("b", at(m), 0.0) for m in (3, 0, 1)],
        "sensor_id string, timestamp timestamp, reading double",
    )
    segmented = prep.assign_segments(readings, sampling_interval_seconds=60)
    assert sorted((row.sensor_id, row.timestamp, row.segment) for row in segmented.collect()) == [
        ("a", at(0), 1), ("a", at(1), 1), ("a", at(2), 1),
        ("a", at(4), 2), ("a", at(5), 2), ("a", at(5.5), 2),
        ("a", at(7), 3),
        ("b", at(0), 1), ("b", at(1), 1),
        ("b", at(3), 2),
    ]  # fmt: skip
    # The interval is a parameter: at 2 minutes, a 2-minute step is no gap.
    two_minutes = prep.assign_segments(readings.where("sensor_id = 'a'"), sampling_interval_seconds=120)
    assert [row.segment for row in two_minutes.orderBy("timestamp").collect()] == [1, 1, 1, 1, 1, 1, 1]


def test_windows_horizon_one_target_is_the_next_reading(spark):
    values = values_frame(spark, [("a", m, 1, m + 1) for m in range(5)])
    assert windows_of(prep.build_windows(values, seq_len=2, horizon=1)) == [
        ("a", at(0), at(1), at(2), [1.0, 2.0], 3.0),
        ("a", at(1), at(2), at(3), [2.0, 3.0], 4.0),
        ("a", at(2), at(3), at(4), [3.0, 4.0], 5.0),
    ]


def test_windows_horizon_three_skips_two_readings_after_the_last_input(spark):
    values = values_frame(spark, [("a", m, 1, m + 1) for m in range(6)])
    assert windows_of(prep.build_windows(values, seq_len=2, horizon=3)) == [
        ("a", at(0), at(1), at(4), [1.0, 2.0], 5.0),
        ("a", at(1), at(2), at(5), [2.0, 3.0], 6.0),
    ]


def test_no_window_crosses_a_gap_or_mixes_sensors(spark):
    values = values_frame(
        spark,
        [("a", 0, 1, 1), ("a", 1, 1, 2), ("a", 2, 1, 3), ("a", 10, 2, 4), ("a", 11, 2, 5), ("a", 12, 2, 6)]
        + [("b", 0, 1, 7), ("b", 1, 1, 8)],
    )
    assert windows_of(prep.build_windows(values, seq_len=2, horizon=1)) == [
        ("a", at(0), at(1), at(2), [1.0, 2.0], 3.0),
        ("a", at(10), at(11), at(12), [4.0, 5.0], 6.0),
    ]


def test_split_cuts_divide_the_period_by_the_fractions():
    assert prep.split_cuts(utc(2026, 11, 1), utc(2026, 11, 11), 0.7, 0.2) == (utc(2026, 11, 8), utc(2026, 11, 10))
    with pytest.raises(ValueError):
        prep.split_cuts(utc(2026, 11, 1), utc(2026, 11, 11), 0.8, 0.2)


def test_split_is_chronological_and_drops_windows_across_a_cut(spark):
    windows = spark.createDataFrame(
        [(at(s), at(t)) for s, t in [(0, 3), (1, 4), (2, 5), (4, 7), (5, 8), (6, 9), (8, 11), (9, 12)]],
        "window_start timestamp, target_time timestamp",
    )
    split = prep.assign_split(windows, train_cut=at(5), test_cut=at(9))
    assert sorted((row.window_start, row.split) for row in split.collect()) == [
        (at(0), "train"), (at(1), "train"),
        (at(2), "straddling"), (at(4), "straddling"),
        (at(5), "validation"),
        (at(6), "straddling"), (at(8), "straddling"),
        (at(9), "test"),
    ]  # fmt: skip


def test_statistics_come_from_the_training_period_only(spark):
    readings = spark.createDataFrame(
        [("a", at(0), 1.0), ("a", at(1), 3.0), ("a", at(2), 100.0), ("b", at(0), 5.0), ("b", at(1), 5.0)],
        "sensor_id string, timestamp timestamp, reading double",
    )
    stats = prep.training_statistics(readings, train_cut=at(2))
    assertDataFrameEqual(
        stats.select("sensor_id", "mean", "std", "train_readings"),
        [("a", 2.0, 1.0, 2), ("b", 5.0, 1.0, 2)],
    )
    normalized = prep.normalize(readings.where("sensor_id = 'a'"), stats)
    assert [row.value for row in normalized.orderBy("timestamp").collect()] == [-1.0, 1.0, 98.0]


def write_readings(spark, lake_dir, rows):
    frame = spark.createDataFrame(rows, "sensor_id string, timestamp timestamp, reading double")
    frame.selectExpr("*", "to_date(timestamp) as date").write.partitionBy("date").parquet(str(lake_dir / "readings"))


def test_run_writes_splits_stats_and_report(spark, tmp_path):
    # Sensor a: 20 minutes of readings 0..19 with a gap after minute 9; sensor b: minutes 0..19.
    rows = [("a", at(m), float(m)) for m in range(20) if m not in (10, 11)]
    rows += [("b", at(m), 10.0 + 2 * m) for m in range(20)]
    write_readings(spark, tmp_path, rows)
    args = prep.parse_args(
        ["--lake", str(tmp_path), "--run-date", "2026-11-25", "--lookback-days", "1", "--seq-len", "3",
         "--horizon", "1", "--train-fraction", "0.5", "--validation-fraction", "0.25"]
    )  # fmt: skip
    report = prep.run(spark, args)

    # Readings span minutes 0..19: cuts at 9.5 and 14.25 minutes.
    assert (report["train_cut"], report["test_cut"]) == ("2026-11-25T00:09:30", "2026-11-25T00:14:15")
    stats = {row.sensor_id: (row.mean, row.std) for row in spark.read.parquet(report["stats_path"]).collect()}
    assert stats == {"a": (4.5, pytest.approx(2.8722813)), "b": (19.0, pytest.approx(5.7445626))}

    sequences = spark.read.parquet(report["sequences_path"])
    a_windows = sorted(
        (row.split, row.window_start.minute, row.target_time.minute)
        for row in sequences.where("sensor_id = 'a'").collect()
    )
    # a: segment 0..9 gives train windows with targets 3..9; in segment 12..19 the windows
    # starting at 12..14 straddle the test cut (14:15), so only those starting 15 and 16 remain.
    assert a_windows == [
        ("test", 15, 18), ("test", 16, 19),
        ("train", 0, 3), ("train", 1, 4), ("train", 2, 5), ("train", 3, 6), ("train", 4, 7), ("train", 5, 8),
        ("train", 6, 9),
    ]  # fmt: skip
    # b: train starts 0..6, validation 10..11, test 15..16; 7..9 and 12..14 straddle a cut.
    assert report["windows"] == {"train": 7 + 7, "validation": 0 + 2, "test": 2 + 2}
    assert report["windows_dropped_across_split_cuts"] == 3 + 6
    b_first = sequences.where("sensor_id = 'b' and window_start = '2026-11-25 00:00:00'").first()
    assert [round(x, 4) for x in b_first.inputs] == [-1.5667, -1.2185, -0.8704]
    assert json.loads((tmp_path / "reports" / "prepare_sequences" / "date=2026-11-25" / "report.json").read_text()) == report

    # A rerun replaces the partition: same windows, no duplicates.
    prep.run(spark, args)
    assert spark.read.parquet(report["sequences_path"]).count() == sum(report["windows"].values())


def test_run_without_readings_is_a_clear_error(spark, tmp_path):
    args = prep.parse_args(["--lake", str(tmp_path), "--run-date", "2026-11-25"])
    with pytest.raises(ValueError, match="no readings .* run ingest first"):
        prep.run(spark, args)


def test_lookback_days_end_with_the_run_date():
    assert prep.lookback_days(date(2026, 11, 25), 3) == [date(2026, 11, 23), date(2026, 11, 24), date(2026, 11, 25)]
