"""The model and its fit as the trainings use them: typed views of the settings table's model
settings, which hold every default.

prepare_sequences cuts windows of ``seq_len`` readings and writes the length it used into its
report; the trainings take it from there, never from their own arguments.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from types import SimpleNamespace

from sensor_lstm.settings.table import SETTINGS

DEFAULTS = {setting.name: setting.default for setting in SETTINGS}


@dataclass(frozen=True)
class FitSchedule:
    epochs: int  # at most
    patience: int  # epochs without a better validation loss before the fit ends
    lr_patience: int  # epochs without a better validation loss before the learning rate halves
    training_budget_minutes: float  # wall-clock limit of the fit
    min_steps_per_epoch: int  # the batch shrinks on small data so an epoch takes at least this many steps

    @property
    def budget_seconds(self) -> float:
        return self.training_budget_minutes * 60.0


@dataclass(frozen=True)
class ModelConfig:
    seq_len: int  # inputs per window: the day's, from prepare_sequences' report
    lstm_units: int
    lstm_learns_change: bool  # persistence plus a learned change, fitted on each sensor's scale of change
    batch_size: int  # the largest batch (per rank); smaller where an epoch would take too few steps
    learning_rate: float  # Adam's initial rate, for the batch one process would take
    schedule: FitSchedule

    def settings(self) -> dict:
        """Every setting by name, the schedule's included: what names a fit of these windows."""
        return {**{name: value for name, value in asdict(self).items() if name != "schedule"}, **asdict(self.schedule)}


def model_config(values, seq_len: int) -> ModelConfig:
    """The ModelConfig of parsed job arguments (or any object with the settings as attributes)."""
    return ModelConfig(
        seq_len=seq_len,
        lstm_units=values.lstm_units,
        lstm_learns_change=values.lstm_learns_change,
        batch_size=values.batch_size,
        learning_rate=values.learning_rate,
        schedule=FitSchedule(
            epochs=values.epochs,
            patience=values.patience,
            lr_patience=values.lr_patience,
            training_budget_minutes=values.training_budget_minutes,
            min_steps_per_epoch=values.min_steps_per_epoch,
        ),
    )


DEFAULT_MODEL = model_config(SimpleNamespace(**DEFAULTS), seq_len=DEFAULTS["seq_len"])
