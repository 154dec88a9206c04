import math
import time

import numpy as np
import pytest

from sensor_lstm.statistical import one_step


def cycle(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 10 + 3 * np.sin(2 * np.pi * np.arange(n) / 12) + rng.normal(0, 0.2, n)


def test_evenly_spaced_keeps_the_ends_and_at_most_the_limit():
    assert one_step.evenly_spaced(np.arange(10, 20), 4).tolist() == [10, 13, 16, 19]
    assert one_step.evenly_spaced(np.arange(3), 5).tolist() == [0, 1, 2]


@pytest.mark.parametrize("name, seasons", [("auto_ets", [12]), ("auto_arima", [12]), ("mstl", [12])])
def test_a_one_step_forecast_never_reads_its_target_or_anything_later(name, seasons):
    y = cycle(240)
    targets = np.array([200, 220, 239])
    forecasts, _ = one_step.one_step(name, seasons, y, 180, targets, history=180, deadline=math.inf)
    # The future after each target rewritten: every forecast stays as it was.
    for target, forecast in zip(targets, forecasts, strict=True):
        changed = y.copy()
        changed[target:] += 100.0
        again, _ = one_step.one_step(name, seasons, changed, 180, np.array([target]), history=180, deadline=math.inf)
        assert again[0] == pytest.approx(forecast)
    # And they forecast the cycle, far better than the last reading does.
    assert np.abs(forecasts - y[targets]).mean() < np.abs(y[targets - 1] - y[targets]).mean()


def test_a_model_whose_forecasts_would_pass_the_deadline_is_stopped_as_soon_as_its_pace_says_so(monkeypatch):
    monkeypatch.setattr(one_step, "_FIT_SECONDS", {})  # no earlier fit timed in this process
    y = cycle(240)
    with pytest.raises(one_step.OverBudget, match=r"30 forecasts at about .* s each \(its fit\) would pass"):
        one_step.one_step("mstl", [12], y, 180, np.arange(200, 230), history=180, deadline=time.monotonic())
    with pytest.raises(one_step.OverBudget, match=r"30 forecasts at .* s each would pass the sensor's time budget"):
        one_step.one_step("auto_arima", [12], y, 180, np.arange(200, 230), history=180, deadline=time.monotonic())
    forecasts, _ = one_step.one_step("auto_ets", [12], y, 180, np.arange(200, 230), 180, deadline=math.inf)
    assert len(forecasts) == 30


def test_a_forecast_horizon_steps_ahead_reads_nothing_after_its_windows_last_input():
    y = cycle(240)
    forecasts, _ = one_step.one_step("auto_ets", [12], y, 180, np.array([220]), 180, math.inf, horizon=3)
    changed = y.copy()
    changed[218:] += 100.0  # the two readings before the target, and on: after the last input
    again, _ = one_step.one_step("auto_ets", [12], changed, 180, np.array([220]), 180, math.inf, horizon=3)
    assert again[0] == pytest.approx(forecasts[0])
    changed[217] += 100.0  # the last input itself
    moved, _ = one_step.one_step("auto_ets", [12], changed, 180, np.array([220]), 180, math.inf, horizon=3)
    assert moved[0] != pytest.approx(forecasts[0])


def test_mstl_too_dear_for_the_budget_is_left_out_before_its_fit_where_the_worker_timed_one_of_its_size(
    monkeypatch,
):
    fits = []

    class Slow:
        def __init__(self, name, seasons):
            pass

        def fit(self, y):
            fits.append(len(y))
            time.sleep(0.05)
            return self

    monkeypatch.setattr(one_step, "build", Slow)
    monkeypatch.setattr(one_step, "_FIT_SECONDS", {})
    y = cycle(240)
    for _ in range(2):
        with pytest.raises(one_step.OverBudget) as over:
            one_step.one_step("mstl", [12], y, 180, np.arange(200, 230), 180, deadline=time.monotonic() + 1.0)
    assert fits == [180]  # the second sensor of the same size spent no fit
    assert "(a fit of the same size in this worker)" in str(over.value)
