"""The LSTM itself, and the rules every training applies to it: its batch, its learning rate under
Horovod, TensorFlow's threads. tf_keras (the Keras 2 API that Horovod supports) is imported only
when a model is built, so the drivers that import this never load TensorFlow.
"""

from __future__ import annotations

import logging
import os

import numpy as np

log = logging.getLogger(__name__)

# The least persistence RMSE, in standard units, a sensor's loss weight assumes: 1% of its std, a
# weight of 10,000 at most (the real hourly series measured 0.05 to 0.7).
MIN_CHANGE_SCALE = 0.01


def batch_size_for(windows: int, largest_batch: int, min_steps_per_epoch: int) -> int:
    """The largest batch, or a smaller one that still gives ``min_steps_per_epoch`` steps."""
    return max(1, min(largest_batch, windows // min_steps_per_epoch))


def scaled_learning_rate(learning_rate: float, global_batch: int, one_process_batch: int) -> float:
    """The linear scaling rule: ``learning_rate`` is for the batch one process would take."""
    return learning_rate * global_batch / one_process_batch


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


def build_lstm(
    seq_len: int, units: int, learning_rate: float, *, learns_change: bool, seed: int = 0, wrap_optimizer=None
):
    """A one-layer LSTM regressor (tf_keras, the Keras 2 API that Horovod supports).

    ``learns_change``: the output is the window's last input plus the LSTM's, whose last layer
    starts at zero, so the untrained model is persistence and training learns the change.
    ``wrap_optimizer`` wraps the Adam optimizer before compiling (Horovod's DistributedOptimizer).
    """
    keras = tf_keras()
    keras.utils.set_random_seed(seed)
    inputs = keras.layers.Input(shape=(seq_len, 1))
    if learns_change:
        change = keras.layers.Dense(1, kernel_initializer="zeros")(keras.layers.LSTM(units)(inputs))
        last_input = keras.layers.Flatten()(keras.layers.Cropping1D((seq_len - 1, 0))(inputs))
        model = keras.Model(inputs, keras.layers.Add()([last_input, change]))
    else:
        model = keras.Sequential([inputs, keras.layers.LSTM(units), keras.layers.Dense(1)])
    optimizer = keras.optimizers.Adam(learning_rate)
    # No metrics: the loss, weighted when the fit is, is all a fit reports.
    model.compile(optimizer=wrap_optimizer(optimizer) if wrap_optimizer else optimizer, loss="mse", weighted_metrics=[])
    return model


def change_weights(one_step_naive_rmse: np.ndarray, std: np.ndarray) -> np.ndarray:
    """Each window's weight in the loss of a model that learns the change: the inverse square of
    persistence's training RMSE on its sensor, in standard units. Each sensor's weighted squared
    error is then relative to persistence's, which scores about 1 on every sensor's training windows:
    pooled, a sensor counts by how much better than persistence it is forecast, not by how much it
    moves in a step, where noisy sensors' errors drowned smooth ones'. A glitch on a sensor stuck
    otherwise raises its own RMSE, so it cannot dominate the loss as it would against the mean
    step. A scale below MIN_CHANGE_SCALE (a training period stuck throughout) counts as that floor;
    an unknown one (no two consecutive training readings) as the plain MSE's 1."""
    scale = np.divide(np.asarray(one_step_naive_rmse, dtype=np.float64), np.asarray(std, dtype=np.float64))
    scale = np.where(np.isfinite(scale), np.maximum(scale, MIN_CHANGE_SCALE), 1.0)
    return (1.0 / scale**2).astype(np.float32)


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
