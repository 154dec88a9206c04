import math

import numpy as np
import pyarrow as pa
import pytest

from spark_jobs import forecasting


def test_window_tensors_shape_windows_for_an_lstm():
    x, y = forecasting.window_tensors([[1.0, 2.0], [3.0, 4.0]], [5.0, 6.0])
    assert x.shape == (2, 2, 1) and x.dtype == np.float32
    assert x[:, :, 0].tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert y.tolist() == [5.0, 6.0]
    with pytest.raises(ValueError, match="same length"):
        forecasting.window_tensors([[1.0, 2.0], [3.0]], [5.0, 6.0])


def test_to_original_units_uses_each_values_sensor_statistics():
    restored = forecasting.to_original_units(
        np.array([0.0, 1.0, -1.0]), np.array([10.0, 10.0, 20.0]), np.array([2.0, 2.0, 5.0])
    )
    assert restored.tolist() == [10.0, 12.0, 15.0]


def test_persistence_forecast_is_the_last_input():
    x, _ = forecasting.window_tensors([[1.0, 2.0], [3.0, 4.0]], [0.0, 0.0])
    assert forecasting.persistence_forecast(x).tolist() == [2.0, 4.0]


def test_scores():
    assert forecasting.scores(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 5.0])) == {
        "rmse": pytest.approx(1.1547005),
        "mae": pytest.approx(2 / 3),
    }


def test_build_lstm_predicts_one_value_per_window():
    model = forecasting.build_lstm(seq_len=4, units=3, learning_rate=0.01)
    assert model.predict(np.zeros((5, 4, 1), dtype=np.float32), verbose=0).shape == (5, 1)


def test_arrow_window_tensors_match_window_tensors():
    windows = pa.table({"inputs": [[1.0, 2.0], [3.0, 4.0]], "target": [5.0, 6.0]})
    x, y = forecasting.arrow_window_tensors(windows)
    assert x.shape == (2, 2, 1) and x.dtype == np.float32
    assert x[:, :, 0].tolist() == [[1.0, 2.0], [3.0, 4.0]] and y.tolist() == [5.0, 6.0]
    with pytest.raises(ValueError, match="same length"):
        forecasting.arrow_window_tensors(pa.table({"inputs": [[1.0, 2.0], [3.0]], "target": [5.0, 6.0]}))


def test_a_model_rebuilt_from_its_spec_predicts_the_same():
    model = forecasting.build_lstm(seq_len=4, units=3, learning_rate=0.01, seed=7)
    x = np.linspace(-1, 1, 8, dtype=np.float32).reshape(2, 4, 1)
    rebuilt = forecasting.model_from_spec(forecasting.model_spec(model))
    assert rebuilt.predict(x, verbose=0).tolist() == model.predict(x, verbose=0).tolist()


def test_scores_from_error_sums_of_two_workers():
    summed = forecasting.error_sums(np.array([1.0, 2.0]), np.array([1.0, 4.0])) + forecasting.error_sums(
        np.array([3.0]), np.array([5.0])
    )
    assert summed.tolist() == [3.0, 8.0, 4.0]
    assert forecasting.scores_from_sums(summed) == {
        "windows": 3,
        "rmse": pytest.approx(math.sqrt(8 / 3)),
        "mae": pytest.approx(4 / 3),
    }
    assert forecasting.scores_from_sums([0.0, 0.0, 0.0]) == {"windows": 0}


def test_naive_forecasts_of_each_window():
    x, _ = forecasting.window_tensors([[1.0, 2.0], [3.0, 4.0]], [0.0, 0.0])
    seasonal = np.array([[0.5, -1.0], [1.5, -2.0]], dtype=np.float32)
    forecasts = forecasting.naive_forecasts(x, seasonal, [24, 168])
    assert {name: values.tolist() for name, values in forecasts.items()} == {
        "persistence": [2.0, 4.0],
        "training_mean": [0.0, 0.0],
        "seasonal_naive_24": [0.5, 1.5],
        "seasonal_naive_168": [-1.0, -2.0],
    }
    assert forecasting.naive_sources([24], [24]) == {
        "persistence": "the last input",
        "seasonal_naive_24": "the reading 24 steps before the target",
        "training_mean": "the sensor's training mean",
    }


def test_the_batch_shrinks_so_an_epoch_takes_enough_steps():
    assert forecasting.batch_size_for(100_000, 256, 64) == 256
    assert forecasting.batch_size_for(3059, 256, 64) == 47
    assert forecasting.batch_size_for(10, 256, 64) == 1


def test_the_learning_rate_scales_with_the_global_batch_over_one_process_batch():
    # Large data: each of 2 ranks takes the largest batch, 256, where one process takes 256.
    assert forecasting.scaled_learning_rate(0.001, 2 * 256, 256) == 0.002
    # Small data: each rank's batch shrank to 23 where one process takes 47: about the same rate.
    assert forecasting.scaled_learning_rate(0.001, 2 * 23, 47) == pytest.approx(0.000978723)
