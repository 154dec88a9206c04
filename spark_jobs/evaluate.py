"""Evaluation: every model of the run day, the current champion and persistence on the same windows.

Example:
    spark-submit spark_jobs/evaluate.py --lake var/lake --run-date 2026-11-22

Inputs:
    <lake>/sequences/date=<run-date>/split=test/   the test windows (normalized)
    <lake>/sequence_stats/date=<run-date>/         each sensor's training mean and std
    <lake>/reports/train_distributed/date=<run-date>/report.json  the new model version
    <lake>/reports/train_baseline/date=<run-date>/report.json     the partition models
    the registered model's ``champion`` alias, if any
Outputs:
    MLflow, one run: metrics <model>.test_rmse / test_mae / test_windows, comparison.txt and
    comparison.json (the table), tags champion_decision and champion_promoted
    the alias ``champion`` moved to the new version when it beats the current champion re-scored
    on the same test windows (or when there is none); the decision, with its reason, as the new
    version's champion_decision tag
    <lake>/reports/evaluate/date=<run-date>/report.json  the table (rows and text) and the decision

Every model is scored in original units on the run day's test windows. The per-partition
baselines score each window with its sensor's partition model; windows of sensors whose
partition was skipped are left out of that row only (its window count shows it).
"""

from __future__ import annotations

import argparse
import json
import logging
from datetime import date
from typing import Iterator

import numpy as np
import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from spark_jobs import forecasting, lake, tracking

log = logging.getLogger("evaluate")

DISTRIBUTED, CHAMPION, BASELINES, PERSISTENCE = "distributed", "champion", "partition_baselines", "persistence"
SUMS_SCHEMA = "model string, windows double, squared double, absolute double"


def batch_error_sums(
    batch: pa.RecordBatch, models: dict, partition_models: dict, sensor_partition: dict[str, int]
) -> dict[str, np.ndarray]:
    """Each model's error sums (forecasting.error_sums) on one batch of windows with statistics."""
    table = pa.Table.from_batches([batch])
    x, y = forecasting.arrow_window_tensors(table)
    mean, std = table.column("mean").to_numpy(), table.column("std").to_numpy()
    actual = forecasting.to_original_units(y, mean, std)
    sums = {PERSISTENCE: forecasting.error_sums(forecasting.to_original_units(x[:, -1, 0], mean, std), actual)}
    for name, model in models.items():
        predicted = forecasting.to_original_units(model.predict(x, verbose=0)[:, 0], mean, std)
        sums[name] = forecasting.error_sums(predicted, actual)
    partition = np.array([sensor_partition.get(sensor, -1) for sensor in table.column("sensor_id").to_pylist()])
    sums[BASELINES] = np.zeros(3)
    for index, model in partition_models.items():
        mine = partition == index
        if mine.any():
            predicted = forecasting.to_original_units(model.predict(x[mine], verbose=0)[:, 0], mean[mine], std[mine])
            sums[BASELINES] += forecasting.error_sums(predicted, actual[mine])
    return sums


def score_windows(windows: DataFrame, model_specs: dict, partition_specs: dict, sensor_partition: dict) -> dict:
    """Each model's scores over all windows: partial sums per Spark task, added on the driver."""

    def score_task(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        forecasting.limit_tensorflow_threads(1)
        models = {name: forecasting.model_from_spec(spec) for name, spec in model_specs.items()}
        partition_models = {index: forecasting.model_from_spec(spec) for index, spec in partition_specs.items()}
        for batch in batches:
            sums = batch_error_sums(batch, models, partition_models, sensor_partition)
            yield pa.RecordBatch.from_pylist(
                [{"model": name, "windows": s[0], "squared": s[1], "absolute": s[2]} for name, s in sums.items()]
            )

    totals = (
        windows.mapInArrow(score_task, SUMS_SCHEMA)
        .groupBy("model")
        .agg(*(F.sum(column).alias(column) for column in ("windows", "squared", "absolute")))
        .collect()
    )
    return {row["model"]: forecasting.scores_from_sums([row["windows"], row["squared"], row["absolute"]]) for row in totals}


def champion_decision(candidate: dict, champion: dict | None) -> tuple[bool, str]:
    """Whether the alias moves to the candidate, and why. Each is {"version", "scores"} and the
    champion also "seq_len_matches"; scores come from the same test windows."""
    if champion is None:
        return True, f"no champion yet: version {candidate['version']} becomes the first"
    if champion["version"] == candidate["version"]:
        return False, f"version {candidate['version']} already is the champion"
    if not champion["seq_len_matches"]:
        return False, (
            f"champion version {champion['version']} takes windows of another length than this run's, so it "
            "cannot be re-scored on them; move the alias by hand to replace it"
        )
    new, old = candidate["scores"]["rmse"], champion["scores"]["rmse"]
    windows = candidate["scores"]["windows"]
    if new < old:
        return True, f"test RMSE {new:.4f} beats champion version {champion['version']}'s {old:.4f} on the same {windows} windows"
    return False, f"test RMSE {new:.4f} does not beat champion version {champion['version']}'s {old:.4f} on the same {windows} windows"


def comparison_rows(scores: dict, sources: dict) -> list[dict]:
    """The table, best test RMSE first; a model with no scored window goes last."""
    rows = [{"model": name, "source": sources[name], **scores.get(name, {"windows": 0})} for name in sources]
    return sorted(rows, key=lambda row: (row.get("rmse") is None, row.get("rmse") or 0.0, row["model"]))


def comparison_text(rows: list[dict]) -> str:
    lines = [f"{'model':<20} {'test RMSE':>10} {'test MAE':>10} {'windows':>8}  source"]
    for row in rows:
        rmse = f"{row['rmse']:.4f}" if "rmse" in row else "-"
        mae = f"{row['mae']:.4f}" if "mae" in row else "-"
        lines.append(f"{row['model']:<20} {rmse:>10} {mae:>10} {row['windows']:>8}  {row['source']}")
    return "\n".join(lines)


def load_model_spec(uri: str):
    import mlflow.tensorflow

    return forecasting.model_spec(mlflow.tensorflow.load_model(uri))


def current_champion(client, model_name: str, alias: str):
    import mlflow

    try:
        return client.get_model_version_by_alias(model_name, alias)
    except mlflow.exceptions.MlflowException:
        return None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Score the day's models and the champion on the same test windows; move the champion alias.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--lake", required=True, help="root of the data lake")
    parser.add_argument("--run-date", type=date.fromisoformat, required=True)
    parser.add_argument("--alias", default=tracking.CHAMPION_ALIAS, help="the registry alias of the best model")
    tracking.add_arguments(parser)
    return parser.parse_args(argv)


def read_report(lake_fs: lake.LakeFileSystem, spark: SparkSession, lake_root: str, job: str, day: date) -> dict:
    path = f"{lake.dataset_path(lake_root, 'reports')}/{job}/{lake.partition_dir(day)}/report.json"
    if not lake_fs.exists(path):
        raise lake.JobInputError(f"no {job} report for {day} at {path}: run {job} first")
    return json.loads("\n".join(spark.sparkContext.textFile(path, 1).collect()))


def run(spark: SparkSession, args: argparse.Namespace) -> dict:
    import mlflow

    lake_fs = lake.LakeFileSystem(spark, args.lake)
    distributed = read_report(lake_fs, spark, args.lake, "train_distributed", args.run_date)
    baseline = read_report(lake_fs, spark, args.lake, "train_baseline", args.run_date)
    day = lake.partition_dir(args.run_date)
    test_path = f"{lake.dataset_path(args.lake, 'sequences')}/{day}/split=test"
    stats_path = f"{lake.dataset_path(args.lake, 'sequence_stats')}/{day}"
    if not lake_fs.exists(test_path):
        raise lake.JobInputError(f"no test windows for {args.run_date} in {test_path}")

    client = mlflow.MlflowClient()
    model_name, version = distributed["model_name"], distributed["model_version"]
    model_specs = {DISTRIBUTED: load_model_spec(f"models:/{model_name}/{version}")}
    sources = {DISTRIBUTED: f"models:/{model_name}/{version}"}
    champion_version = current_champion(client, model_name, args.alias)
    champion = None
    if champion_version is not None:
        champion_spec = load_model_spec(f"models:/{model_name}/{champion_version.version}")
        champion = {
            "version": int(champion_version.version),
            "seq_len_matches": forecasting.model_from_spec(champion_spec).input_shape[1] == distributed["seq_len"],
        }
        if champion["seq_len_matches"] and champion["version"] != version:
            model_specs[CHAMPION] = champion_spec
            sources[CHAMPION] = f"models:/{model_name}/{champion['version']} (@{args.alias})"
    trained = [row for row in baseline["partitions"] if "skipped" not in row]
    partition_specs = {
        row["partition"]: load_model_spec(f"runs:/{baseline['mlflow_run_id']}/partition-{row['partition']}")
        for row in trained
    }
    sensor_partition = {sensor: row["partition"] for row in trained for sensor in row["sensors"]}
    sources[BASELINES] = f"runs:/{baseline['mlflow_run_id']}/partition-* ({len(trained)} models)"
    sources[PERSISTENCE] = "the last input"

    windows = spark.read.parquet(test_path).select("sensor_id", "inputs", "target")
    windows = windows.join(F.broadcast(spark.read.parquet(stats_path).select("sensor_id", "mean", "std")), "sensor_id")
    scores = score_windows(windows, model_specs, partition_specs, sensor_partition)
    rows = comparison_rows(scores, sources)
    table = comparison_text(rows)

    if champion is not None and CHAMPION in model_specs:
        champion["scores"] = scores[CHAMPION]
    promote, reason = champion_decision({"version": version, "scores": scores[DISTRIBUTED]}, champion)
    if promote:
        client.set_registered_model_alias(model_name, args.alias, str(version))
    if champion is None or champion["version"] != version:  # a rerun keeps the reason it was promoted for
        client.set_model_version_tag(model_name, str(version), "champion_decision", reason)
    champion_after = current_champion(client, model_name, args.alias)

    mlflow.set_experiment(experiment_id=tracking.mlflow_experiment(args.experiment))
    tags = {**tracking.run_tags(args.tag, args.run_date), "champion_decision": reason, "champion_promoted": str(promote)}
    with mlflow.start_run(run_name=f"evaluate {args.run_date}", tags=tags) as evaluation:
        mlflow.log_params({"model_name": model_name, "candidate_version": version, "alias": args.alias,
                           "champion_version_before": champion["version"] if champion else None,
                           "train_distributed_run_id": distributed["mlflow_run_id"],
                           "train_baseline_run_id": baseline["mlflow_run_id"]})  # fmt: skip
        mlflow.log_metrics(
            {f"{row['model']}.test_{name}": row[name] for row in rows for name in ("rmse", "mae", "windows") if name in row}
        )
        mlflow.log_text(table + "\n", "comparison.txt")
        mlflow.log_dict(rows, "comparison.json")
    report = {
        "run_date": args.run_date.isoformat(),
        "mlflow_run_id": evaluation.info.run_id,
        "model_name": model_name,
        "candidate_version": version,
        "comparison": rows,
        "comparison_table": table,
        "champion_promoted": promote,
        "champion_decision": reason,
        "champion_version": int(champion_after.version) if champion_after else None,
    }
    report_path = lake.write_report(lake_fs, args.lake, "evaluate", args.run_date, report)
    print(f"Test scores for {args.run_date}, original units:\n{table}\n{args.alias}: {reason}", flush=True)
    log.info("evaluate %s: %s; report %s", args.run_date, reason, report_path)
    return report


def main(argv: list[str] | None = None) -> None:
    lake.run_job("evaluate", parse_args, run, argv)


if __name__ == "__main__":
    main()
