from datetime import date

import numpy as np
import pytest

from sensor_lstm.forecasting import recursive

RUN_DAY = date(2026, 11, 25)


def test_a_sensor_needs_seq_len_plus_horizon_minus_one_readings_and_the_days_they_reach():
    assert recursive.readings_needed(seq_len=24, horizon=1) == 24
    assert recursive.readings_needed(seq_len=24, horizon=3) == 26
    assert recursive.days_to_read(RUN_DAY, 24, 60) == [date(2026, 11, 24), RUN_DAY]
    assert recursive.days_to_read(RUN_DAY, 288, 600) == [date(2026, 11, 23), date(2026, 11, 24), RUN_DAY]


def test_a_perfect_model_of_a_straight_line_forecasts_it_exactly_directly_then_recursively():
    calls = []

    def last_plus(horizon):
        def predict(windows):
            calls.append(len(windows))
            return windows[:, -1] + horizon  # the value ``horizon`` steps after the window, on x_t = t

        return predict

    # horizon 1: every step is recursive, one call per step.
    assert recursive.recursive_forecast(np.array([[0.0, 1.0]]), 3, 2, 1, last_plus(1)).tolist() == [[2.0, 3.0, 4.0]]
    assert calls == [1, 1, 1]
    calls.clear()
    # horizon 2: steps 1 and 2 come directly from the windows ending 1 and 0 values before the
    # last, steps 3 and 4 from windows ending on the forecasts; one call per 2 steps, every sensor at once.
    context = np.array([[0.0, 1.0, 2.0], [10.0, 11.0, 12.0]])
    assert recursive.recursive_forecast(context, 5, 2, 2, last_plus(2)).tolist() == [
        [3.0, 4.0, 5.0, 6.0, 7.0],
        [13.0, 14.0, 15.0, 16.0, 17.0],
    ]
    assert calls == [4, 4, 2]
    with pytest.raises(ValueError, match="not seq_len \\+ horizon - 1 = 3"):
        recursive.recursive_forecast(context[:, 1:], 5, 2, 2, last_plus(2))
