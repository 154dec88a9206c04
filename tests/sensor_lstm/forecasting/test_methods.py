import numpy as np
import pytest

from sensor_lstm.forecasting import methods

HOUR_US = 3_600_000_000


def test_each_naive_method_forecasts_from_the_latest_readings_it_needs():
    contexts = np.array([[1.0, 2.0, 3.0, 4.0], [10.0, 20.0, 30.0, 40.0]])
    assert methods.forecast_paths("persistence", contexts, 3, 0.0, 1.0).tolist() == [[4.0] * 3, [40.0] * 3]
    assert methods.forecast_paths("training_mean", contexts, 2, np.array([5.0, 7.0]), 1.0).tolist() == [
        [5.0, 5.0],
        [7.0, 7.0],
    ]
    # Season 3: steps 1..3 repeat the last season's readings, step 4 the first again.
    assert methods.forecast_paths("seasonal_naive_3", contexts, 5, 0.0, 1.0).tolist() == [
        [2.0, 3.0, 4.0, 2.0, 3.0],
        [20.0, 30.0, 40.0, 20.0, 30.0],
    ]
    assert [methods.context_length(name, 24, 2) for name in ("persistence", "seasonal_naive_3", "model:7")] == [
        1,
        3,
        25,
    ]
    with pytest.raises(ValueError, match="unknown forecasting method 'arima'"):
        methods.context_length("arima", 24, 1)


def test_the_model_method_forecasts_normalized_clipped_windows_recursively_in_original_units():
    seen = []

    def next_of_a_line(windows):  # x_t = t in normalized units: the next value is the last + 1
        seen.append(windows.copy())
        return windows[:, -1] + 1

    contexts = np.array([[10.0, 12.0, 14.0]])  # mean 10, std 2: normalized 0, 1, 2
    paths = methods.forecast_paths("model:3", contexts, 3, 10.0, 2.0, model=(2, 1, next_of_a_line))
    assert paths.tolist() == [[16.0, 18.0, 20.0]]
    assert seen[0].tolist() == [[1.0, 2.0]]
    # A reading 40 std out is clipped to the bound the model was trained with.
    methods.forecast_paths("model:3", np.array([[10.0, 90.0]]), 1, 10.0, 2.0, model=(2, 1, next_of_a_line))
    assert seen[-1].tolist() == [[0.0, 10.0]]
    with pytest.raises(ValueError, match="cannot forecast with 'model:3' without its model"):
        methods.forecast_paths("model:3", contexts, 1, 0.0, 1.0)


def test_backtest_origins_have_whole_contexts_and_every_target_inside_the_period():
    # Hours 0..9 and 11..14 (10 is missing); the period is hours [4, 13).
    times = HOUR_US * np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14])
    origins = methods.backtest_origins(times, 4 * HOUR_US, 13 * HOUR_US, HOUR_US, context=2, steps=2)
    # Origin hours 3..7: targets up to hour 9. Hour 8's targets cross the gap; 11's reach 13.
    assert (times[origins] // HOUR_US).tolist() == [3, 4, 5, 6, 7]
    values = np.arange(len(times), dtype=float)
    contexts, actuals = methods.contexts_and_actuals(values, origins[:2], context=2, steps=2)
    assert contexts.tolist() == [[2.0, 3.0], [3.0, 4.0]] and actuals.tolist() == [[4.0, 5.0], [5.0, 6.0]]
    assert methods.backtest_origins(times[:3], 0, 20 * HOUR_US, HOUR_US, context=2, steps=2).tolist() == []


def test_a_statistical_method_forecasts_with_its_fitted_model_from_its_season_aligned_history():
    class Drift:
        def forward(self, y, h):
            return {"mean": y[-1] + len(y) * np.arange(1, h + 1)}  # tells how much it read

    plan = {"history": 500, "season": 24}
    assert methods.forecast_context("mstl", 24, 1, scale_window=24, plan=plan) == 523
    assert methods.forecast_context("mstl", 24, 1, scale_window=24, plan={"history": 10, "season": 1}) == 25
    with pytest.raises(ValueError, match="'mstl' needs the length of its history"):
        methods.context_length("mstl", 24, 1)
    # A history of 4 in seasons of 3, starting on a grid index divisible by 3: ending at index 11,
    # it starts at 6 (6 readings); ending at 9, at 6 (4 readings).
    assert [methods.season_aligned_length(last, 4, 3) for last in (11, 9, 10)] == [6, 4, 5]
    contexts = np.arange(12, dtype=float).reshape(2, 6)
    forward = methods.statistical_forward(Drift(), history=4, season=3, last_indices=np.array([11, 9]))
    paths = methods.forecast_paths("auto_ets", contexts, 2, 0.0, 1.0, statistical=forward)
    assert paths.tolist() == [[5.0 + 6, 5.0 + 12], [11.0 + 4, 11.0 + 8]]


def test_missing_grid_points_are_interpolated_and_marked():
    points, values, real = methods.filled_grid(np.array([0, 10, 40]), np.array([1.0, 2.0, 5.0]), 10)
    assert (points.tolist(), values.tolist(), real.tolist()) == (
        [0, 10, 20, 30, 40],
        [1.0, 2.0, 3.0, 4.0, 5.0],
        [True, True, False, False, True],
    )
