import dataclasses
import math
from datetime import date, datetime, timedelta
from types import SimpleNamespace

import numpy as np
import pytest

from sensor_lstm.errors import JobInputError
from sensor_lstm.evaluation import backtest
from sensor_lstm.evaluation.forecaster_bundle import (
    ForecastingLSTM,
    PartitionModels,
    build_forecaster,
    coverage_summary,
)
from sensor_lstm.forecasting import intervals
from sensor_lstm.lake import Lake
from sensor_lstm.windows.prepare import prepare_sequences
from tests.support.jobs import job_args
from tests.support.lake_data import write_readings


def test_each_sensor_gets_the_candidate_with_the_lowest_validation_rmse_and_why():
    scores = {
        ("model:3", "a"): {"windows": 40, "rmse": 0.5},
        ("persistence", "a"): {"windows": 40, "rmse": 0.8},
        ("model:3", "b"): {"windows": 40, "rmse": 0.9},
        ("persistence", "b"): {"windows": 40, "rmse": 0.7},
        ("seasonal_naive_24", "b"): {"windows": 0},
    }
    chosen = backtest.choose_methods(scores, ["model:3", "persistence", "seasonal_naive_24"], ["a", "b", "c"])
    assert chosen == {
        "a": {"method": "model:3", "why": "lowest validation RMSE, 0.5 over 40 windows, then persistence's 0.8"},
        "b": {"method": "persistence", "why": "lowest validation RMSE, 0.7 over 40 windows, then model:3's 0.9"},
        "c": {"method": "persistence", "why": backtest.NO_VALIDATION_WINDOW},
    }


def test_without_an_lstm_every_sensor_gets_its_best_naive_forecast_with_calibrated_intervals(spark, tmp_path):
    start = datetime(2026, 11, 24)
    rng = np.random.default_rng(3)
    readings = [
        ("cycle", start + timedelta(minutes=5 * k), 20 + 5 * math.sin(2 * math.pi * k / 12) + rng.normal(0, 0.1))
        for k in range(576)
    ]
    readings += [
        ("walk", start + timedelta(minutes=5 * k), float(v)) for k, v in enumerate(np.cumsum(rng.normal(0, 1, 576)))
    ]
    write_readings(spark, tmp_path, readings)
    common = ["--lake", str(tmp_path), "--run-date", "2026-11-25"]
    prepared = prepare_sequences(
        spark,
        job_args(
            "prepare_sequences",
            *common,
            *[
                "--lookback-days",
                "2",
                "--sampling-interval-seconds",
                "300",
                "--seq-len",
                "6",
                "--seasonal-periods",
                "12",
            ],
        ),
    )
    args = SimpleNamespace(run_date=date(2026, 11, 25), forecast_steps=3, model_name="m")
    build = build_forecaster(
        spark, Lake(str(tmp_path)), args, prepared, ForecastingLSTM(why_not="no champion yet"), PartitionModels()
    )
    sensors = build.bundle["sensors"]
    # A cycle of 12 readings: its seasonal naive forecast wins; a random walk's is persistence.
    assert {sensor: plan["method"] for sensor, plan in sensors.items()} == {
        "cycle": "seasonal_naive_12",
        "walk": "persistence",
    }
    assert (build.lstm_spec, build.bundle["lstm_not_used_because"], build.methods) == (
        None,
        "no champion yet",
        {"persistence": 1, "seasonal_naive_12": 1},
    )
    for plan in sensors.values():
        # 4.8 hours of calibration period at 5 minutes: enough windows for each sensor's own intervals.
        assert plan["calibration_windows"] >= 50 and plan["calibrated_on"] == "own residuals"
        widths = np.array(plan["offsets"]["upper_95"]) - np.array(plan["offsets"]["lower_95"])
        inner = np.array(plan["offsets"]["upper_80"]) - np.array(plan["offsets"]["lower_80"])
        assert (np.diff(widths) >= 0).all() and (widths >= inner).all() and (inner > 0).all()
    # The random walk's intervals widen with the step, as its errors do.
    walk = sensors["walk"]["offsets"]
    assert walk["upper_95"][2] > walk["upper_95"][0]
    coverage = build.coverage
    assert set(coverage["sensors"]) == {"cycle", "walk"} and coverage["overall"]["windows"] > 0
    assert 0.5 < coverage["overall"]["coverage_95"] <= 1.0
    low, high = coverage["overall"]["coverage_95_interval"]
    assert low <= coverage["overall"]["coverage_95"] <= high
    # A report prepare_sequences wrote before the calibration period existed: a clear error.
    older = dataclasses.replace(prepared, calibration_cut="")
    with pytest.raises(JobInputError, match="has no calibration period: an older version wrote it; rerun"):
        build_forecaster(
            spark, Lake(str(tmp_path)), args, older, ForecastingLSTM(why_not="no champion yet"), PartitionModels()
        )


def test_coverage_counts_every_step_and_its_binomial_interval_only_the_non_overlapping_windows():
    covered = {
        "a": {"windows": 100, "steps_scored": 1200, "covered_80": 960, "covered_95": 1140},
        "b": {"windows": 20, "steps_scored": 240, "covered_80": 120, "covered_95": 240},
    }
    summary = coverage_summary(covered)
    a = summary["sensors"]["a"]
    # 100 windows of 12 steps: 9 that share no target (ceil(100 / 12)), 80% of them covered.
    assert (a["windows"], a["independent_windows"], a["coverage_80"], a["coverage_95"]) == (100, 9, 0.8, 0.95)
    assert a["coverage_80_interval"] == list(intervals.binomial_interval(7, 9))
    overall = summary["overall"]
    assert (overall["windows"], overall["independent_windows"]) == (120, 10)
    assert overall["coverage_80"] == pytest.approx(1080 / 1440) and overall["coverage_95"] == pytest.approx(1380 / 1440)
