import argparse

import pytest

from spark_jobs.model_config import FitSchedule, ModelConfig, add_model_arguments, model_config_from_arguments


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    add_model_arguments(parser, batch_size_help="the largest batch", learning_rate_help="Adam's initial rate")
    return parser


def test_the_model_config_from_the_arguments_takes_seq_len_from_the_caller():
    args = parser().parse_args(["--units", "8", "--epochs", "50", "--training-budget-minutes", "1.5"])
    assert model_config_from_arguments(args, seq_len=12) == ModelConfig(
        seq_len=12,
        units=8,
        batch_size=256,
        learning_rate=0.002,
        schedule=FitSchedule(max_epochs=50, patience=10, lr_patience=4, budget_seconds=90.0, min_steps_per_epoch=128),
    )


def test_the_arguments_default_to_the_model_configs_defaults():
    assert model_config_from_arguments(parser().parse_args([]), seq_len=24) == ModelConfig(seq_len=24)


@pytest.mark.parametrize(
    ("argument", "message"),
    [("--patience", "patience must be positive, got 0"), ("--units", "units must be positive, got 0")],
)
def test_a_setting_that_is_not_positive_is_refused(argument, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        model_config_from_arguments(parser().parse_args([argument, "0"]), seq_len=24)


def test_the_settings_name_every_field_the_schedule_included():
    assert ModelConfig(seq_len=24).settings() == {
        "seq_len": 24,
        "units": 32,
        "batch_size": 256,
        "learning_rate": 0.002,
        "max_epochs": 200,
        "patience": 10,
        "lr_patience": 4,
        "budget_seconds": 1800.0,
        "min_steps_per_epoch": 128,
    }
