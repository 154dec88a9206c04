"""Per-partition baselines: one small LSTM per partition of sensors, trained inside the executors.

Example:
    spark-submit spark_jobs/train_baseline.py --lake var/lake --run-date 2026-11-22 --partitions 4

Inputs:
    <lake>/sequences/date=<run-date>/split=*/   windows (normalized), from prepare_sequences
    <lake>/sequence_stats/date=<run-date>/      each sensor's training mean and std
Outputs:
    MLflow (tracking URI from MLFLOW_TRACKING_URI), one run in --experiment, tagged with --tag
    pairs, the code version and each partition's partition_<i>.stopped_by (early_stopping,
    time_budget or max_epochs), holding:
      params     the arguments
      metrics    partition_<i>.<validation|test>_<rmse|mae> and
                 partition_<i>.<validation|test>_persistence_rmse, in original units
      artifacts  partition-<i>/ (each trained model, tf_keras, loadable with mlflow.tensorflow
                 or mlflow.pyfunc), partitions.json (the per-partition table, skipped ones with
                 their reason)
      inputs     the run day's windows (tracking.log_windows_input)
    <lake>/reports/train_baseline/date=<run-date>/report.json  the same table, the run id and the
      digest of the windows' and statistics' files (data_digest)

The windows are hash-partitioned by sensor into --partitions partitions; each partition trains on
its own sensors' training windows only, until its validation windows' loss stops improving, as
spark_jobs/training.py says (each partition's fit has the whole --training-budget-minutes; with
more partitions than cores, they queue), and is scored on their validation and test windows,
against the persistence forecast (the last input) on the same windows. A partition with fewer
than --min-train-windows training windows (an empty one included), or no validation window, is
skipped with its reason. A partition whose loss turns NaN or infinite fails the job in one line
(``train_baseline failed: partition <i> of <n>: training diverged: ...``, exit code 1), before
anything is logged; so does a tracking server that is down, checked before any training.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from spark_jobs import forecasting, tracking
from spark_jobs.job import JobInputError, StageFailed, run_job
from spark_jobs.lake import Lake, add_lake_arguments
from spark_jobs.model_config import ModelConfig, add_model_arguments, model_config_from_arguments

log = logging.getLogger("train_baseline")

EVALUATED_SPLITS = ("validation", "test")


@dataclass(frozen=True)
class TrainingConfig:
    model: ModelConfig
    min_train_windows: int
    threads_per_task: int


def partition_arrays(rows: Iterable) -> dict[str, dict[str, list]]:
    """Group a partition's rows by split into lists of sensor, inputs, target, mean and std."""
    columns = ("sensor_id", "inputs", "target", "mean", "std")
    by_split: dict[str, dict[str, list]] = {}
    for row in rows:
        lists = by_split.setdefault(row["split"], {name: [] for name in columns})
        for name in columns:
            lists[name].append(row[name])
    return by_split


def evaluate(model, split: dict[str, list]) -> dict[str, float]:
    """Model and persistence scores on one split's windows, in the sensors' original units."""
    x, y = forecasting.window_tensors(split["inputs"], split["target"])
    mean, std = np.asarray(split["mean"]), np.asarray(split["std"])
    actual = forecasting.to_original_units(y, mean, std)
    predicted = forecasting.to_original_units(model.predict(x, verbose=0)[:, 0], mean, std)
    persistence = forecasting.to_original_units(forecasting.persistence_forecast(x), mean, std)
    return {**forecasting.scores(predicted, actual), "persistence_rmse": forecasting.rmse(persistence, actual)}


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

    from spark_jobs import training

    forecasting.limit_tensorflow_threads(config.threads_per_task)
    model = forecasting.build_lstm(config.model.seq_len, config.model.units, config.model.learning_rate, seed=index)
    train = forecasting.window_tensors(by_split["train"]["inputs"], by_split["train"]["target"])
    validation = forecasting.window_tensors(by_split["validation"]["inputs"], by_split["validation"]["target"])
    batch_size = forecasting.batch_size_for(
        counts["train"], config.model.batch_size, config.model.schedule.min_steps_per_epoch
    )
    try:
        fitted = training.fit(model, train, validation, batch_size=batch_size, schedule=config.model.schedule)
    except training.TrainingDiverged as error:
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


def windows_with_stats(spark: SparkSession, sequences: str, stats: str) -> DataFrame:
    windows = spark.read.parquet(sequences).select("sensor_id", "split", "inputs", "target")
    return windows.join(F.broadcast(spark.read.parquet(stats).select("sensor_id", "mean", "std")), "sensor_id")


def log_to_mlflow(
    args: argparse.Namespace, config: TrainingConfig, table: list[dict], experiment_id: str, windows_input: dict
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
            model = forecasting.build_lstm(config.model.seq_len, config.model.units, config.model.learning_rate)
            model.set_weights([np.asarray(weights, dtype=np.float32) for weights in row["weights"]])
            mlflow.tensorflow.log_model(model, name=f"partition-{row['partition']}", input_example=example)
        mlflow.log_dict([{k: v for k, v in row.items() if k != "weights"} for row in table], "partitions.json")
        return run.info.run_id


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Train one LSTM per partition of sensors.", formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    add_lake_arguments(parser)
    parser.add_argument("--partitions", type=int, default=4, help="partitions of sensors, one model each")
    add_model_arguments(parser, batch_size_help="the largest batch", learning_rate_help="Adam's initial learning rate")
    parser.add_argument("--min-train-windows", type=int, default=100, help="fewer: the partition is skipped")
    parser.add_argument("--threads-per-task", type=int, default=1, help="TensorFlow threads in each task")
    tracking.add_arguments(parser)
    return parser.parse_args(argv)


def run(spark: SparkSession, args: argparse.Namespace) -> dict:
    for name in ("partitions", "min_train_windows", "batch_size", "units"):
        if getattr(args, name) < 1:
            raise JobInputError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    experiment_id = tracking.reachable_experiment(args.experiment)  # before spending anything
    lake: Lake = args.lake
    sequences = lake.partition("sequences", args.run_date)
    stats = lake.partition("sequence_stats", args.run_date)
    if not (lake.exists(sequences) and lake.exists(stats)):
        raise JobInputError(f"no windows for {args.run_date} in {sequences}: run prepare_sequences first")
    prepared = lake.read_report("prepare_sequences", args.run_date)
    # Before the training reads them: the digest names the files it read.
    data_digest = lake.digest({"sequences": sequences, "sequence_stats": stats})
    windows_input = {"sequences": sequences, "digest": data_digest, "windows": prepared["windows"]}
    windows = windows_with_stats(spark, sequences, stats)
    try:
        model = model_config_from_arguments(args, prepared["seq_len"])
    except ValueError as error:
        raise JobInputError(str(error)) from error
    config = TrainingConfig(model, min_train_windows=args.min_train_windows, threads_per_task=args.threads_per_task)
    table = sorted(
        windows.repartition(args.partitions, "sensor_id")
        .rdd.mapPartitionsWithIndex(lambda index, rows: [train_partition(index, rows, config)])
        .collect(),
        key=lambda row: row["partition"],
    )
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
                args.training_budget_minutes,
                row["epochs_trained"],
                row["best_epoch"] + 1,
            )
    if all("skipped" in row for row in table):
        raise JobInputError("every partition was skipped: too few training windows for --min-train-windows")
    run_id = log_to_mlflow(args, config, table, experiment_id, windows_input)
    report = {
        "run_date": args.run_date.isoformat(),
        "mlflow_run_id": run_id,
        "data_digest": data_digest,
        "partitions": [{k: v for k, v in row.items() if k != "weights"} for row in table],
    }
    report_path = lake.write_report("train_baseline", args.run_date, report)
    log.info(
        "train_baseline %s: %d partitions trained, MLflow run %s; report %s",
        args.run_date,
        sum("skipped" not in row for row in table),
        run_id,
        report_path,
    )
    return report


def main(argv: list[str] | None = None) -> None:
    run_job("train_baseline", parse_args, run, argv)


if __name__ == "__main__":
    main()
