"""The train_baseline stage: one small LSTM per partition of sensors, each trained inside a Spark
task on its own sensors' windows, one MLflow run for them all, and the report.
spark_jobs/train_baseline.py runs it."""

from __future__ import annotations

import logging
from argparse import Namespace
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from sensor_lstm import scoring, tracking
from sensor_lstm.errors import JobInputError, StageFailed
from sensor_lstm.lake import Lake, datasets
from sensor_lstm.lake.reports import PrepareSequencesReport, TrainBaselineReport
from sensor_lstm.settings import ModelConfig, model_config
from sensor_lstm.training import model as lstm
from sensor_lstm.windows import tensors

log = logging.getLogger("train_baseline")

EVALUATED_SPLITS = ("validation", "test")


@dataclass(frozen=True)
class TrainingConfig:
    model: ModelConfig
    min_train_windows: int
    threads_per_task: int


def partition_arrays(rows: Iterable) -> dict[str, dict[str, list]]:
    """Group a partition's rows by split into lists of sensor, inputs, target, mean, std and
    one-step naive RMSE."""
    columns = ("sensor_id", "inputs", "target", "mean", "std", "one_step_naive_rmse")
    by_split: dict[str, dict[str, list]] = {}
    for row in rows:
        lists = by_split.setdefault(row["split"], {name: [] for name in columns})
        for name in columns:
            lists[name].append(row[name])
    return by_split


def evaluate(model, split: dict[str, list]) -> dict[str, float]:
    """Model and persistence scores on one split's windows, in the sensors' original units."""
    x, y = tensors.window_tensors(split["inputs"], split["target"])
    mean, std = np.asarray(split["mean"]), np.asarray(split["std"])
    actual = tensors.to_original_units(y, mean, std)
    predicted = tensors.to_original_units(model.predict(x, verbose=0)[:, 0], mean, std)
    persistence = tensors.to_original_units(scoring.persistence_forecast(x), mean, std)
    return {**scoring.scores(predicted, actual), "persistence_rmse": scoring.rmse(persistence, actual)}


def fit_tensors(split: dict[str, list], learns_change: bool) -> tuple[np.ndarray, ...]:
    """x and y of one split's windows, and their loss weights for a model that learns the change."""
    x, y = tensors.window_tensors(split["inputs"], split["target"])
    if not learns_change:
        return x, y
    return x, y, lstm.change_weights(split["one_step_naive_rmse"], split["std"])


def train_partition(index: int, rows: Iterable, config: TrainingConfig) -> dict:
    """Train and score one partition's model; runs in an executor. Returns its table row."""
    by_split = partition_arrays(rows)
    counts = {split: len(by_split.get(split, {}).get("target", [])) for split in ("train", *EVALUATED_SPLITS)}
    sensors = sorted({sensor for split in by_split.values() for sensor in split["sensor_id"]})
    result = {"partition": index, "sensors": sensors, "windows": counts}
    if counts["train"] < config.min_train_windows:
        return {**result, "skipped": f"{counts['train']} training windows, fewer than {config.min_train_windows}"}
    if counts["validation"] == 0:
        return {**result, "skipped": "no validation windows to stop the training on"}

    from sensor_lstm.training import fit

    lstm.limit_tensorflow_threads(config.threads_per_task)
    model = build_model(config.model, seed=index)
    train = fit_tensors(by_split["train"], config.model.lstm_learns_change)
    validation = fit_tensors(by_split["validation"], config.model.lstm_learns_change)
    batch_size = lstm.batch_size_for(
        counts["train"], config.model.batch_size, config.model.schedule.min_steps_per_epoch
    )
    try:
        fitted = fit.fit(model, train, validation, batch_size=batch_size, schedule=config.model.schedule)
    except fit.TrainingDiverged as error:
        return {**result, "diverged": str(error)}
    metrics = {
        f"{split}_{name}": value
        for split in EVALUATED_SPLITS
        if counts[split]
        for name, value in evaluate(model, by_split[split]).items()
    }
    return {
        **result,
        "metrics": metrics,
        **{name: fitted[name] for name in ("epochs_trained", "best_epoch", "stopped_by", "batch_size")},
        "train_seconds": round(fitted["train_seconds"], 3),
        "weights": [weights.tolist() for weights in model.get_weights()],
    }


def build_model(model: ModelConfig, seed: int = 0):
    return lstm.build_lstm(
        model.seq_len, model.lstm_units, model.learning_rate, learns_change=model.lstm_learns_change, seed=seed
    )


def windows_with_stats(spark: SparkSession, sequences: str, stats: str) -> DataFrame:
    windows = spark.read.parquet(sequences).where(F.col("split").isin("train", *EVALUATED_SPLITS))
    stats_columns = ("sensor_id", "mean", "std", "one_step_naive_rmse")
    return windows.select("sensor_id", "split", "inputs", "target").join(
        F.broadcast(spark.read.parquet(stats).select(*stats_columns)), "sensor_id"
    )


def log_to_mlflow(
    args: Namespace, config: TrainingConfig, table: list[dict], experiment_id: str, windows_input: dict
) -> str:
    """One MLflow run for the stage, with the windows as its input; returns its id."""
    import mlflow
    import mlflow.tensorflow

    mlflow.set_experiment(experiment_id=experiment_id)
    tags = tracking.nested_under_dag_run(experiment_id, tracking.run_tags(args.tag, args.run_date))
    with mlflow.start_run(run_name=f"train_baseline {args.run_date}", tags=tags) as run:
        mlflow.log_params(
            {
                "partitions": args.partitions,
                **config.model.settings(),
                "min_train_windows": config.min_train_windows,
                "threads_per_task": config.threads_per_task,
            }
        )
        tracking.log_windows_input(**windows_input)
        example = np.zeros((1, config.model.seq_len, 1), dtype=np.float32)
        for row in table:
            if "skipped" in row:
                mlflow.set_tag(f"partition_{row['partition']}.skipped", row["skipped"])
                continue
            mlflow.set_tag(f"partition_{row['partition']}.stopped_by", row["stopped_by"])
            mlflow.log_metrics(
                {f"partition_{row['partition']}.{name}": value for name, value in row["metrics"].items()}
            )
            model = build_model(config.model)
            model.set_weights([np.asarray(weights, dtype=np.float32) for weights in row["weights"]])
            mlflow.tensorflow.log_model(
                model,
                name=f"partition-{row['partition']}",
                input_example=example,
                pip_requirements=tracking.pinned_requirements(tracking.KERAS_MODEL_PACKAGES),
            )
        mlflow.log_dict([without_weights(row) for row in table], "partitions.json")
        return run.info.run_id


def without_weights(row: dict) -> dict:
    return {name: value for name, value in row.items() if name != "weights"}


def train_baseline(spark: SparkSession, args: Namespace) -> TrainBaselineReport:
    """Train, score and log the run day's per-partition models; the report."""
    experiment_id = tracking.reachable_experiment(args.experiment)  # before spending anything
    lake: Lake = args.lake
    sequences = lake.partition(datasets.SEQUENCES, args.run_date)
    stats = lake.partition(datasets.SEQUENCE_STATS, args.run_date)
    if not (lake.exists(sequences) and lake.exists(stats)):
        raise JobInputError(f"no windows for {args.run_date} in {sequences}: run prepare_sequences first")
    prepared = PrepareSequencesReport.read(lake, args.run_date)
    # Before the training reads them: the digest names the files it read.
    data_digest = lake.digest({datasets.SEQUENCES: sequences, datasets.SEQUENCE_STATS: stats})
    windows_input = {"sequences": sequences, "digest": data_digest, "windows": prepared.windows}
    config = TrainingConfig(
        model_config(args, prepared.seq_len),
        min_train_windows=args.min_train_windows,
        threads_per_task=args.threads_per_task,
    )
    table = sorted(
        windows_with_stats(spark, sequences, stats)
        .repartition(args.partitions, "sensor_id")
        .rdd.mapPartitionsWithIndex(lambda index, rows: [train_partition(index, rows, config)])
        .collect(),
        key=lambda row: row["partition"],
    )
    check_partitions(table, args.training_budget_minutes)
    run_id = log_to_mlflow(args, config, table, experiment_id, windows_input)
    report = TrainBaselineReport(
        run_date=args.run_date.isoformat(),
        mlflow_run_id=run_id,
        data_digest=data_digest,
        partitions=[without_weights(row) for row in table],
    )
    path = report.write(lake, args.run_date)
    trained = len(report.trained_partitions())
    log.info("train_baseline %s: %d partitions trained, MLflow run %s; report %s", args.run_date, trained, run_id, path)
    return report


def check_partitions(table: list[dict], budget_minutes: float) -> None:
    """Fail on a diverged partition or when every one was skipped; warn of the others' troubles."""
    diverged = [row for row in table if "diverged" in row]
    if diverged:
        raise StageFailed(
            f"partition {diverged[0]['partition']} of {len(table)}: {diverged[0]['diverged']}"
            + (f" ({len(diverged)} partitions diverged)" if len(diverged) > 1 else "")
        )
    for row in table:
        if "skipped" in row:
            log.warning("partition %d skipped: %s", row["partition"], row["skipped"])
        elif row["stopped_by"] == "time_budget":
            log.warning(
                "partition %d stopped at its %.0f-minute training budget after %d epochs, still improving; "
                "it has the best epoch's weights (epoch %d)",
                row["partition"],
                budget_minutes,
                row["epochs_trained"],
                row["best_epoch"] + 1,
            )
    if all("skipped" in row for row in table):
        raise JobInputError("every partition was skipped: fewer training windows than the Param min_train_windows")
