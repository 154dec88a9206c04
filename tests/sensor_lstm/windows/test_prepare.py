import dataclasses
import json
from datetime import date, datetime, timedelta

import numpy as np
import pytest
from pyspark.sql import functions as F

from sensor_lstm.errors import JobInputError
from sensor_lstm.readings.catalog import HEADER
from sensor_lstm.windows import prepare
from sensor_lstm.windows.prepare import prepare_sequences
from tests.support.jobs import job_args
from tests.support.lake_data import write_readings


def hour(h: int) -> datetime:
    return datetime(2026, 11, 25) + timedelta(hours=h)


def test_seasonal_periods_default_to_one_day_at_the_sampling_interval():
    assert prepare.seasonal_periods([24, 168], 60) == (24, 168)
    assert prepare.seasonal_periods([], 60) == ()
    assert prepare.seasonal_periods(None, 60) == (1440,)
    assert prepare.seasonal_periods(None, 1800) == (48,)
    with pytest.raises(JobInputError, match="7 s does not divide a day: set --seasonal-periods"):
        prepare.seasonal_periods(None, 7)


def test_run_writes_splits_stats_and_report(spark, tmp_path):
    # Hourly readings over two days: sensor a misses hours 10 and 11 and stops at the first day's
    # end, sensor b has hours 0 to 29, sensor c reads only after the train cut.
    rows = [("a", hour(h), float(h)) for h in range(24) if h not in (10, 11)]
    rows += [("b", hour(h), 10.0 + 2 * h) for h in range(30)]
    rows += [("c", hour(h), 1.0) for h in range(20, 24)]
    write_readings(spark, tmp_path, rows)
    args = job_args(
        "prepare_sequences",
        *[
            "--lake",
            str(tmp_path),
            "--run-date",
            "2026-11-26",
            "--lookback-days",
            "2",
            "--seq-len",
            "3",
            "--horizon",
            "1",
            "--sampling-interval-seconds",
            "3600",
            "--train-fraction",
            "0.25",
            "--validation-fraction",
            "0.125",
            "--calibration-fraction",
            "0.125",
            "--seasonal-periods",
            "4",
        ],
    )
    report = prepare_sequences(spark, args)

    assert (report.train_cut, report.calibration_cut, report.test_cut) == (
        "2026-11-25T12:00:00+00:00",
        "2026-11-25T18:00:00+00:00",
        "2026-11-26T00:00:00+00:00",
    )
    assert (report.sensors, report.sensors_without_training_data) == (3, ["c"])
    stats = {row.sensor_id: (row.mean, row.std) for row in spark.read.parquet(report.stats_path).collect()}
    assert stats == {"a": (4.5, pytest.approx(2.8722813)), "b": (21.0, pytest.approx(6.9041051))}

    sequences = spark.read.parquet(report.sequences_path)
    a_windows = sorted(
        (row.split, row.window_start.hour, row.target_time.hour) for row in sequences.where("sensor_id = 'a'").collect()
    )
    # a: hours 0..9 give train windows with targets 3..9; in hours 12..23 the windows starting
    # 15..17 straddle the calibration cut.
    assert a_windows == [
        ("calibration", 18, 21),
        ("calibration", 19, 22),
        ("calibration", 20, 23),
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
    # b: train starts 0..8, validation 12..14, calibration 18..20, test 24..26 (the second day's
    # hours 0..2); 9..11, 15..17 and 21..23 straddle a cut.
    assert report.windows == {"train": 7 + 9, "validation": 3 + 3, "calibration": 3 + 3, "test": 3}
    assert report.windows_dropped_across_split_cuts == 3 + 9
    # Season 4: the reading 4 hours before the target. Missing for targets at hour 3 (both
    # sensors) and for a's at hour 15 (a has no hour 11).
    assert (report.seasonal_periods, report.seasonal_lags) == ([4], [4])
    assert report.windows_without_seasonal_naive == {"train": 2, "validation": 1, "calibration": 0, "test": 0}
    a_calibration = sequences.where("sensor_id = 'a' and split = 'calibration'").orderBy("target_time").collect()
    assert [[round(x, 4) for x in row.seasonal_naive] for row in a_calibration] == [[4.3519], [4.7001], [5.0483]]
    b_first = sequences.where("sensor_id = 'b' and window_start = '2026-11-25 00:00:00'").first()
    assert [round(x, 4) for x in b_first.inputs] == [-1.5933, -1.3036, -1.0139]
    assert b_first.target == pytest.approx((16 - 21) / 6.9041051)
    assert b_first.seasonal_naive == [None]
    assert json.loads(
        (tmp_path / "reports" / "prepare_sequences" / "date=2026-11-26" / "report.json").read_text()
    ) == dataclasses.asdict(report)

    # A rerun replaces the partition: same windows, no duplicates.
    prepare_sequences(spark, args)
    assert spark.read.parquet(report.sequences_path).count() == sum(report.windows.values())


def test_run_without_readings_is_a_clear_error(spark, tmp_path):
    args = job_args("prepare_sequences", *["--lake", str(tmp_path), "--run-date", "2026-11-25"])
    with pytest.raises(ValueError, match=r"no readings .* run ingest first"):
        prepare_sequences(spark, args)


def test_lookback_days_end_with_the_run_date():
    assert prepare.lookback_days(date(2026, 11, 25), 3) == [date(2026, 11, 23), date(2026, 11, 24), date(2026, 11, 25)]


def test_readings_with_nan_or_infinity_are_refused_before_any_window(spark, tmp_path):
    write_readings(spark, tmp_path, [("a", hour(h), float(h)) for h in range(24)] + [("b", hour(3), float("nan"))])
    args = job_args(
        "prepare_sequences",
        *[
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
        ],
    )
    with pytest.raises(JobInputError, match=r"readings hold NaN or infinite values \(1 of sensors \['b'\]\)"):
        prepare_sequences(spark, args)
    assert not (tmp_path / "sequences" / "date=2026-11-25").exists()


def test_missing_lookback_days_are_named_in_the_log_and_the_report(spark, tmp_path, caplog):
    write_readings(
        spark, tmp_path, [("a", hour(h) + timedelta(days=day), float(h)) for day in (-2, 0) for h in range(24)]
    )
    args = job_args(
        "prepare_sequences",
        *[
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
        ],
    )
    report = prepare_sequences(spark, args)
    assert report.missing_lookback_days == ["2026-11-24"]
    assert "the lookback misses 1 of 3 days, which have no readings: 2026-11-24" in caplog.text


def prepare_args(lake, *argv: str):
    return job_args("prepare_sequences", "--lake", str(lake), "--run-date", "2026-11-25", *argv)


def real_logger_day() -> list[tuple]:
    """One day of a daily cycle, as five loggers write it: on the exact minute grid; the same with
    clocks jittering by up to 2 s; every 10 s; every 5 minutes; and a sensor stuck at 20.0 but for
    one 20.1 in training, that reads 21.0 for its last 10 minutes."""
    rng = np.random.default_rng(7)

    def cycle(seconds):
        return float(15.0 + 5.0 * np.sin(2 * np.pi * seconds / 86_400))

    day = datetime(2026, 11, 25)
    rows = [("exact", day + timedelta(seconds=60 * k), cycle(60 * k)) for k in range(1440)]
    rows += [
        ("jittered", day + timedelta(seconds=max(60 * k + float(jitter), 0)), cycle(60 * k))
        for k, jitter in enumerate(rng.uniform(-2, 2, 1440).round(3))
    ]
    rows += [("every_10_s", day + timedelta(seconds=10 * k), cycle(10 * k)) for k in range(8640)]
    rows += [("every_5_min", day + timedelta(seconds=300 * k), cycle(300 * k)) for k in range(288)]
    rows += [
        ("stuck", day + timedelta(seconds=60 * k), 21.0 if k >= 1430 else 20.1 if k == 100 else 20.0)
        for k in range(1440)
    ]
    return rows


def test_jittered_faster_slower_and_stuck_sensors_are_windowed_on_the_grid(spark, tmp_path, caplog):
    write_readings(spark, tmp_path, real_logger_day())
    (tmp_path / "catalog").mkdir()
    (tmp_path / "catalog" / "sensors.csv").write_text(f"{','.join(HEADER)}\nevery_10_s,degC,,,\n")
    args = prepare_args(
        tmp_path, "--lookback-days", "1", "--seq-len", "12", "--horizon", "2", "--seasonal-periods", "none"
    )
    report = prepare_sequences(spark, args)
    sequences = spark.read.parquet(report.sequences_path)
    windows = {row.sensor_id: row["count"] for row in sequences.groupBy("sensor_id").count().collect()}
    # Jitter of 2 s moves no reading off its minute: the same windows as on the exact grid.
    assert windows["jittered"] == windows["exact"] == 923 + 131 + 131 + 203
    # Six readings a minute merge into one: minute steps. Its last two readings make the next
    # day's 00:00, the target of one more test window.
    assert windows["every_10_s"] == windows["exact"] + 1
    spans = sequences.where("sensor_id = 'every_10_s'").select(
        (F.unix_timestamp("last_input_time") - F.unix_timestamp("window_start")).alias("inputs"),
        (F.unix_timestamp("target_time") - F.unix_timestamp("last_input_time")).alias("ahead"),
    )
    assert [tuple(row) for row in spans.distinct().collect()] == [(11 * 60, 2 * 60)]
    assert report.per_sensor["every_10_s"] == {
        "unit": "degC",  # from the sensor catalog
        "readings": 8640,
        "grid_points": 1441,  # 23:59:40 and 23:59:50 belong to the next day's 00:00
        "readings_merged": 8640 - 1441,
        "median_interval_seconds": 10.0,
        "std_floored": False,
        "values_clipped": 0,
    }
    assert report.per_sensor["jittered"]["median_interval_seconds"] == pytest.approx(60, abs=0.1)
    assert report.per_sensor["jittered"]["readings_merged"] == 0
    # Every 5 minutes in a 1-minute grid: no window, a warning naming it and the interval that fits.
    assert "every_5_min" not in windows
    assert report.sensors_slower_than_the_grid == ["every_5_min"]
    assert (
        "sensor every_5_min reads every 300 s (median), slower than the sampling interval of 60 s: most of its "
        "grid points are gaps, where its windows break; a sampling interval of 300 s would fit it"
    ) in caplog.text
    # The stuck sensor's std is floored at 0.1% of its mean; its 21.0s are clipped at 10.
    assert report.per_sensor["stuck"]["std_floored"] is True
    assert report.per_sensor["stuck"]["values_clipped"] == 10
    stats = spark.read.parquet(report.stats_path).where("sensor_id = 'stuck'").first()
    assert stats.std == pytest.approx(0.001 * stats.mean)
    stuck = sequences.where("sensor_id = 'stuck'").select("inputs", "target").collect()
    assert max(max(abs(x) for x in [*row.inputs, row.target]) for row in stuck) == 10.0


@pytest.mark.parametrize(
    ("readings_days", "argv", "message"),
    [
        (
            [0],
            ["--lookback-days", "1", "--seq-len", "10", "--train-fraction", "0.5", "--validation-fraction", "0.25"],
            r"^no validation window: a window of seq_len \+ horizon = 11 readings is longer than every run of "
            r"consecutive grid points in the validation period \[2026-11-25T12:00:00\+00:00, "
            r"2026-11-25T18:00:00\+00:00\), the longest of which holds 6; shorten seq_len or horizon, or "
            r"lengthen lookback_days$",
        ),
        (
            [0],
            ["--lookback-days", "3", "--seq-len", "3"],
            r"^no train window: the lookback of 3 days starts on 2026-11-23, but readings start on 2026-11-25, "
            r"after the start of the train period \[2026-11-23T00:00:00\+00:00, 2026-11-24T22:48:00\+00:00\); "
            r"set lookback_days to at most 1$",
        ),
        (
            [-1],
            ["--lookback-days", "2", "--seq-len", "3"],
            r"^no validation window: the validation period \[2026-11-25T07:12:00\+00:00, "
            r"2026-11-25T12:00:00\+00:00\) holds no reading$",
        ),
    ],
    ids=["window_too_long_for_the_segments", "lookback_before_the_first_day_with_data", "a_split_without_readings"],
)
def test_an_empty_split_fails_prepare_sequences_naming_its_cause(spark, tmp_path, readings_days, argv, message):
    write_readings(
        spark, tmp_path, [("a", hour(h) + timedelta(days=day), float(h)) for day in readings_days for h in range(24)]
    )
    args = prepare_args(tmp_path, "--sampling-interval-seconds", "3600", "--seasonal-periods", "none", *argv)
    with pytest.raises(JobInputError, match=message):
        prepare_sequences(spark, args)
    assert not (tmp_path / "sequences" / "date=2026-11-25").exists()
