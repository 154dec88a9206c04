import argparse
import json
from datetime import UTC, date, datetime, timedelta

import pyarrow as pa
import pyarrow.fs as pafs
import pytest
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from spark_jobs import job, window_cutter
from spark_jobs import prepare_sequences as prep
from tests.support.lake_data import utc, write_readings

T0 = datetime(2026, 11, 25, 0, 0)
NEVER = utc(2100, 1, 1)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def cut(rows, *, seq_len, horizon, interval=60, train_cut=NEVER, test_cut=NEVER, batch_size=None, seasons=()):
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
    assert (
        window_cutter.seasonal_lag(24, 1) == 24
        and window_cutter.seasonal_lag(24, 24) == 24
        and window_cutter.seasonal_lag(24, 25) == 48
    )
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


def test_seasonal_periods_default_to_one_day_at_the_sampling_interval():
    assert prep.parse_seasonal_periods("24,168") == (24, 168)
    assert prep.parse_seasonal_periods("none") == ()
    assert prep.seasonal_periods(prep.parse_seasonal_periods("day"), 60) == (1440,)
    assert prep.seasonal_periods(prep.parse_seasonal_periods("day"), 1800) == (48,)
    with pytest.raises(ValueError, match="7 s does not divide a day: set --seasonal-periods"):
        prep.seasonal_periods("day", 7)
    with pytest.raises(argparse.ArgumentTypeError):
        prep.parse_seasonal_periods("24,0")


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


def test_split_cuts_divide_the_period_by_the_fractions():
    assert prep.split_cuts(utc(2026, 11, 1), utc(2026, 11, 11), 0.7, 0.2) == (utc(2026, 11, 8), utc(2026, 11, 10))
    with pytest.raises(ValueError):
        prep.split_cuts(utc(2026, 11, 1), utc(2026, 11, 11), 0.8, 0.2)


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
    stats = prep.training_statistics(readings, train_cut=at(2))
    assertDataFrameEqual(
        stats.select("sensor_id", "mean", "std", "train_readings"),
        [("a", 2.0, 1.0, 2), ("b", 5.0, 1.0, 2), ("c", None, None, 0)],
    )
    normalized = prep.normalize(readings.where("sensor_id != 'b'"), stats)
    assert [(row.sensor_id, row.value) for row in normalized.orderBy("timestamp").collect()] == [
        ("a", -1.0),
        ("a", 1.0),
        ("a", 98.0),
    ]


def hour(h: int) -> datetime:
    return T0 + timedelta(hours=h)


def test_run_writes_splits_stats_and_report(spark, tmp_path):
    # Hourly readings over one day: sensor a misses hours 10 and 11, sensor b has all 24,
    # sensor c reads only after the train cut.
    rows = [("a", hour(h), float(h)) for h in range(24) if h not in (10, 11)]
    rows += [("b", hour(h), 10.0 + 2 * h) for h in range(24)]
    rows += [("c", hour(h), 1.0) for h in range(20, 24)]
    write_readings(spark, tmp_path, rows)
    args = prep.parse_args(
        [
            "--lake",
            str(tmp_path),
            "--run-date",
            "2026-11-25",
            "--lookback-days",
            "1",
            "--seq-len",
            "3",
            "--horizon",
            "1",
            "--sampling-interval-seconds",
            "3600",
            "--train-fraction",
            "0.5",
            "--validation-fraction",
            "0.25",
            "--seasonal-periods",
            "4",
        ]
    )
    report = prep.run(spark, args)

    assert (report["train_cut"], report["test_cut"]) == ("2026-11-25T12:00:00+00:00", "2026-11-25T18:00:00+00:00")
    assert (report["sensors"], report["sensors_without_training_data"]) == (3, ["c"])
    stats = {row.sensor_id: (row.mean, row.std) for row in spark.read.parquet(report["stats_path"]).collect()}
    assert stats == {"a": (4.5, pytest.approx(2.8722813)), "b": (21.0, pytest.approx(6.9041051))}

    sequences = spark.read.parquet(report["sequences_path"])
    a_windows = sorted(
        (row.split, row.window_start.hour, row.target_time.hour) for row in sequences.where("sensor_id = 'a'").collect()
    )
    # a: hours 0..9 give train windows with targets 3..9; in hours 12..23 the windows starting
    # 15..17 straddle the test cut.
    assert a_windows == [
        ("test", 18, 21),
        ("test", 19, 22),
        ("test", 20, 23),
        ("train", 0, 3),
        ("train", 1, 4),
        ("train", 2, 5),
        ("train", 3, 6),
        ("train", 4, 7),
        ("train", 5, 8),
        ("train", 6, 9),
        ("validation", 12, 15),
        ("validation", 13, 16),
        ("validation", 14, 17),
    ]
    # b: train starts 0..8, validation 12..14, test 18..20; 9..11 and 15..17 straddle a cut.
    assert report["windows"] == {"train": 7 + 9, "validation": 3 + 3, "test": 3 + 3}
    assert report["windows_dropped_across_split_cuts"] == 3 + 6
    # Season 4: the reading 4 hours before the target. Missing for targets at hour 3 (both
    # sensors) and for a's at hour 15 (a has no hour 11).
    assert (report["seasonal_periods"], report["seasonal_lags"]) == ([4], [4])
    assert report["windows_without_seasonal_naive"] == {"train": 2, "validation": 1, "test": 0}
    a_test = sequences.where("sensor_id = 'a' and split = 'test'").orderBy("target_time").collect()
    assert [[round(x, 4) for x in row.seasonal_naive] for row in a_test] == [[4.3519], [4.7001], [5.0483]]
    b_first = sequences.where("sensor_id = 'b' and window_start = '2026-11-25 00:00:00'").first()
    assert [round(x, 4) for x in b_first.inputs] == [-1.5933, -1.3036, -1.0139]
    assert b_first.target == pytest.approx((16 - 21) / 6.9041051)
    assert b_first.seasonal_naive == [None]
    assert (
        json.loads((tmp_path / "reports" / "prepare_sequences" / "date=2026-11-25" / "report.json").read_text())
        == report
    )

    # A rerun replaces the partition: same windows, no duplicates.
    prep.run(spark, args)
    assert spark.read.parquet(report["sequences_path"]).count() == sum(report["windows"].values())


def test_run_without_readings_is_a_clear_error(spark, tmp_path):
    args = prep.parse_args(["--lake", str(tmp_path), "--run-date", "2026-11-25"])
    with pytest.raises(ValueError, match=r"no readings .* run ingest first"):
        prep.run(spark, args)


def test_lookback_days_end_with_the_run_date():
    assert prep.lookback_days(date(2026, 11, 25), 3) == [date(2026, 11, 23), date(2026, 11, 24), date(2026, 11, 25)]


def test_no_non_finite_value_reaches_a_window():
    rows = [("s1", m, float(m)) for m in range(5)] + [("s1", 5, float("inf"))]
    with pytest.raises(ValueError, match=r"sensor s1: the normalized reading at 2026-.* is not a finite float32"):
        cut_windows(rows, seq_len=2, horizon=1)


def test_readings_with_nan_or_infinity_are_refused_before_any_window(spark, tmp_path):
    write_readings(spark, tmp_path, [("a", hour(h), float(h)) for h in range(24)] + [("b", hour(3), float("nan"))])
    args = prep.parse_args(
        [
            "--lake",
            str(tmp_path),
            "--run-date",
            "2026-11-25",
            "--lookback-days",
            "1",
            "--sampling-interval-seconds",
            "3600",
            "--seq-len",
            "3",
        ]
    )
    with pytest.raises(job.JobInputError, match=r"readings hold NaN or infinite values \(1 of sensors \['b'\]\)"):
        prep.run(spark, args)
    assert not (tmp_path / "sequences" / "date=2026-11-25").exists()


def test_missing_lookback_days_are_named_in_the_log_and_the_report(spark, tmp_path, caplog):
    write_readings(
        spark, tmp_path, [("a", hour(h) + timedelta(days=day), float(h)) for day in (-2, 0) for h in range(24)]
    )
    args = prep.parse_args(
        [
            "--lake",
            str(tmp_path),
            "--run-date",
            "2026-11-25",
            "--lookback-days",
            "3",
            "--sampling-interval-seconds",
            "3600",
            "--seq-len",
            "3",
            "--seasonal-periods",
            "none",
        ]
    )
    report = prep.run(spark, args)
    assert report["missing_lookback_days"] == ["2026-11-24"]
    assert "the lookback misses 1 of 3 days, which have no readings: 2026-11-24" in caplog.text
