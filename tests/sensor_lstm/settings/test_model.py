from sensor_lstm.settings import DEFAULT_MODEL, FitSchedule, ModelConfig, model_config
from tests.support.jobs import job_args

REQUIRED = ["--lake", "/lake", "--run-date", "2026-11-25"]


def test_the_model_config_of_a_trainings_arguments_takes_seq_len_from_the_caller():
    args = job_args(
        "train_baseline",
        *REQUIRED,
        "--lstm-units",
        "8",
        "--no-lstm-learns-change",
        "--epochs",
        "50",
        "--training-budget-minutes",
        "1.5",
    )
    assert model_config(args, seq_len=12) == ModelConfig(
        seq_len=12,
        lstm_units=8,
        lstm_learns_change=False,
        batch_size=256,
        learning_rate=0.002,
        schedule=FitSchedule(
            epochs=50, patience=10, lr_patience=4, training_budget_minutes=1.5, min_steps_per_epoch=128
        ),
    )
    assert model_config(args, seq_len=12).schedule.budget_seconds == 90.0


def test_both_trainings_default_to_the_same_model_the_tables_defaults():
    for job in ("train_baseline", "train_distributed"):
        assert model_config(job_args(job, *REQUIRED), seq_len=24) == DEFAULT_MODEL


def test_the_settings_name_every_field_the_schedule_included_by_its_setting():
    assert DEFAULT_MODEL.settings() == {
        "seq_len": 24,
        "lstm_units": 32,
        "lstm_learns_change": True,
        "batch_size": 256,
        "learning_rate": 0.002,
        "epochs": 200,
        "patience": 10,
        "lr_patience": 4,
        "training_budget_minutes": 30,
        "min_steps_per_epoch": 128,
    }
