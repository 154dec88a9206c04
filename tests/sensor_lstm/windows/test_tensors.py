import numpy as np
import pyarrow as pa
import pytest

from sensor_lstm.windows import tensors


def test_window_tensors_shape_windows_for_an_lstm():
    x, y = tensors.window_tensors([[1.0, 2.0], [3.0, 4.0]], [5.0, 6.0])
    assert x.shape == (2, 2, 1) and x.dtype == np.float32
    assert x[:, :, 0].tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert y.tolist() == [5.0, 6.0]
    with pytest.raises(ValueError, match="same length"):
        tensors.window_tensors([[1.0, 2.0], [3.0]], [5.0, 6.0])


def test_to_original_units_uses_each_values_sensor_statistics():
    restored = tensors.to_original_units(
        np.array([0.0, 1.0, -1.0]), np.array([10.0, 10.0, 20.0]), np.array([2.0, 2.0, 5.0])
    )
    assert restored.tolist() == [10.0, 12.0, 15.0]


def test_arrow_window_tensors_match_window_tensors():
    windows = pa.table({"inputs": [[1.0, 2.0], [3.0, 4.0]], "target": [5.0, 6.0]})
    x, y = tensors.arrow_window_tensors(windows)
    assert x.shape == (2, 2, 1) and x.dtype == np.float32
    assert x[:, :, 0].tolist() == [[1.0, 2.0], [3.0, 4.0]] and y.tolist() == [5.0, 6.0]
    with pytest.raises(ValueError, match="same length"):
        tensors.arrow_window_tensors(pa.table({"inputs": [[1.0, 2.0], [3.0]], "target": [5.0, 6.0]}))
