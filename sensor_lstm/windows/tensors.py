"""Windows as arrays: the LSTM's tensors, and values back in the sensors' original units.

Windows come from prepare_sequences in normalized units (``reading = value * std + mean``, with
each sensor's training statistics); scores are always computed in original units, so models
trained on different sensors, and the naive forecasts, compare on the same scale. NumPy and Arrow
only.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow.compute as pc


def window_tensors(inputs: Sequence[Sequence[float]], targets: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """LSTM tensors from windows: x of shape (windows, seq_len, 1) and y of shape (windows,)."""
    try:
        x = np.asarray(inputs, dtype=np.float32)
    except ValueError as error:
        raise ValueError("windows must all have the same length") from error
    if x.ndim != 2:
        raise ValueError(f"windows must be sequences of the same length, got an array of shape {x.shape}")
    return x[:, :, np.newaxis], np.asarray(targets, dtype=np.float32)


def to_original_units(values: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """Undo per-sensor normalization: one mean and std per value (its sensor's)."""
    return np.asarray(values, dtype=np.float64) * np.asarray(std, dtype=np.float64) + np.asarray(mean, dtype=np.float64)


def arrow_window_tensors(windows) -> tuple[np.ndarray, np.ndarray]:
    """x and y, as window_tensors makes them, from an Arrow table's ``inputs`` and ``target``."""
    inputs = windows.column("inputs").combine_chunks()
    seq_len = len(inputs[0]) if len(inputs) else 0
    if len(inputs) and not (pc.list_value_length(inputs).to_numpy() == seq_len).all():
        raise ValueError("windows must all have the same length")
    x = inputs.flatten().to_numpy(zero_copy_only=False).astype(np.float32).reshape(len(inputs), seq_len, 1)
    return x, windows.column("target").to_numpy().astype(np.float32)


def seasonal_naive_matrix(windows) -> np.ndarray:
    """An Arrow table's ``seasonal_naive`` lists as a (windows, seasons) array, NaN where missing."""
    forecasts = windows.column("seasonal_naive").combine_chunks()
    seasons = len(forecasts[0]) if len(forecasts) else 0
    return forecasts.flatten().to_numpy(zero_copy_only=False).astype(np.float32).reshape(len(forecasts), seasons)


def lacks_seasonal_naive(windows) -> np.ndarray:
    """Which windows miss at least one seasonal naive forecast."""
    return np.isnan(seasonal_naive_matrix(windows)).any(axis=1)
