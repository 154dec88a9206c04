"""How every model of the pipeline is fitted: until its validation loss stops improving, within a
wall-clock budget, ending with the weights of its best epoch.

An epoch improves on the fit when its validation loss is at least ``MIN_IMPROVEMENT`` (0.1%)
below the best so far, so a long tail of ever tinier gains does not keep a fit going:
  * after ``lr_patience`` epochs without an improvement the learning rate halves, down to a
    hundredth of the initial rate;
  * after ``patience`` epochs without one the fit ends (early stopping);
  * the fit also ends when the next epoch would not finish within ``budget_seconds``;
  * whatever ends it (those two, or ``max_epochs``), the model ends with the weights of the
    epoch with the lowest validation loss;
  * a training or validation loss that is not finite (NaN, inf: the fit diverged, say at too
    high a learning rate) ends it at once, and ``fit`` raises TrainingDiverged naming the loss,
    the epoch and the learning rate: no model comes out of a diverged fit.

Horovod's ranks see the same, averaged, validation loss, so they change their learning rates
identically; the stopping decision is agreed through ``agree`` (an allreduce), since each rank
reads its own clock. This module imports tf_keras: executors and ranks load it, drivers do not.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import numpy as np
import tf_keras as keras

from sensor_lstm.settings import FitSchedule

EARLY_STOPPING, TIME_BUDGET, MAX_EPOCHS, DIVERGED = "early_stopping", "time_budget", "max_epochs", "diverged"
MIN_IMPROVEMENT = 1e-3  # the share by which a validation loss must beat the best so far to count


class TrainingDiverged(RuntimeError):
    """A loss became NaN or infinite; the message names it, its epoch and the learning rate."""


def stop_reason(patience_reached: bool, budget_reached: bool, diverged: bool = False) -> str | None:
    if diverged:
        return DIVERGED
    if budget_reached:
        return TIME_BUDGET
    return EARLY_STOPPING if patience_reached else None


class Convergence(keras.callbacks.Callback):
    """The schedule of sensor_lstm/training/fit.py as a callback: keeps the best epoch's weights,
    halves the learning rate on a plateau, ends the fit on patience or budget, and restores the
    best weights at the end. ``agree`` turns this process's [patience reached, budget reached]
    into the decision every process takes (the identity for a single process); a non-finite
    loss is a third flag, so that every process stops together on it too."""

    def __init__(self, schedule: FitSchedule, agree: Callable[[Sequence[bool]], Sequence[bool]] = list):
        super().__init__()
        self.schedule, self.agree = schedule, agree
        self.best_loss, self.best_epoch, self.best_weights = math.inf, -1, None
        self.reference_loss, self.improved_epoch, self.lr_changed_epoch = math.inf, -1, -1
        self.reason, self.epoch_seconds, self.learning_rates = MAX_EPOCHS, [], []
        self.divergence = None  # what diverged, as TrainingDiverged says it

    def on_train_begin(self, logs=None):
        self.started = time.perf_counter()
        self.initial_rate = self.learning_rate()

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_started = time.perf_counter()

    def learning_rate(self) -> float:
        return float(keras.backend.get_value(self.model.optimizer.learning_rate))

    def on_epoch_end(self, epoch, logs=None):
        now = time.perf_counter()
        self.epoch_seconds.append(now - self.epoch_started)
        self.learning_rates.append(self.learning_rate())
        logs["lr"] = self.learning_rates[-1]
        loss = logs["val_loss"]
        non_finite = [(name, logs[name]) for name in ("loss", "val_loss") if not math.isfinite(logs[name])]
        if non_finite:
            name, value = non_finite[0]
            self.divergence = (
                f"training diverged: {'validation loss' if name == 'val_loss' else 'loss'} {value} at "
                f"epoch {epoch + 1} (learning rate {self.learning_rates[-1]:.3g}); lower --learning-rate"
            )
        if loss < self.best_loss:
            self.best_loss, self.best_epoch, self.best_weights = loss, epoch, self.model.get_weights()
        if loss < self.reference_loss * (1 - MIN_IMPROVEMENT):
            self.reference_loss, self.improved_epoch = loss, epoch
        stalled = epoch - max(self.improved_epoch, self.lr_changed_epoch)
        if stalled >= self.schedule.lr_patience and self.learning_rates[-1] > self.initial_rate / 100:
            keras.backend.set_value(
                self.model.optimizer.learning_rate, max(self.learning_rates[-1] / 2, self.initial_rate / 100)
            )
            self.lr_changed_epoch = epoch
        next_epoch_ends = now - self.started + self.epoch_seconds[-1]
        flags = self.agree(
            [
                epoch - self.improved_epoch >= self.schedule.patience,
                next_epoch_ends > self.schedule.budget_seconds,
                bool(non_finite),
            ]
        )
        reason = stop_reason(*flags)
        if reason:
            self.reason, self.model.stop_training = reason, True
        if reason == DIVERGED and self.divergence is None:  # another process's loss
            self.divergence = f"training diverged in another process at epoch {epoch + 1}; lower --learning-rate"

    def on_train_end(self, logs=None):
        if self.best_weights is not None and self.reason != DIVERGED:
            self.model.set_weights(self.best_weights)


def fit(model, train, validation, *, batch_size: int, schedule: FitSchedule, before=(), after=(), agree=list) -> dict:
    """Fit ``model`` on (x, y) or (x, y, weights) ``train`` (``validation`` alike, its weights
    then weigh its loss too) as the schedule says; returns what happened: losses and
    learning rate per epoch, epoch seconds, best epoch, why it stopped. Callbacks in ``before``
    see each epoch's logs before the schedule does (to average them over ranks, say), those in
    ``after`` once it has (to log them, with the epoch's learning rate as ``lr``). Raises
    TrainingDiverged when a loss is not finite (on every process together, through ``agree``)."""
    convergence = Convergence(schedule, agree)
    # Keras takes a third positional array as the batch size: the weights go by name.
    x, y, *weights = train
    history = model.fit(
        x,
        y,
        sample_weight=weights[0] if weights else None,
        batch_size=batch_size,
        epochs=schedule.epochs,
        validation_data=validation,
        shuffle=True,
        callbacks=[*before, convergence, *after],
        verbose=0,
    )
    if convergence.reason == DIVERGED:
        raise TrainingDiverged(convergence.divergence)
    return {
        "epochs_trained": len(convergence.epoch_seconds),
        "best_epoch": convergence.best_epoch,
        "best_val_loss": float(convergence.best_loss),
        "stopped_by": convergence.reason,
        "batch_size": batch_size,
        "train_loss": [float(loss) for loss in history.history["loss"]],
        "val_loss": [float(loss) for loss in history.history["val_loss"]],
        "learning_rate": convergence.learning_rates,
        "epoch_seconds": convergence.epoch_seconds,
        "train_seconds": float(np.sum(convergence.epoch_seconds)),
    }
