"""The evaluate stage: the run day's models, the current champion and the naive forecasts scored on
the same test windows, the champion alias moved only to a version that earns it, one MLflow run
with the table, and the report. spark_jobs/evaluate.py runs it."""

from __future__ import annotations

import dataclasses
import logging
from argparse import Namespace
from dataclasses import dataclass, field

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from sensor_lstm import scoring, tracking
from sensor_lstm.errors import JobInputError
from sensor_lstm.evaluation.champion import champion_decision, check_models_named
from sensor_lstm.evaluation.comparison import (
    best_naive,
    comparison_text,
    forecaster_rows,
    sensor_rows,
    sensor_table_text,
    sensors_apart,
)
from sensor_lstm.evaluation.scores import (
    BASELINES,
    CHAMPION,
    DISTRIBUTED,
    score_windows,
    windows_with_every_naive_forecast,
)
from sensor_lstm.lake import Lake, datasets
from sensor_lstm.lake.reports import EvaluateReport, PrepareSequencesReport, TrainBaselineReport, TrainDistributedReport
from sensor_lstm.readings.catalog import read_catalog, units
from sensor_lstm.training import model as lstm

log = logging.getLogger("evaluate")

EVALUATION_COLUMNS = ("sensor_id", "forecaster", "naive", "windows", "rmse", "mae", "mase", "skill")
EVALUATION_SCHEMA = (
    "sensor_id string, forecaster string, naive boolean, windows long, rmse double, mae double, mase double, "
    "skill double, unit string"
)


@dataclass
class Candidates:
    """The models to score (architecture and weights), where each comes from, and the champion's facts."""

    models: dict = field(default_factory=dict)  # name -> model spec
    partition_models: dict = field(default_factory=dict)  # partition -> model spec
    sensor_partition: dict[str, int] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    champion: dict | None = None  # version, run_day, seq_len_matches; scores once scored


def load_model_spec(uri: str):
    import mlflow.tensorflow

    return lstm.model_spec(mlflow.tensorflow.load_model(uri))


def load_candidates(client, distributed: TrainDistributedReport, baseline: TrainBaselineReport, alias: str):
    """The new version, the champion (when it takes windows of this length) and the partition models."""
    name, version = distributed.model_name, distributed.model_version
    candidates = Candidates()
    candidates.models[DISTRIBUTED] = load_model_spec(f"models:/{name}/{version}")
    candidates.sources[DISTRIBUTED] = f"models:/{name}/{version}"
    current = tracking.current_champion(client, name, alias)
    if current is not None:
        spec = load_model_spec(f"models:/{name}/{current.version}")
        candidates.champion = {
            "version": int(current.version),
            "run_day": current.tags.get("run_day"),
            "seq_len_matches": lstm.model_from_spec(spec).input_shape[1] == distributed.seq_len,
        }
        if candidates.champion["seq_len_matches"] and candidates.champion["version"] != version:
            candidates.models[CHAMPION] = spec
            candidates.sources[CHAMPION] = f"models:/{name}/{current.version} (@{alias})"
    trained = baseline.trained_partitions()
    for row in trained:
        candidates.partition_models[row["partition"]] = load_model_spec(
            f"runs:/{baseline.mlflow_run_id}/partition-{row['partition']}"
        )
        candidates.sensor_partition |= {sensor: row["partition"] for sensor in row["sensors"]}
    candidates.sources[BASELINES] = f"runs:/{baseline.mlflow_run_id}/partition-* ({len(trained)} models)"
    return candidates


def evaluate(spark: SparkSession, args: Namespace) -> EvaluateReport:
    """Score the run day's models, decide the champion, log the table; the report."""
    import mlflow

    experiment_id = tracking.reachable_experiment(args.experiment)
    lake: Lake = args.lake
    prepared = PrepareSequencesReport.read(lake, args.run_date)
    distributed = TrainDistributedReport.read(lake, args.run_date)
    baseline = TrainBaselineReport.read(lake, args.run_date)
    check_models_named(distributed, baseline, args.model_name)
    test_path = f"{lake.partition(datasets.SEQUENCES, args.run_date)}/split=test"
    if not lake.exists(test_path):
        raise JobInputError(f"no test windows for {args.run_date} in {test_path}")
    client = mlflow.MlflowClient()
    candidates = load_candidates(client, distributed, baseline, args.alias)
    stats_path = lake.partition(datasets.SEQUENCE_STATS, args.run_date)
    unit_of = units(read_catalog(lake))
    compared = compare(spark, prepared, candidates, test_path, stats_path, unit_of)
    version = distributed.model_version
    summary = {row["model"]: row for row in compared.summary}
    if candidates.champion is not None and CHAMPION in candidates.models:
        candidates.champion["scores"] = summary[CHAMPION]
    naive = best_naive(compared.summary)
    candidate = {"version": version, "scores": summary[DISTRIBUTED], "run_day": args.run_date.isoformat()}
    promote, reason = champion_decision(
        candidate, candidates.champion, naive, args.champion_min_skill, args.champion_min_share, args.promote_older_day
    )
    if promote:
        client.set_registered_model_alias(distributed.model_name, args.alias, str(version))
    if candidates.champion is None or candidates.champion["version"] != version:  # a rerun keeps its reason
        client.set_model_version_tag(distributed.model_name, str(version), "champion_decision", reason)
    champion_after = tracking.current_champion(client, distributed.model_name, args.alias)
    report = EvaluateReport(
        run_date=args.run_date.isoformat(),
        mlflow_run_id="",
        model_name=distributed.model_name,
        candidate_version=version,
        comparison=compared.summary,
        comparison_table=compared.text,
        test_windows_left_out=compared.excluded,
        unscored_seasonal_periods=compared.unscored,
        best_naive_forecast=naive["model"] if naive else None,
        champion_min_skill=args.champion_min_skill,
        champion_min_share=args.champion_min_share,
        champion_promoted=promote,
        champion_decision=reason,
        champion_version=int(champion_after.version) if champion_after else None,
        units=unit_of,
        evaluation_path=write_evaluation(spark, lake, compared.rows, unit_of, args.run_date),
        sensors_apart=compared.apart,
        sensor_table=sensor_table_text(compared.rows, DISTRIBUTED, compared.apart, unit_of),
    )
    report = log_evaluation(args, experiment_id, report, candidates, distributed, baseline, prepared, compared.rows)
    path = report.write(lake, args.run_date)
    print(f"Test scores for {args.run_date}:\n{compared.text}\n{report.sensor_table}", flush=True)
    kept = report.champion_version
    outcome = f"version {version} promoted" if promote else f"kept version {kept}" if kept else "no champion"
    log.info("%s: %s: %s; report %s", args.alias, outcome, reason, path)
    return report


@dataclass
class Comparison:
    """The test scores: per sensor and forecaster (``rows``), the sensors out of the aggregates,
    the summary per forecaster and its text, the windows left out of every row and the seasons
    not scored."""

    rows: list[dict]
    apart: dict[str, str]
    summary: list[dict]
    text: str
    excluded: int
    unscored: list[int]


def compare(spark, prepared: PrepareSequencesReport, candidates: Candidates, test_path: str, stats_path: str, unit_of):
    """Every candidate and naive forecast scored per sensor on the same test windows."""
    seasons = prepared.seasonal_periods
    lags = dict(zip(seasons, prepared.seasonal_lags, strict=True))
    windows, excluded, scored = windows_with_every_naive_forecast(spark, test_path, stats_path, seasons)
    naive = scoring.naive_sources(list(scored), [lags[season] for season in scored])
    scores = score_windows(windows, candidates.models, candidates.partition_models, candidates.sensor_partition, scored)
    scales = mase_scales(spark, stats_path)
    rows = sensor_rows(scores, scales, set(naive))
    apart = sensors_apart(rows, scales)
    summary = forecaster_rows(rows, apart, candidates.sources | naive, set(naive))
    text = comparison_text(summary)
    unscored = [season for season in seasons if season not in scored]
    for season in unscored:
        text += (
            f"\n{scoring.seasonal_naive_name(season)} is not scored: no test window has the reading "
            f"{lags[season]} steps before its target (the lake's readings start too late)"
        )
    if excluded:
        text += f"\n{excluded} test windows without a seasonal naive forecast are left out of every row"
    return Comparison(rows, apart, summary, text, excluded, unscored)


def mase_scales(spark: SparkSession, stats_path: str) -> dict[str, float | None]:
    """Each sensor's MASE scale, the one-step naive MAE of its training period (prepare_sequences)."""
    stats = spark.read.parquet(stats_path)
    if "one_step_naive_mae" not in stats.columns:
        raise JobInputError(
            f"{stats_path} has no one_step_naive_mae: an older prepare_sequences wrote it; rerun prepare_sequences"
        )
    return {
        row["sensor_id"]: row["one_step_naive_mae"] for row in stats.select("sensor_id", "one_step_naive_mae").collect()
    }


def write_evaluation(spark: SparkSession, lake: Lake, rows: list[dict], unit_of: dict, run_date) -> str:
    """Replace the run day's evaluation table, atomically; its path."""
    run_key = run_date.isoformat()
    lake.clear_stale_staging(datasets.EVALUATION, run_key)
    staged = lake.new_staging_path(datasets.EVALUATION, run_key)
    table = [{**row, "unit": unit_of.get(row["sensor_id"])} for row in rows]
    frame = spark.createDataFrame(table, EVALUATION_SCHEMA).withColumn("date", F.lit(run_date))
    frame.coalesce(1).write.partitionBy("date").parquet(staged)
    lake.swap_in_partitions(staged, datasets.EVALUATION, [run_date])
    return lake.partition(datasets.EVALUATION, run_date)


def log_evaluation(args, experiment_id: str, report: EvaluateReport, candidates, distributed, baseline, prepared, rows):
    """The MLflow run of the evaluation, nested under the DAG run's; the report with its id."""
    import mlflow
    import pandas as pd

    mlflow.set_experiment(experiment_id=experiment_id)
    run_tags = tracking.run_tags(args.tag, args.run_date)
    if run_tags.get("airflow_run_id"):
        # After both trainings, which may each have created the DAG run's parent run.
        tracking.merge_dag_run_parents(experiment_id, run_tags["airflow_run_id"])
    tags = {
        **tracking.nested_under_dag_run(experiment_id, run_tags),
        "champion_decision": report.champion_decision,
        "champion_promoted": str(report.champion_promoted),
        "best_naive_forecast": str(report.best_naive_forecast),
    }
    champion = candidates.champion
    with mlflow.start_run(run_name=f"evaluate {args.run_date}", tags=tags) as evaluation:
        mlflow.log_params(
            {
                "model_name": report.model_name,
                "candidate_version": report.candidate_version,
                "alias": args.alias,
                "champion_min_skill": args.champion_min_skill,
                "champion_min_share": args.champion_min_share,
                "seasonal_periods": prepared.seasonal_periods,
                "champion_version_before": champion["version"] if champion else None,
                "train_distributed_run_id": distributed.mlflow_run_id,
                "train_baseline_run_id": baseline.mlflow_run_id,
            }
        )
        mlflow.log_metrics(
            {
                f"{row['model']}.{name}": row[name]
                for row in report.comparison
                for name in ("median_mase", "share_beating_best_naive", "sensors", "windows")
                if row[name] is not None
            }
            | {"test_windows_left_out": report.test_windows_left_out, "sensors_apart": len(report.sensors_apart)}
        )
        mlflow.log_text(f"{report.comparison_table}\n\n{report.sensor_table}\n", "comparison.txt")
        mlflow.log_dict(report.comparison, "comparison.json")
        mlflow.log_table(pd.DataFrame(rows, columns=[*EVALUATION_COLUMNS]), "evaluation.json")
    return dataclasses.replace(report, mlflow_run_id=evaluation.info.run_id)
