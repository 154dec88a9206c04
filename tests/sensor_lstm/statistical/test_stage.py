import json
from datetime import date, datetime, timedelta
from types import SimpleNamespace

import numpy as np

from sensor_lstm.statistical.fit import FitSetup
from sensor_lstm.statistical.stage import fit_setup, statistical_forecasts

START = datetime(2026, 1, 1)


def micros(moment: datetime) -> int:
    return int((moment - datetime(1970, 1, 1)).total_seconds() * 1_000_000)


def test_every_sensor_is_fitted_in_its_own_group_and_a_short_one_says_why_it_has_no_mstl(spark):
    rng = np.random.default_rng(2)
    rows = [
        ("cycle", START + timedelta(hours=h), float(10 + 3 * np.sin(2 * np.pi * h / 24) + rng.normal(0, 0.2)))
        for h in range(24 * 8)
    ]
    # 30 hours before the cut: fewer than two daily cycles, so no season and no MSTL.
    rows += [("short", START + timedelta(hours=h), float(h % 5)) for h in range(24 * 7 - 30, 24 * 8)]
    readings = spark.createDataFrame(rows, "sensor_id string, timestamp timestamp, reading double")
    hour = lambda h: micros(START + timedelta(hours=h))  # noqa: E731
    setup = FitSetup(3_600_000_000, hour(168), {"test": (hour(168), hour(192))}, (24,), 168, 4)
    out = statistical_forecasts(readings, setup).toPandas()
    fits = {(r.sensor_id, r.model): json.loads(r.fit) for r in out[out.target_time.isna()].itertuples()}
    assert set(fits) == {
        ("cycle", "auto_ets"),
        ("cycle", "auto_arima"),
        ("cycle", "mstl"),
        ("short", "auto_ets"),
        ("short", "auto_arima"),
        ("short", "mstl"),
    }
    assert fits["short", "mstl"] == {"not_fitted": "no season with enough history to decompose"}
    assert fits["cycle", "mstl"]["seasons"] == [24]
    scored = out[out.target_time.notna()]
    assert scored.groupby("sensor_id").size().to_dict() == {"cycle": 3 * 4, "short": 2 * 4}


def test_the_setup_scores_the_validation_and_test_periods_up_to_the_run_days_end():
    prepared = SimpleNamespace(
        train_cut="2026-01-02T12:00:00+00:00",
        calibration_cut="2026-01-03T00:00:00+00:00",
        test_cut="2026-01-03T12:00:00+00:00",
        sampling_interval_seconds=300,
        seasonal_lags=[288],
        seq_len=6,
        horizon=2,
    )
    args = SimpleNamespace(
        statistical_fit_days=1.5,
        statistical_targets=40,
        statistical_models=["auto_ets", "mstl"],
        statistical_sensor_seconds=12.5,
    )
    setup = fit_setup(prepared, date(2026, 1, 3), args)
    at = lambda day, hour, minute=0: micros(datetime(2026, 1, day, hour, minute))  # noqa: E731
    # A period's first window's target is 6 - 1 + 2 steps of 5 minutes after its cut.
    assert setup.periods == {
        "validation": (at(2, 12, 35), at(3, 0)),
        "test": (at(3, 12, 35), micros(datetime(2026, 1, 4))),
    }
    assert (setup.train_cut_us, setup.interval_us, setup.seasonal_lags) == (at(2, 12), 300_000_000, (288,))
    assert (setup.fit_history, setup.targets_per_period, setup.models, setup.sensor_seconds, setup.horizon) == (
        432,  # 1.5 days of 5-minute readings
        40,
        ("auto_ets", "mstl"),
        12.5,
        2,
    )
