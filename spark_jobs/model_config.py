"""The model and its fit: every setting with its default, declared once.

prepare_sequences cuts windows of ``--seq-len`` readings (default SEQ_LEN) and writes the length it
used into its report; the trainings read it from there, never from their own arguments. The two
trainings (train_baseline, train_distributed) take the same model arguments (add_model_arguments)
and build the same ModelConfig from them; the DAG's Params default to these values. Nothing is
imported here, so the DAG can import it.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass, field

SEQ_LEN = 24  # readings per window, prepare_sequences' default
TRAINING_BUDGET_MINUTES = 30  # wall-clock limit of a fit


@dataclass(frozen=True)
class FitSchedule:
    max_epochs: int = 200
    patience: int = 10  # epochs without a better validation loss before the fit ends
    lr_patience: int = 4  # epochs without a better validation loss before the learning rate halves
    budget_seconds: float = TRAINING_BUDGET_MINUTES * 60.0  # wall-clock seconds the fit may take
    min_steps_per_epoch: int = 128  # the batch shrinks on small data so an epoch takes at least this many steps


@dataclass(frozen=True)
class ModelConfig:
    seq_len: int  # inputs per window: the day's, from prepare_sequences' report
    units: int = 32  # LSTM units
    batch_size: int = 256  # the largest batch (per rank); smaller where an epoch would take too few steps
    learning_rate: float = 0.002  # Adam's initial rate, for the batch one process would take
    schedule: FitSchedule = field(default_factory=FitSchedule)

    def settings(self) -> dict:
        """Every setting by name, the schedule's included: what names a fit of these windows."""
        return {**{name: value for name, value in asdict(self).items() if name != "schedule"}, **asdict(self.schedule)}


DEFAULT_MODEL = ModelConfig(seq_len=SEQ_LEN)


def add_model_arguments(parser: argparse.ArgumentParser, batch_size_help: str, learning_rate_help: str) -> None:
    """The model's and the fit schedule's arguments, the same for every training job."""
    schedule = DEFAULT_MODEL.schedule
    parser.add_argument("--units", type=int, default=DEFAULT_MODEL.units, help="LSTM units")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_MODEL.batch_size, help=batch_size_help)
    parser.add_argument("--learning-rate", type=float, default=DEFAULT_MODEL.learning_rate, help=learning_rate_help)
    parser.add_argument(
        "--epochs", type=int, default=schedule.max_epochs, help="at most; early stopping usually ends sooner"
    )
    parser.add_argument(
        "--patience", type=int, default=schedule.patience, help="epochs without a better validation loss: stop"
    )
    parser.add_argument(
        "--lr-patience",
        type=int,
        default=schedule.lr_patience,
        help="epochs without a better validation loss: halve the learning rate",
    )
    parser.add_argument(
        "--training-budget-minutes",
        type=float,
        default=float(TRAINING_BUDGET_MINUTES),
        help="wall-clock limit of the fit; it ends with the best weights so far",
    )
    parser.add_argument(
        "--min-steps-per-epoch",
        type=int,
        default=schedule.min_steps_per_epoch,
        help="the batch shrinks below --batch-size where an epoch would take fewer steps",
    )


def model_config_from_arguments(args: argparse.Namespace, seq_len: int) -> ModelConfig:
    """The ModelConfig the arguments ask for; a ValueError names the first setting that is not positive."""
    config = ModelConfig(
        seq_len=seq_len,
        units=args.units,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        schedule=FitSchedule(
            max_epochs=args.epochs,
            patience=args.patience,
            lr_patience=args.lr_patience,
            budget_seconds=args.training_budget_minutes * 60,
            min_steps_per_epoch=args.min_steps_per_epoch,
        ),
    )
    for name, value in config.settings().items():
        if value <= 0:
            raise ValueError(f"{name} must be positive, got {value}")
    return config
