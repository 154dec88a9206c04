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
from sensor_lstm.evaluation.accuracy import accuracy_summary, score_earlier_forecasts
from sensor_lstm.evaluation.champion import champion_decision, check_models_named
from sensor_lstm.evaluation.comparison import (
    best_naive,
    comparison_text,
    forecaster_rows,
    sensor_rows,
    sensor_table_text,
    sensors_apart,
)
from sensor_lstm.evaluation.forecaster_bundle import (
    ForecastingLSTM,
    PartitionModels,
    build_forecaster,
    example_input,
    forecaster_name,
    held_out_figure,
    latest_readings,
    register_forecaster,
)
from sensor_lstm.evaluation.interval_plot import plotted_sensors
from sensor_lstm.evaluation.scores import (
    BASELINES,
    CHAMPION,
    DISTRIBUTED,
    score_windows,
    windows_with_every_naive_forecast,
)
from sensor_lstm.evaluation.statistical_fits import statistical_fits, with_statistical_forecasts
from sensor_lstm.lake import Lake, datasets
from sensor_lstm.lake.reports import (
    EvaluateReport,
    PrepareSequencesReport,
    TrainBaselineReport,
    TrainDistributedReport,
)
from sensor_lstm.readings.catalog import read_catalog, units
from sensor_lstm.training import model as lstm

log = logging.getLogger("evaluate")

# What the forecaster forecasts with: the LSTM champion on the sensors where it is best, or only
# naive forecasts (no LSTM has passed the gate, or the champion takes other windows).
FORECASTER_WITH_LSTM, NAIVE_ONLY = "lstm_and_naive", "naive_only"

EVALUATION_COLUMNS = ("sensor_id", "forecaster", "naive", "windows", "rmse", "mae", "mase", "skill", "scored_on")
EVALUATION_SCHEMA = (
    "sensor_id string, forecaster string, naive boolean, windows long, rmse double, mae double, mase double, "
    "skill double, scored_on string, unit string"
)
# Which test windows a row of the evaluation table scores: all of them, or the statistical models' sample.
ALL_TEST_WINDOWS, STATISTICAL_SAMPLE = "test_windows", "statistical_sample"


@dataclass
class Candidates:
    """The models to score (architecture and weights), where each comes from, and the champion's facts."""

    models: dict = field(default_factory=dict)  # name -> model spec
    partition_models: dict = field(default_factory=dict)  # partition -> model spec
    sensor_partition: dict[str, int] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    champion: dict | None = None  # version, run_day, seq_len_matches; scores once scored

    def partitions(self) -> PartitionModels:
        return PartitionModels(self.partition_models, self.sensor_partition)


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
    unit_of = units(read_catalog(lake))
    compared, sampled = comparisons(spark, lake, args.run_date, prepared, candidates)
    promote, reason, naive = decide_champion(client, args, distributed, candidates, compared)
    champion_after = tracking.current_champion(client, distributed.model_name, args.alias)
    lstm_in_use = forecasting_lstm(candidates, champion_after, distributed)
    build = build_forecaster(spark, lake, args, prepared, lstm_in_use, candidates.partitions())
    earlier = score_earlier_forecasts(spark, lake, args.run_date, prepared, args.forecast_steps)
    report = EvaluateReport(
        run_date=args.run_date.isoformat(),
        mlflow_run_id="",
        model_name=distributed.model_name,
        candidate_version=distributed.model_version,
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
        evaluation_path=write_evaluation(spark, lake, evaluation_rows(compared, sampled), unit_of, args.run_date),
        sensors_apart=compared.apart,
        sensor_table=sensor_table_text(compared.rows, DISTRIBUTED, compared.apart, unit_of),
        forecaster_name=forecaster_name(args.model_name),
        forecaster_status=FORECASTER_WITH_LSTM if build.lstm_spec is not None else NAIVE_ONLY,
        forecaster_lstm_not_used_because=build.bundle["lstm_not_used_because"],
        methods=build.methods,
        sensor_methods={sensor: method_row(plan) for sensor, plan in build.bundle["sensors"].items()},
        interval_coverage=build.coverage,
        forecast_accuracy=accuracy_summary(earlier),
        statistical_comparison=sampled.summary if sampled else [],
        statistical_comparison_table=sampled.text if sampled else "",
    )
    methods = {sensor: plan["method"] for sensor, plan in build.bundle["sensors"].items()}
    latest = latest_readings(spark, lake, prepared, plotted_sensors(methods))
    table = evaluation_rows(compared, sampled)
    report = log_evaluation(args, experiment_id, report, candidates, distributed, baseline, prepared, table)
    figure = held_out_figure(latest, build, unit_of)
    version = log_forecaster(client, report, build, args, (example_input(latest, build.bundle), figure), earlier)
    report = dataclasses.replace(report, forecaster_version=version)
    log_outcome(report, report.write(lake, args.run_date), args.alias)
    return report


def log_outcome(report: EvaluateReport, path: str, alias: str) -> None:
    print(f"Test scores for {report.run_date}:\n{report.comparison_table}\n{report.sensor_table}", flush=True)
    if report.statistical_comparison_table:
        print(report.statistical_comparison_table, flush=True)
    kept, version = report.champion_version, report.candidate_version
    promoted = report.champion_promoted
    outcome = f"version {version} promoted" if promoted else f"kept version {kept}" if kept else "no champion"
    log.info("%s: %s: %s; report %s", alias, outcome, report.champion_decision, path)
    overall = report.interval_coverage.get("overall", {})
    log.info(
        "forecaster %s version %s (%s): methods %s; test coverage of the 80%% and 95%% intervals %s",
        report.forecaster_name,
        report.forecaster_version,
        report.forecaster_status,
        report.methods,
        {name: value for name, value in overall.items() if not name.endswith("_interval")},
    )


def decide_champion(client, args, distributed: TrainDistributedReport, candidates: Candidates, compared):
    """Whether the new version takes the alias, why, and the best naive forecast; the alias and
    the version's champion_decision tag set accordingly."""
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
    return promote, reason, naive


def forecasting_lstm(candidates: Candidates, champion_after, distributed: TrainDistributedReport) -> ForecastingLSTM:
    """The champion after the decision, when its spec takes this run's windows."""
    if champion_after is None:
        return ForecastingLSTM(why_not="no version holds the alias: no LSTM has passed the quality gate yet")
    version = int(champion_after.version)
    if version == distributed.model_version:
        return ForecastingLSTM(version, candidates.models[DISTRIBUTED])
    if CHAMPION in candidates.models:
        return ForecastingLSTM(version, candidates.models[CHAMPION])
    return ForecastingLSTM(why_not=f"champion version {version} takes windows of another length than this run's")


def method_row(plan: dict) -> dict:
    return {name: plan[name] for name in ("method", "why", "calibration_windows", "calibrated_on") if name in plan}


def log_forecaster(client, report: EvaluateReport, build, args, example_and_figure, earlier: list[dict]) -> int:
    """Register the forecaster in the evaluation's MLflow run, with its input example, the
    intervals' coverage and figure, and the earlier forecasts' accuracy; its version."""
    import mlflow
    import pandas as pd

    example, figure = example_and_figure
    with mlflow.start_run(run_id=report.mlflow_run_id):
        if figure is not None:
            mlflow.log_figure(figure, "forecaster_intervals.png")
        if earlier:
            mlflow.log_table(pd.DataFrame(earlier).astype({"forecast_day": str}), "forecast_accuracy.json")
            mlflow.log_metrics(
                {
                    f"earlier_forecasts.{name}": value
                    for name, value in report.forecast_accuracy.items()
                    if value is not None
                }
            )
        mlflow.log_dict(build.bundle | {"sensors": report.sensor_methods}, "forecaster_methods.json")
        mlflow.log_dict(build.coverage, "interval_coverage.json")
        overall = build.coverage["overall"]
        mlflow.log_metrics(
            {f"test_{name}": overall[name] for name in ("coverage_80", "coverage_95") if overall.get(name) is not None}
        )
        return register_forecaster(client, build, args, example)


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


def comparisons(spark, lake: Lake, run_date, prepared: PrepareSequencesReport, candidates: Candidates):
    """The comparison on all the test windows, and on the statistical models' sample (None without one)."""
    test_path = f"{lake.partition(datasets.SEQUENCES, run_date)}/split=test"
    stats_path = lake.partition(datasets.SEQUENCE_STATS, run_date)
    return (
        compare(spark, prepared, candidates, test_path, stats_path),
        statistical_comparison(spark, lake, run_date, prepared, candidates, test_path, stats_path),
    )


def compare(spark, prepared: PrepareSequencesReport, candidates: Candidates, test_path: str, stats_path: str):
    """Every candidate and naive forecast scored per sensor on the same test windows."""
    seasons = prepared.seasonal_periods
    lags = dict(zip(seasons, prepared.seasonal_lags, strict=True))
    windows, excluded, scored = windows_with_every_naive_forecast(spark, test_path, stats_path, seasons)
    compared = scored_comparison(windows, prepared, candidates, scored, mase_scales(spark, stats_path))
    unscored = [season for season in seasons if season not in scored]
    for season in unscored:
        compared.text += (
            f"\n{scoring.seasonal_naive_name(season)} is not scored: no test window has the reading "
            f"{lags[season]} steps before its target (the lake's readings start too late)"
        )
    if excluded:
        compared.text += f"\n{excluded} test windows without a seasonal naive forecast are left out of every row"
    return dataclasses.replace(compared, excluded=excluded, unscored=unscored)


def scored_comparison(
    windows, prepared: PrepareSequencesReport, candidates: Candidates, scored, scales, statistical: dict | None = None
) -> Comparison:
    """The Comparison of every candidate, naive forecast and ``statistical`` model (column ->
    source) on ``windows``."""
    lags = dict(zip(prepared.seasonal_periods, prepared.seasonal_lags, strict=True))
    naive = scoring.naive_sources(list(scored), [lags[season] for season in scored])
    statistical = statistical or {}
    scores = score_windows(
        windows, candidates.models, candidates.partition_models, candidates.sensor_partition, scored, tuple(statistical)
    )
    rows = sensor_rows(scores, scales, set(naive))
    apart = sensors_apart(rows, scales)
    summary = forecaster_rows(rows, apart, candidates.sources | statistical | naive, set(naive))
    return Comparison(rows, apart, summary, comparison_text(summary), 0, [])


def statistical_comparison(spark, lake: Lake, run_date, prepared, candidates: Candidates, test_path, stats_path):
    """Every forecaster, the statistical models (fit_statistical) included, scored per sensor on the
    test windows whose targets they forecast: the same evenly spaced sample for all. None when
    fit_statistical forecast no test target for the run day."""
    fits = statistical_fits(lake, run_date)
    if fits is None:
        log.info("no statistical forecasts for %s: the table has no statistical models", run_date)
        return None
    windows, _, scored = windows_with_every_naive_forecast(spark, test_path, stats_path, prepared.seasonal_periods)
    sample, models = with_statistical_forecasts(spark, fits, "test", windows)
    if not models:
        return None
    sources = dict.fromkeys(models, fits.source())
    compared = scored_comparison(sample, prepared, candidates, scored, mase_scales(spark, stats_path), sources)
    compared.text = f"On the statistical models' sample of test windows:\n{compared.text}"
    return compared


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


def evaluation_rows(compared: Comparison, sampled: Comparison | None) -> list[dict]:
    """The evaluation table: every row on all the test windows, then every row on the statistical sample."""
    rows = [row | {"scored_on": ALL_TEST_WINDOWS} for row in compared.rows]
    return rows + [row | {"scored_on": STATISTICAL_SAMPLE} for row in (sampled.rows if sampled else [])]


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
        mlflow.log_metrics(
            {
                f"statistical_sample.{row['model']}.median_mase": row["median_mase"]
                for row in report.statistical_comparison
                if row["median_mase"] is not None
            }
        )
        sample = f"\n{report.statistical_comparison_table}\n" if report.statistical_comparison_table else ""
        mlflow.log_text(f"{report.comparison_table}\n\n{report.sensor_table}\n{sample}", "comparison.txt")
        mlflow.log_dict(report.comparison, "comparison.json")
        mlflow.log_table(pd.DataFrame(rows, columns=[*EVALUATION_COLUMNS]), "evaluation.json")
    return dataclasses.replace(report, mlflow_run_id=evaluation.info.run_id)
