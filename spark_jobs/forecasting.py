"""What every training and evaluation stage shares: windows as tensors, units, scores, the model.

Windows come from prepare_sequences in normalized units; scores are always reported in the
sensor's original units (``reading = value * std + mean``, with the sensor's training
statistics), so models trained on different partitions, and the persistence baseline, compare
on the same scale.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

import numpy as np
import pyarrow.compute as pc

log = logging.getLogger(__name__)


def batch_size_for(windows: int, largest_batch: int, min_steps_per_epoch: int) -> int:
    """The largest batch, or a smaller one that still gives ``min_steps_per_epoch`` steps."""
    return max(1, min(largest_batch, windows // min_steps_per_epoch))


def scaled_learning_rate(learning_rate: float, global_batch: int, one_process_batch: int) -> float:
    """The linear scaling rule: ``learning_rate`` is for the batch one process would take."""
    return learning_rate * global_batch / one_process_batch


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


def persistence_forecast(x: np.ndarray) -> np.ndarray:
    """The naive forecast: the target equals the window's last input."""
    return x[:, -1, 0]


PERSISTENCE, TRAINING_MEAN = "persistence", "training_mean"


def seasonal_naive_name(season: int) -> str:
    return f"seasonal_naive_{season}"


def naive_forecasts(x: np.ndarray, seasonal: np.ndarray, seasons: Sequence[int]) -> dict[str, np.ndarray]:
    """The naive forecasts of each window, normalized: persistence (the last input), the
    sensor's training mean (0 in normalized units), and each season's seasonal naive forecast
    (``seasonal``: one column per season, from prepare_sequences)."""
    return {
        PERSISTENCE: persistence_forecast(x),
        TRAINING_MEAN: np.zeros(len(x), dtype=np.float32),
        **{seasonal_naive_name(season): seasonal[:, column] for column, season in enumerate(seasons)},
    }


def seasonal_naive_matrix(windows) -> np.ndarray:
    """An Arrow table's ``seasonal_naive`` lists as a (windows, seasons) array, NaN where missing."""
    forecasts = windows.column("seasonal_naive").combine_chunks()
    seasons = len(forecasts[0]) if len(forecasts) else 0
    return forecasts.flatten().to_numpy(zero_copy_only=False).astype(np.float32).reshape(len(forecasts), seasons)


def lacks_seasonal_naive(windows) -> np.ndarray:
    """Which windows miss at least one seasonal naive forecast."""
    return np.isnan(seasonal_naive_matrix(windows)).any(axis=1)


def naive_sources(seasons: Sequence[int], lags: Sequence[int]) -> dict[str, str]:
    """What each naive forecast is, for the comparison table."""
    return {
        PERSISTENCE: "the last input",
        **{
            seasonal_naive_name(season): f"the reading {lag} steps before the target"
            for season, lag in zip(seasons, lags, strict=True)
        },
        TRAINING_MEAN: "the sensor's training mean",
    }


def rmse(predicted: np.ndarray, actual: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(np.asarray(predicted) - np.asarray(actual)))))


def mae(predicted: np.ndarray, actual: np.ndarray) -> float:
    return float(np.mean(np.abs(np.asarray(predicted) - np.asarray(actual))))


def scores(predicted: np.ndarray, actual: np.ndarray) -> dict[str, float]:
    return {"rmse": rmse(predicted, actual), "mae": mae(predicted, actual)}


def error_sums(predicted: np.ndarray, actual: np.ndarray) -> np.ndarray:
    """Windows, squared and absolute errors: what separate workers add up to score together."""
    error = np.asarray(predicted, dtype=np.float64) - np.asarray(actual, dtype=np.float64)
    return np.array([len(error), np.sum(np.square(error)), np.sum(np.abs(error))], dtype=np.float64)


def scores_from_sums(sums: Sequence[float]) -> dict[str, float]:
    windows, squared, absolute = (float(value) for value in sums)
    if windows == 0:
        return {"windows": 0}
    return {"windows": int(windows), "rmse": float(np.sqrt(squared / windows)), "mae": absolute / windows}


def limit_tensorflow_threads(threads: int) -> None:
    """Pin TensorFlow's thread pools, so processes sharing a machine do not fight over cores."""
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:
        # TensorFlow fixes its pools when it first runs; a process that already ran it keeps them.
        log.warning(
            "TensorFlow already runs with %d intra-op / %d inter-op threads; %d requested",
            tf.config.threading.get_intra_op_parallelism_threads(),
            tf.config.threading.get_inter_op_parallelism_threads(),
            threads,
        )


def build_lstm(seq_len: int, units: int, learning_rate: float, seed: int = 0, wrap_optimizer=None):
    """A one-layer LSTM regressor (tf_keras, the Keras 2 API that Horovod supports).

    ``wrap_optimizer`` wraps the Adam optimizer before compiling (Horovod's DistributedOptimizer).
    """
    keras = tf_keras()
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.layers.Input(shape=(seq_len, 1)), keras.layers.LSTM(units), keras.layers.Dense(1)])
    optimizer = keras.optimizers.Adam(learning_rate)
    model.compile(optimizer=wrap_optimizer(optimizer) if wrap_optimizer else optimizer, loss="mse")
    return model


def tf_keras():
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    import tf_keras as keras

    return keras


def model_spec(model) -> tuple[str, list[np.ndarray]]:
    """A model as its architecture (JSON) and weights: small, picklable, rebuilt anywhere."""
    return model.to_json(), model.get_weights()


def model_from_spec(spec: tuple[str, list[np.ndarray]]):
    architecture, weights = spec
    model = tf_keras().models.model_from_json(architecture)
    model.set_weights(weights)
    return model
