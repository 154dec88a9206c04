"""What every training and evaluation stage shares: windows as tensors, units, scores, the model.

Windows come from prepare_sequences in normalized units; scores are always reported in the
sensor's original units (``reading = value * std + mean``, with the sensor's training
statistics), so models trained on different partitions, and the persistence baseline, compare
on the same scale.
"""

from __future__ import annotations

import logging
import os
from typing import Sequence

import numpy as np

log = logging.getLogger(__name__)


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


def persistence_forecast(x: np.ndarray) -> np.ndarray:
    """The naive forecast: the target equals the window's last input."""
    return x[:, -1, 0]


def rmse(predicted: np.ndarray, actual: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(np.asarray(predicted) - np.asarray(actual)))))


def mae(predicted: np.ndarray, actual: np.ndarray) -> float:
    return float(np.mean(np.abs(np.asarray(predicted) - np.asarray(actual))))


def scores(predicted: np.ndarray, actual: np.ndarray) -> dict[str, float]:
    return {"rmse": rmse(predicted, actual), "mae": mae(predicted, actual)}


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


def build_lstm(seq_len: int, units: int, learning_rate: float, seed: int = 0):
    """A one-layer LSTM regressor (tf_keras, the Keras 2 API that Horovod supports)."""
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    import tf_keras as keras

    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [keras.layers.Input(shape=(seq_len, 1)), keras.layers.LSTM(units), keras.layers.Dense(1)]
    )
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="mse")
    return model


def mlflow_experiment(name: str) -> str:
    """The experiment's id, creating it when missing. A new experiment keeps its artifacts in
    SENSOR_LSTM_MLFLOW_ARTIFACTS when set (local stores); a tracking server chooses otherwise."""
    import mlflow

    client = mlflow.MlflowClient()
    existing = client.get_experiment_by_name(name)
    if existing is not None:
        return existing.experiment_id
    return client.create_experiment(name, artifact_location=os.environ.get("SENSOR_LSTM_MLFLOW_ARTIFACTS"))
