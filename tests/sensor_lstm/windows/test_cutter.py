from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.fs as pafs
import pytest
from pyspark.sql import functions as F

from sensor_lstm.windows import cutter as window_cutter
from tests.support.lake_data import utc

T0 = datetime(2026, 11, 25, 0, 0)
NEVER = utc(2100, 1, 1)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def cut(
    rows,
    *,
    seq_len,
    horizon,
    interval=60,
    train_cut=NEVER,
    test_cut=NEVER,
    calibration_cut=None,
    batch_size=None,
    seasons=(),
):
    """Run the cutter over rows (sensor_id, minute, value); yield (split, window row) pairs."""
    table = pa.table(
        {
            "sensor_id": [sensor for sensor, _, _ in rows],
            "timestamp": pa.array([at(minute).replace(tzinfo=UTC) for _, minute, _ in rows], window_cutter.UTC_MICROS),
            "value": pa.array([value for _, _, value in rows], pa.float32()),
        }
    )
    cutter = window_cutter.WindowCutter(
        seq_len=seq_len,
        horizon=horizon,
        sampling_interval_seconds=interval,
        train_cut=train_cut,
        test_cut=test_cut,
        calibration_cut=calibration_cut,
        seasonal_periods=seasons,
    )
    for split, windows in cutter.windows(table.to_batches(max_chunksize=batch_size or len(rows))):
        for row in windows.to_pylist():
            yield split, row


def minute(moment):
    return (moment.replace(tzinfo=None) - T0) / timedelta(minutes=1)


def cut_windows(rows, **options):
    """Sorted (split, sensor_id, first input minute, last input minute, target minute, inputs, target)."""
    return sorted(
        (
            split,
            row["sensor_id"],
            minute(row["window_start"]),
            minute(row["last_input_time"]),
            minute(row["target_time"]),
            row["inputs"],
            row["target"],
        )
        for split, row in cut(rows, **options)
    )


def seasonal_forecasts(rows, **options):
    """Sorted (sensor_id, target minute, seasonal naive forecasts)."""
    return sorted(
        (row["sensor_id"], minute(row["target_time"]), row["seasonal_naive"]) for _, row in cut(rows, **options)
    )


def test_windows_horizon_one_target_is_the_next_reading():
    rows = [("a", m, m + 1.0) for m in range(5)]
    assert cut_windows(rows, seq_len=2, horizon=1) == [
        ("train", "a", 0, 1, 2, [1.0, 2.0], 3.0),
        ("train", "a", 1, 2, 3, [2.0, 3.0], 4.0),
        ("train", "a", 2, 3, 4, [3.0, 4.0], 5.0),
    ]


def test_windows_horizon_three_skips_two_readings_after_the_last_input():
    rows = [("a", m, m + 1.0) for m in range(6)]
    assert cut_windows(rows, seq_len=2, horizon=3) == [
        ("train", "a", 0, 1, 4, [1.0, 2.0], 5.0),
        ("train", "a", 1, 2, 5, [2.0, 3.0], 6.0),
    ]


def test_no_window_crosses_a_gap_or_mixes_sensors():
    rows = [("a", 0, 1.0), ("a", 1, 2.0), ("a", 2, 3.0), ("a", 10, 4.0), ("a", 11, 5.0), ("a", 12, 6.0)]
    rows += [("b", 0, 7.0), ("b", 1, 8.0)]
    assert cut_windows(rows, seq_len=2, horizon=1) == [
        ("train", "a", 0, 1, 2, [1.0, 2.0], 3.0),
        ("train", "a", 10, 11, 12, [4.0, 5.0], 6.0),
    ]


def test_gaps_are_steps_longer_than_the_sampling_interval_parameter():
    rows = [("a", m, float(m)) for m in (0, 1, 2, 4, 5, 5.5, 7)]
    # At 60 s, 2 -> 4 and 5.5 -> 7 are gaps; 5 -> 5.5 is not.
    assert [(w[2], w[4]) for w in cut_windows(rows, seq_len=2, horizon=1, interval=60)] == [(0, 2), (4, 5.5)]
    # At 120 s there is no gap at all.
    assert [(w[2], w[4]) for w in cut_windows(rows, seq_len=2, horizon=1, interval=120)] == [
        (0, 2),
        (1, 4),
        (2, 5),
        (4, 5.5),
        (5, 7),
    ]


def test_batch_boundaries_do_not_change_the_windows():
    rows = [("a", m, float(m)) for m in range(9) if m != 5] + [("b", m, 10.0 + m) for m in range(6)]
    whole = cut_windows(rows, seq_len=3, horizon=2)
    # a: 0..4 holds one window (5 readings span first input to target), 6..8 none; b: two.
    assert [(w[1], w[2]) for w in whole] == [("a", 0), ("b", 0), ("b", 1)]
    for batch_size in (1, 2, 3, 4, 7):
        assert cut_windows(rows, seq_len=3, horizon=2, batch_size=batch_size) == whole


def test_seasonal_naive_is_the_reading_a_season_before_the_target_or_null():
    # a misses minute 5; b is another sensor. Season 3: the reading 3 minutes before the target.
    rows = [("a", m, float(m)) for m in range(10) if m != 5] + [("b", m, 100.0 + m) for m in range(6)]
    expected = [
        ("a", 2, [None]),
        ("a", 3, [0.0]),
        ("a", 4, [1.0]),
        ("a", 8, [None]),
        ("a", 9, [6.0]),
        ("b", 2, [None]),
        ("b", 3, [100.0]),
        ("b", 4, [101.0]),
        ("b", 5, [102.0]),
    ]
    for batch_size in (None, 1, 2, 3, 5):
        assert seasonal_forecasts(rows, seq_len=2, horizon=1, seasons=(3,), batch_size=batch_size) == expected


def test_a_season_longer_than_the_window_is_looked_up_in_readings_of_earlier_batches():
    rows = [("a", m, float(m)) for m in range(12)]
    # Season 7, horizon 1: the reading 7 minutes before the target, well before the window.
    expected = [("a", target, [float(target - 7)] if target >= 7 else [None]) for target in range(2, 12)]
    for batch_size in (None, 1, 2, 4):
        assert seasonal_forecasts(rows, seq_len=2, horizon=1, seasons=(7,), batch_size=batch_size) == expected


def test_a_horizon_beyond_the_season_goes_back_whole_seasons_to_a_known_reading():
    assert [window_cutter.seasonal_lag(24, horizon) for horizon in (1, 24, 25)] == [24, 24, 48]
    rows = [("a", m, float(m)) for m in range(10)]
    # Season 2, horizon 3: 2 seasons (4 minutes) back, the last reading known at the last input.
    assert seasonal_forecasts(rows, seq_len=2, horizon=3, seasons=(2, 5)) == [
        ("a", 4, [0.0, None]),
        ("a", 5, [1.0, 0.0]),
        ("a", 6, [2.0, 1.0]),
        ("a", 7, [3.0, 2.0]),
        ("a", 8, [4.0, 3.0]),
        ("a", 9, [5.0, 4.0]),
    ]


def test_windows_without_any_seasonal_forecast_are_readable_by_spark(spark, tmp_path):
    # A season longer than the readings: every seasonal forecast is null in the written file.
    rows = [("a", m, float(m)) for m in range(6)]
    table = pa.table(
        {
            "sensor_id": [sensor for sensor, _, _ in rows],
            "timestamp": pa.array([at(m).replace(tzinfo=UTC) for _, m, _ in rows], window_cutter.UTC_MICROS),
            "value": pa.array([value for _, _, value in rows], pa.float32()),
        }
    )
    cutter = window_cutter.WindowCutter(
        seq_len=2, horizon=1, sampling_interval_seconds=60, train_cut=NEVER, test_cut=NEVER, seasonal_periods=(1440,)
    )
    counts = window_cutter.write_windows(
        table.to_batches(), cutter, pafs.LocalFileSystem(), str(tmp_path), "part-00000.parquet"
    )
    assert counts["train"] == (4, 4)
    windows = spark.read.parquet(str(tmp_path / "split=train"))
    assert windows.where(~F.forall("seasonal_naive", lambda forecast: forecast.isNotNull())).count() == 4


def test_split_is_chronological_and_windows_across_a_cut_straddle():
    rows = [("a", m, float(m)) for m in range(13)]
    windows = cut_windows(
        rows, seq_len=1, horizon=3, train_cut=utc(2026, 11, 25, 0, 5), test_cut=utc(2026, 11, 25, 0, 9)
    )
    assert [(split, first, target) for split, _, first, _, target, _, _ in windows] == [
        ("straddling", 2, 5),
        ("straddling", 3, 6),
        ("straddling", 4, 7),
        ("straddling", 6, 9),
        ("straddling", 7, 10),
        ("straddling", 8, 11),
        ("test", 9, 12),
        ("train", 0, 3),
        ("train", 1, 4),
        ("validation", 5, 8),
    ]


def test_the_calibration_period_between_validation_and_test_gets_its_own_windows():
    rows = [("a", m, float(m)) for m in range(16)]
    windows = cut_windows(
        rows,
        seq_len=1,
        horizon=1,
        train_cut=utc(2026, 11, 25, 0, 4),
        calibration_cut=utc(2026, 11, 25, 0, 8),
        test_cut=utc(2026, 11, 25, 0, 12),
    )
    by_split = {}
    for split, _, first, _, target, _, _ in windows:
        by_split.setdefault(split, []).append((first, target))
    assert by_split == {
        "train": [(0, 1), (1, 2), (2, 3)],
        "straddling": [(3, 4), (7, 8), (11, 12)],
        "validation": [(4, 5), (5, 6), (6, 7)],
        "calibration": [(8, 9), (9, 10), (10, 11)],
        "test": [(12, 13), (13, 14), (14, 15)],
    }


def test_no_non_finite_value_reaches_a_window():
    rows = [("s1", m, float(m)) for m in range(5)] + [("s1", 5, float("inf"))]
    with pytest.raises(ValueError, match=r"sensor s1: the normalized reading at 2026-.* is not a finite float32"):
        cut_windows(rows, seq_len=2, horizon=1)
