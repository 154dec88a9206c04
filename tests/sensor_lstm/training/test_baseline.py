import dataclasses
import json
import math
from datetime import datetime, timedelta

import mlflow
import numpy as np
import pytest
from pyspark.sql import Row

from sensor_lstm import errors
from sensor_lstm.settings import FitSchedule, ModelConfig
from sensor_lstm.training import baseline
from sensor_lstm.training.baseline import train_baseline
from sensor_lstm.windows.prepare import prepare_sequences
from tests.support.jobs import job_args
from tests.support.lake_data import write_readings
from tests.support.mlflow_server import free_port

CONFIG = baseline.TrainingConfig(
    model=ModelConfig(
        seq_len=3,
        lstm_units=4,
        lstm_learns_change=True,
        batch_size=16,
        learning_rate=0.01,
        schedule=FitSchedule(epochs=3, patience=2, lr_patience=1, training_budget_minutes=1, min_steps_per_epoch=4),
    ),
    min_train_windows=5,
    threads_per_task=1,
)


def window_row(split, sensor, inputs, target, mean=10.0, std=2.0, one_step_naive_rmse=0.5):
    return Row(
        sensor_id=sensor,
        split=split,
        inputs=inputs,
        target=target,
        mean=mean,
        std=std,
        one_step_naive_rmse=one_step_naive_rmse,
    )


def test_partition_arrays_group_rows_by_split():
    rows = [window_row("train", "a", [1.0, 2.0, 3.0], 4.0), window_row("test", "b", [0.0, 0.0, 1.0], 2.0, 5.0, 1.0)]
    assert baseline.partition_arrays(rows) == {
        "train": {
            "sensor_id": ["a"],
            "inputs": [[1.0, 2.0, 3.0]],
            "target": [4.0],
            "mean": [10.0],
            "std": [2.0],
            "one_step_naive_rmse": [0.5],
        },
        "test": {
            "sensor_id": ["b"],
            "inputs": [[0.0, 0.0, 1.0]],
            "target": [2.0],
            "mean": [5.0],
            "std": [1.0],
            "one_step_naive_rmse": [0.5],
        },
    }


def test_a_model_that_learns_the_change_is_fitted_on_windows_weighted_by_persistences_error_on_their_sensor():
    rows = [window_row("train", "a", [1.0, 2.0, 3.0], 4.0), window_row("train", "b", [0.0, 0.0, 1.0], 2.0, 5.0, 0.5)]
    split = baseline.partition_arrays(rows)["train"]
    x, y, weights = baseline.fit_tensors(split, learns_change=True)
    # Persistence's training RMSE: 0.5 / 2 and 0.5 / 0.5 standard units.
    assert (x.shape, y.tolist(), weights.tolist()) == ((2, 3, 1), [4.0, 2.0], [16.0, 1.0])
    assert len(baseline.fit_tensors(split, learns_change=False)) == 2


def test_empty_and_tiny_partitions_are_skipped_with_a_reason():
    assert baseline.train_partition(2, iter([]), CONFIG) == {
        "partition": 2,
        "sensors": [],
        "windows": {"train": 0, "validation": 0, "test": 0},
        "skipped": "0 training windows, fewer than 5",
    }
    tiny = [window_row("train", "a", [1.0, 2.0, 3.0], 4.0)] * 4
    assert baseline.train_partition(0, iter(tiny), CONFIG)["skipped"] == "4 training windows, fewer than 5"
    unchecked = [window_row("train", "a", [1.0, 2.0, 3.0], 4.0)] * 5
    assert baseline.train_partition(0, iter(unchecked), CONFIG)["skipped"] == (
        "no validation windows to stop the training on"
    )


def test_partition_model_is_scored_in_original_units_against_persistence():
    series = [math.sin(step / 3) for step in range(60)]
    windows = [(series[i : i + 3], series[i + 3]) for i in range(56)]
    rows = [window_row("train", "a", inputs, target) for inputs, target in windows[:32]]
    rows += [window_row("validation", "a", inputs, target) for inputs, target in windows[32:40]]
    rows += [window_row("test", "a", inputs, target) for inputs, target in windows[40:]]
    result = baseline.train_partition(1, iter(rows), CONFIG)
    assert (result["sensors"], result["windows"]) == (["a"], {"train": 32, "validation": 8, "test": 16})
    assert {split_metric.split("_", 1)[1] for split_metric in result["metrics"]} == {"rmse", "mae", "persistence_rmse"}
    # 32 windows at 4 steps an epoch: batches of 8; the fit ran its epochs and kept the best one.
    assert (result["batch_size"], result["epochs_trained"]) == (8, 3) and 0 <= result["best_epoch"] < 3
    # Persistence in original units: std 2 times the normalized error of the last input.
    expected = 2.0 * np.sqrt(np.mean([(inputs[-1] - target) ** 2 for inputs, target in windows[40:]]))
    assert result["metrics"]["test_persistence_rmse"] == pytest.approx(expected, rel=1e-5)
    # LSTM kernel (1 x 4 gates x 4 units), recurrent kernel, bias; Dense kernel and bias.
    assert [np.shape(weights) for weights in result["weights"]] == [(1, 16), (4, 16), (16,), (4, 1), (1,)]


def prepare_three_sensors(spark, tmp_path, monkeypatch) -> None:
    """A day of 5-minute readings of three sensors, windowed, in a lake at tmp_path; MLflow there too."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    monkeypatch.setenv("SENSOR_LSTM_MLFLOW_ARTIFACTS", str(tmp_path / "artifacts"))
    start = datetime(2026, 11, 25)
    readings = [
        (sensor, start + timedelta(minutes=5 * step), 20.0 + offset + 3 * math.sin(step / 12))
        for offset, sensor in enumerate(["s1", "s2", "s3"])
        for step in range(288)
    ]
    write_readings(spark, tmp_path, readings)
    prepare_sequences(
        spark,
        job_args(
            "prepare_sequences",
            *[
                "--lake",
                str(tmp_path),
                "--run-date",
                "2026-11-25",
                "--lookback-days",
                "1",
                "--sampling-interval-seconds",
                "300",
                "--seq-len",
                "6",
            ],
        ),
    )


def test_job_trains_each_partition_logs_to_mlflow_and_skips_empty_ones(spark, tmp_path, monkeypatch):
    prepare_three_sensors(spark, tmp_path, monkeypatch)

    args = job_args(
        "train_baseline",
        *[
            "--lake",
            str(tmp_path),
            "--run-date",
            "2026-11-25",
            "--partitions",
            "4",
            "--epochs",
            "2",
            "--min-train-windows",
            "10",
            "--experiment",
            "test-baseline",
            "--tag",
            "dag_id=sensor_lstm_pipeline",
            "--tag",
            "airflow_run_id=manual__1",
        ],
    )
    report = train_baseline(spark, args)

    partitions = report.partitions
    assert [row["partition"] for row in partitions] == [0, 1, 2, 3]
    assert sorted(sensor for row in partitions for sensor in row["sensors"]) == ["s1", "s2", "s3"]
    skipped = [row for row in partitions if "skipped" in row]
    trained = [row for row in partitions if "skipped" not in row]
    assert skipped and all(row["skipped"] == "0 training windows, fewer than 10" for row in skipped)
    assert trained

    run = mlflow.get_run(report.mlflow_run_id)
    assert run.data.tags["dag_id"] == "sensor_lstm_pipeline"
    assert run.data.tags["airflow_run_id"] == "manual__1"
    assert run.data.tags["run_day"] == "2026-11-25"
    assert run.data.params["seq_len"] == "6"
    for row in trained:
        prefix = f"partition_{row['partition']}"
        assert {
            f"{prefix}.{split}_{name}"
            for split in ("validation", "test")
            for name in ("rmse", "mae", "persistence_rmse")
        } <= set(run.data.metrics)
        # Two epochs, patience 10: the epoch limit ends every fit.
        assert row["stopped_by"] == run.data.tags[f"{prefix}.stopped_by"] == "max_epochs"
        model = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/partition-{row['partition']}")
        assert np.asarray(model.predict(np.zeros((7, 6, 1), dtype=np.float32))).shape == (7, 1)
    for row in skipped:
        assert run.data.tags[f"partition_{row['partition']}.skipped"] == row["skipped"]
    table = json.loads((tmp_path / "reports" / "train_baseline" / "date=2026-11-25" / "report.json").read_text())
    assert table == dataclasses.asdict(report)


def test_a_partition_whose_loss_turns_nan_fails_the_job_in_one_line_and_logs_nothing(spark, tmp_path, monkeypatch):
    prepare_three_sensors(spark, tmp_path, monkeypatch)
    args = job_args(
        "train_baseline",
        *[
            "--lake",
            str(tmp_path),
            "--run-date",
            "2026-11-25",
            "--partitions",
            "2",
            "--min-train-windows",
            "10",
            "--experiment",
            "test-diverged",
        ],
    )
    args.learning_rate = 1e30  # far past the Param's bounds, which the parser holds to: the fit diverges
    with pytest.raises(errors.StageFailed) as raised:
        train_baseline(spark, args)
    assert str(raised.value) == (
        "partition 0 of 2: training diverged: loss nan at epoch 1 (learning rate 1e+30); "
        "lower --learning-rate (2 partitions diverged)"
    )
    experiment = mlflow.get_experiment_by_name("test-diverged")
    assert mlflow.search_runs([experiment.experiment_id]).empty
    assert not (tmp_path / "reports" / "train_baseline").exists()


def test_a_tracking_server_that_is_down_fails_the_job_before_it_reads_or_trains(spark, tmp_path, monkeypatch):
    uri = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    args = job_args("train_baseline", *["--lake", str(tmp_path), "--run-date", "2026-11-25"])
    with pytest.raises(errors.StageFailed, match=f"^MLflow tracking server {uri} is unreachable: "):
        train_baseline(spark, args)  # the lake is empty: reading it would have failed otherwise
