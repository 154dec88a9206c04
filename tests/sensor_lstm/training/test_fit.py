from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest
import tensorflow as tf

from sensor_lstm.settings import FitSchedule
from sensor_lstm.training import fit
from sensor_lstm.training import model as lstm

SCHEDULE = FitSchedule(epochs=100, patience=3, lr_patience=2, training_budget_minutes=60, min_steps_per_epoch=4)


class Recorder:
    """A stand-in model: its weights are the number of the epoch that last ended."""

    def __init__(self, learning_rate=0.01):
        self.optimizer = SimpleNamespace(learning_rate=tf.Variable(learning_rate, dtype=tf.float32))
        self.stop_training = False
        self.epoch = None
        self.restored = None

    def get_weights(self):
        return [self.epoch]

    def set_weights(self, weights):
        self.restored = weights


def run_epochs(convergence, model, val_losses):
    """Drive the callback as model.fit does; returns the epochs that ran."""
    convergence.set_model(model)
    convergence.on_train_begin()
    ran = 0
    for epoch, loss in enumerate(val_losses):
        model.epoch = epoch
        convergence.on_epoch_begin(epoch)
        convergence.on_epoch_end(epoch, {"loss": loss, "val_loss": loss})
        ran += 1
        if model.stop_training:
            break
    convergence.on_train_end()
    return ran


def test_learning_rate_halves_on_a_plateau_and_patience_ends_with_the_best_weights():
    model, convergence = Recorder(), fit.Convergence(SCHEDULE)
    # Epoch 2 is the lowest so far but within 0.1% of epoch 1: the best weights, not an improvement.
    losses = [1.0, 0.5, 0.4999, 0.6, 0.45, 0.46, 0.47, 0.48, 0.2]
    assert run_epochs(convergence, model, losses) == 8
    assert convergence.learning_rates == pytest.approx([0.01, 0.01, 0.01, 0.01, 0.005, 0.005, 0.005, 0.0025])
    assert (convergence.reason, convergence.best_epoch, model.restored) == ("early_stopping", 4, [4])


def test_the_learning_rate_never_falls_below_a_hundredth():
    model, convergence = Recorder(), fit.Convergence(replace(SCHEDULE, patience=50, lr_patience=1))
    run_epochs(convergence, model, [1.0] * 12)
    assert convergence.learning_rates[-1] == pytest.approx(0.0001)
    assert min(convergence.learning_rates) == pytest.approx(0.0001)


def test_the_budget_stops_before_an_epoch_that_would_overrun_it(monkeypatch):
    clock = iter(range(0, 1000, 10))  # every reading of the clock is 10 s after the last
    monkeypatch.setattr(fit.time, "perf_counter", lambda: next(clock))
    model = Recorder()
    convergence = fit.Convergence(replace(SCHEDULE, training_budget_minutes=0.75))
    # Begin at 0; epoch 0 runs 10-20, ends at 20 s with a 10 s epoch: the next would end at 30 s.
    # Epoch 1 runs 30-40: 40 s + 10 s would overrun 45 s, so it is the last.
    assert run_epochs(convergence, model, [1.0, 0.9, 0.8, 0.7]) == 2
    assert (convergence.reason, convergence.epoch_seconds, model.restored) == ("time_budget", [10, 10], [1])


def test_the_ranks_agreement_decides_the_stop():
    model = Recorder()
    convergence = fit.Convergence(SCHEDULE, agree=lambda flags: [False, True])
    assert run_epochs(convergence, model, [1.0, 0.9]) == 1
    assert convergence.reason == "time_budget"


SPLIT = (slice(0, 192), slice(192, 256))


@pytest.mark.parametrize("learns_change", [False, True])
def test_a_fit_ends_with_the_best_epochs_weights(learns_change):
    generator = np.random.default_rng(0)
    x = generator.standard_normal((256, 4, 1), dtype=np.float32)
    y = x[:, -1, 0] * 0.5
    # Weighted, as a model that learns the change is fitted: its validation loss is weighted too.
    weights = (np.arange(256) % 4 + 1).astype(np.float32) if learns_change else None
    model = lstm.build_lstm(4, 4, 0.05, learns_change=learns_change, seed=0)
    schedule = replace(SCHEDULE, epochs=6, patience=2, lr_patience=1)
    train, validation = ((x[part], y[part]) + ((weights[part],) if learns_change else ()) for part in SPLIT)
    fitted = fit.fit(model, train, validation, batch_size=48, schedule=schedule)
    assert fitted["epochs_trained"] == len(fitted["val_loss"]) == len(fitted["learning_rate"]) <= 6
    assert fitted["best_val_loss"] == min(fitted["val_loss"])
    assert fitted["val_loss"][fitted["best_epoch"]] == fitted["best_val_loss"]
    validation_weights = weights[SPLIT[1]] if learns_change else None
    best = model.evaluate(x[SPLIT[1]], y[SPLIT[1]], sample_weight=validation_weights, verbose=0)
    assert best == pytest.approx(fitted["best_val_loss"], rel=1e-5)


def test_a_non_finite_loss_ends_the_fit_at_once_naming_it_and_keeps_no_weights():
    model, convergence = Recorder(), fit.Convergence(SCHEDULE)
    assert run_epochs(convergence, model, [1.0, float("nan"), 0.5]) == 2
    assert (convergence.reason, model.restored) == ("diverged", None)
    assert (
        convergence.divergence == "training diverged: loss nan at epoch 2 (learning rate 0.01); lower --learning-rate"
    )
    model, convergence = Recorder(), fit.Convergence(SCHEDULE)
    convergence.set_model(model)
    convergence.on_train_begin()
    convergence.on_epoch_begin(0)
    convergence.on_epoch_end(0, {"loss": 0.5, "val_loss": float("inf")})
    assert model.stop_training
    assert convergence.divergence == (
        "training diverged: validation loss inf at epoch 1 (learning rate 0.01); lower --learning-rate"
    )


def test_another_ranks_divergence_stops_this_one_too():
    model = Recorder()
    convergence = fit.Convergence(SCHEDULE, agree=lambda flags: [False, False, True])
    assert run_epochs(convergence, model, [1.0, 0.9]) == 1
    assert convergence.reason == "diverged"
    assert convergence.divergence == "training diverged in another process at epoch 1; lower --learning-rate"


def test_a_diverging_fit_raises_one_line_naming_the_loss_epoch_and_learning_rate():
    generator = np.random.default_rng(0)
    x = generator.standard_normal((256, 4, 1), dtype=np.float32)
    model = lstm.build_lstm(4, 4, 1e30, learns_change=False, seed=0)
    with pytest.raises(fit.TrainingDiverged) as raised:
        fit.fit(model, (x[:192], x[:192, -1, 0]), (x[192:], x[192:, -1, 0]), batch_size=48, schedule=SCHEDULE)
    assert str(raised.value) == "training diverged: loss nan at epoch 1 (learning rate 1e+30); lower --learning-rate"
