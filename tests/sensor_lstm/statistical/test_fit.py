import json
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from sensor_lstm.statistical.fit import FitSetup, sensor_forecasts

HOUR_US = 3_600_000_000
START = datetime(2026, 1, 1)


def micros(moment: datetime) -> int:
    return int((moment - datetime(1970, 1, 1)).total_seconds() * 1_000_000)


def test_each_model_forecasts_the_subsampled_real_readings_of_each_period_and_says_how_it_was_fitted():
    rng = np.random.default_rng(1)
    hours = [h for h in range(24 * 10) if h != 200]  # one reading missing in the test period
    frame = pd.DataFrame(
        {
            "sensor_id": "s",
            "timestamp": [START + timedelta(hours=h) for h in hours],
            "reading": [10 + 3 * np.sin(2 * np.pi * h / 24) + rng.normal(0, 0.2) for h in hours],
        }
    )
    cut = lambda hour: micros(START + timedelta(hours=hour))  # noqa: E731
    setup = FitSetup(
        interval_us=HOUR_US,
        train_cut_us=cut(168),
        periods={"validation": (cut(168), cut(192)), "test": (cut(192), cut(240))},
        seasonal_lags=(24,),
        fit_history=168,
        targets_per_period=5,
    )
    out = sensor_forecasts(frame, setup)
    fits = {row.model: json.loads(row.fit) for row in out[out.target_time.isna()].itertuples()}
    assert set(fits) == {"auto_ets", "auto_arima", "mstl"}
    assert fits["mstl"]["seasons"] == [24] and fits["auto_ets"]["seconds"] >= 0
    assert {fit["history"] for fit in fits.values()} == {168}  # the readings before the train cut
    # A week of hourly history holds less than two weekly cycles: said, not fitted.
    assert "fewer than 2 cycles of 168 steps" in fits["mstl"]["seasons_left_out"]["season_168"]
    scored = out[out.target_time.notna()]
    test_hours = sorted({int((t - START).total_seconds() // 3600) for t in scored[scored.period == "test"].target_time})
    # 47 real readings in the test period (hour 200 is missing, never a target): the 1st, 13th,
    # 24th, 35th and 47th (positions 0, 11.5, 23, 34.5, 46 rounded half to even).
    assert test_hours == [192, 205, 216, 227, 239]
    assert scored.groupby(["model", "period"]).size().to_dict() == {
        (model, period): 5 for model in fits for period in ("test", "validation")
    }
    actual = frame.set_index("timestamp").reading
    errors = (scored.forecast - actual.loc[scored.target_time].to_numpy()).abs()
    assert errors.mean() < 1.0  # the daily cycle is forecast, give or take its noise


def test_a_model_over_the_sensors_time_budget_or_failing_its_fit_is_left_out_saying_why(monkeypatch):
    from sensor_lstm.statistical import fit

    hours = range(24 * 10)
    frame = pd.DataFrame(
        {
            "sensor_id": "s",
            "timestamp": [START + timedelta(hours=h) for h in hours],
            "reading": [10 + 3 * np.sin(2 * np.pi * h / 24) for h in hours],
        }
    )
    cut = lambda hour: micros(START + timedelta(hours=hour))  # noqa: E731
    setup = FitSetup(HOUR_US, cut(168), {"test": (cut(192), cut(240))}, (24,), 168, 10, sensor_seconds=0.0)
    out = sensor_forecasts(frame, setup)
    fits = {row.model: json.loads(row.fit) for row in out[out.target_time.isna()].itertuples()}
    # A budget of 0 s: each model stops after its first forecast, which projects the rest past it.
    assert set(fits) == {"auto_ets", "auto_arima", "mstl"}
    assert all(fit["not_fitted"].startswith("over the time budget: 10 forecasts at ") for fit in fits.values())
    assert out.target_time.isna().all() and out.fitted_model.isna().all()

    def broken(name, *args):
        raise ValueError(f"{name} cannot fit")

    monkeypatch.setattr(fit, "one_step", broken)
    out = sensor_forecasts(frame, setup)
    assert json.loads(out.fit.iloc[0]) == {"not_fitted": "fit failed: ValueError('auto_ets cannot fit')"}
