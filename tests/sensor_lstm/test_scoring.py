import math

import numpy as np
import pytest

from sensor_lstm import scoring
from sensor_lstm.windows import tensors


def test_persistence_forecast_is_the_last_input():
    x, _ = tensors.window_tensors([[1.0, 2.0], [3.0, 4.0]], [0.0, 0.0])
    assert scoring.persistence_forecast(x).tolist() == [2.0, 4.0]


def test_scores():
    assert scoring.scores(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 5.0])) == {
        "rmse": pytest.approx(1.1547005),
        "mae": pytest.approx(2 / 3),
    }


def test_scores_from_error_sums_of_two_workers():
    summed = scoring.error_sums(np.array([1.0, 2.0]), np.array([1.0, 4.0])) + scoring.error_sums(
        np.array([3.0]), np.array([5.0])
    )
    assert summed.tolist() == [3.0, 8.0, 4.0]
    assert scoring.scores_from_sums(summed) == {
        "windows": 3,
        "rmse": pytest.approx(math.sqrt(8 / 3)),
        "mae": pytest.approx(4 / 3),
    }
    assert scoring.scores_from_sums([0.0, 0.0, 0.0]) == {"windows": 0}


def test_naive_forecasts_of_each_window():
    x, _ = tensors.window_tensors([[1.0, 2.0], [3.0, 4.0]], [0.0, 0.0])
    seasonal = np.array([[0.5, -1.0], [1.5, -2.0]], dtype=np.float32)
    forecasts = scoring.naive_forecasts(x, seasonal, [24, 168])
    assert {name: values.tolist() for name, values in forecasts.items()} == {
        "persistence": [2.0, 4.0],
        "training_mean": [0.0, 0.0],
        "seasonal_naive_24": [0.5, 1.5],
        "seasonal_naive_168": [-1.0, -2.0],
    }
    assert scoring.naive_sources([24], [24]) == {
        "persistence": "the last input",
        "seasonal_naive_24": "the reading 24 steps before the target",
        "training_mean": "the sensor's training mean",
    }


def test_skill_against_a_perfect_naive_forecast():
    assert scoring.skill(0.4, 0.5) == pytest.approx(0.2)
    assert scoring.skill(0.0, 0.0) == 0.0
    assert scoring.skill(0.1, 0.0) == -math.inf


def test_error_sums_by_group_add_up_each_groups_errors_apart():
    sums = scoring.error_sums_by_group(
        np.array([1.0, 2.0, 4.0]), np.array([0.0, 0.0, 1.0]), groups=np.array([0, 2, 2]), count=3
    )
    assert sums.tolist() == [[1.0, 1.0, 1.0], [0.0, 0.0, 0.0], [2.0, 13.0, 5.0]]
