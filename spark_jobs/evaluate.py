"""Evaluation: every model of the run day, the current champion and the naive forecasts, on the
same test windows; the champion alias moves only to a version that earns it.

Example:
    spark-submit spark_jobs/evaluate.py --lake var/lake --run-date 2026-11-22 --min-skill 0.0

Inputs:
    <lake>/sequences/date=<run-date>/split=test/   the test windows (normalized), with their
                                                   seasonal naive forecasts
    <lake>/sequence_stats/date=<run-date>/         each sensor's training mean and std
    <lake>/reports/prepare_sequences/date=<run-date>/report.json  the seasons
    <lake>/reports/train_distributed/date=<run-date>/report.json  the new model version
    <lake>/reports/train_baseline/date=<run-date>/report.json     the partition models
    the registered model's ``champion`` alias, if any (an MLflow error looking it up fails the
    job: only a missing model or alias means there is no champion yet)
Outputs:
    MLflow, one run: metrics <model>.test_rmse / test_mae / test_skill / test_windows,
    comparison.txt and comparison.json (the table), tags champion_decision, champion_promoted
    and best_naive_forecast
    the alias ``champion`` moved to the new version when it passes the quality gate and beats
    the current champion re-scored on the same test windows (or there is none); the decision,
    with its reason, as the new version's champion_decision tag
    <lake>/reports/evaluate/date=<run-date>/report.json  the table (rows and text) and the decision

Every model and naive forecast is scored in original units on the run day's test windows that
have every seasonal naive forecast (the others are left out of every row, and counted). The
naive forecasts: persistence (the last input), seasonal naive per season (the reading one season
before the target) and the sensor's training mean. Skill = 1 - RMSE / the best naive forecast's
RMSE. The quality gate: the new version's skill must exceed --min-skill, or it never becomes
champion, not even the first one. The per-partition baselines score each window with its
sensor's partition model; windows of sensors whose partition was skipped are left out of that
row only (its window count shows it).
"""

from __future__ import annotations

import argparse
import logging
import math
import re
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from spark_jobs import forecasting, names, tracking
from spark_jobs.job import JobInputError, run_job
from spark_jobs.lake import Lake, add_lake_arguments

log = logging.getLogger("evaluate")

DISTRIBUTED, CHAMPION, BASELINES = "distributed", "champion", "partition_baselines"
SUMS_SCHEMA = "model string, windows double, squared double, absolute double"


def batch_error_sums(
    batch: pa.RecordBatch,
    models: dict,
    partition_models: dict,
    sensor_partition: dict[str, int],
    seasons: dict[int, int],
) -> dict[str, np.ndarray]:
    """Each model's and naive forecast's error sums (forecasting.error_sums) on one batch of
    windows with statistics, in original units. ``seasons``: each scored season's column in the
    windows' ``seasonal_naive`` lists."""
    table = pa.Table.from_batches([batch])
    x, y = forecasting.arrow_window_tensors(table)
    mean, std = table.column("mean").to_numpy(), table.column("std").to_numpy()
    actual = forecasting.to_original_units(y, mean, std)
    seasonal = forecasting.seasonal_naive_matrix(table)[:, list(seasons.values())]
    forecasts = forecasting.naive_forecasts(x, seasonal, list(seasons))
    forecasts |= {name: model.predict(x, verbose=0)[:, 0] for name, model in models.items()}
    sums = {
        name: forecasting.error_sums(forecasting.to_original_units(normalized, mean, std), actual)
        for name, normalized in forecasts.items()
    }
    partition = np.array([sensor_partition.get(sensor, -1) for sensor in table.column("sensor_id").to_pylist()])
    sums[BASELINES] = np.zeros(3)
    for index, model in partition_models.items():
        mine = partition == index
        if mine.any():
            predicted = forecasting.to_original_units(model.predict(x[mine], verbose=0)[:, 0], mean[mine], std[mine])
            sums[BASELINES] += forecasting.error_sums(predicted, actual[mine])
    return sums


def score_windows(
    windows: DataFrame, model_specs: dict, partition_specs: dict, sensor_partition: dict, seasons: dict[int, int]
) -> dict:
    """Each model's scores over all windows: partial sums per Spark task, added on the driver."""

    def score_task(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        forecasting.limit_tensorflow_threads(1)
        models = {name: forecasting.model_from_spec(spec) for name, spec in model_specs.items()}
        partition_models = {index: forecasting.model_from_spec(spec) for index, spec in partition_specs.items()}
        for batch in batches:
            sums = batch_error_sums(batch, models, partition_models, sensor_partition, seasons)
            yield pa.RecordBatch.from_pylist(
                [{"model": name, "windows": s[0], "squared": s[1], "absolute": s[2]} for name, s in sums.items()]
            )

    totals = (
        windows.mapInArrow(score_task, SUMS_SCHEMA)
        .groupBy("model")
        .agg(*(F.sum(column).alias(column) for column in ("windows", "squared", "absolute")))
        .collect()
    )
    return {
        row["model"]: forecasting.scores_from_sums([row["windows"], row["squared"], row["absolute"]]) for row in totals
    }


def skill(rmse: float, naive_rmse: float) -> float:
    """1 - RMSE / the naive forecast's; against a perfect naive forecast, 0 if also perfect, else -inf."""
    if naive_rmse == 0:
        return 0.0 if rmse == 0 else -math.inf
    return 1 - rmse / naive_rmse


def best_naive(rows: list[dict]) -> dict:
    """The naive forecast with the lowest test RMSE."""
    return min((row for row in rows if row["naive"] and "rmse" in row), key=lambda row: row["rmse"])


def champion_decision(
    candidate: dict, champion: dict | None, naive: dict, min_skill: float, promote_older_day: bool = False
) -> tuple[bool, str]:
    """Whether the alias moves to the candidate, and why. The candidate must first pass the
    quality gate: a skill over the best naive forecast (``naive``: its row) above ``min_skill``.
    Then it must beat the champion, if there is one, and, unless ``promote_older_day``, not be
    for an earlier run day than the champion's (a backfill). Each is {"version", "scores",
    "run_day"}, the champion also "seq_len_matches"; every score comes from the same test windows."""
    version, new, windows = candidate["version"], candidate["scores"]["rmse"], candidate["scores"]["windows"]
    gained = skill(new, naive["rmse"])
    if champion is not None and champion["version"] == version:
        return False, f"version {version} already is the champion"
    if not gained > min_skill:
        return False, (
            f"version {version} fails the quality gate: test RMSE {new:.4f} against {naive['model']}'s "
            f"{naive['rmse']:.4f} on the same {windows} windows is a skill of {gained:.1%}, the gate asks for more "
            f"than {min_skill:.1%}"
        )
    passed = f"skill {gained:.1%} over {naive['model']}"
    if champion is None:
        return True, f"no champion yet: version {version} becomes the first ({passed})"
    older = candidate.get("run_day") and champion.get("run_day") and candidate["run_day"] < champion["run_day"]
    if older and not promote_older_day:
        return False, (
            f"version {version} is for {candidate['run_day']}, before champion version {champion['version']}'s "
            f"{champion['run_day']}: a backfill does not replace a champion trained on newer data unless asked "
            "(Param promote_older_day)"
        )
    if not champion["seq_len_matches"]:
        return False, (
            f"champion version {champion['version']} takes windows of another length than this run's, so it "
            "cannot be re-scored on them; move the alias by hand to replace it"
        )
    old = champion["scores"]["rmse"]
    if new < old:
        return True, (
            f"test RMSE {new:.4f} beats champion version {champion['version']}'s {old:.4f} on the same {windows} "
            f"windows ({passed})"
        )
    return False, (
        f"test RMSE {new:.4f} does not beat champion version {champion['version']}'s {old:.4f} on the same "
        f"{windows} windows"
    )


def comparison_rows(scores: dict, sources: dict, naive_names: set[str]) -> list[dict]:
    """The table, best test RMSE first; a model with no scored window goes last. Skill is
    1 - RMSE / the best naive forecast's RMSE, on the same windows."""
    rows = [
        {"model": name, "naive": name in naive_names, "source": sources[name], **scores.get(name, {"windows": 0})}
        for name in sources
    ]
    baseline = best_naive(rows)["rmse"]
    for row in rows:
        if "rmse" in row:
            row["skill"] = skill(row["rmse"], baseline)
    return sorted(rows, key=lambda row: (row.get("rmse") is None, row.get("rmse") or 0.0, row["model"]))


def comparison_text(rows: list[dict]) -> str:
    lines = [f"{'model':<22} {'test RMSE':>10} {'test MAE':>10} {'skill':>7} {'windows':>8}  source"]
    for row in rows:
        rmse = f"{row['rmse']:.4f}" if "rmse" in row else "-"
        mae = f"{row['mae']:.4f}" if "mae" in row else "-"
        skill = f"{row['skill']:.1%}" if "skill" in row else "-"
        lines.append(f"{row['model']:<22} {rmse:>10} {mae:>10} {skill:>7} {row['windows']:>8}  {row['source']}")
    return "\n".join(lines)


def load_model_spec(uri: str):
    import mlflow.tensorflow

    return forecasting.model_spec(mlflow.tensorflow.load_model(uri))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Score the day's models and the champion on the same test windows; move the champion alias.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_lake_arguments(parser)
    parser.add_argument("--alias", default=names.CHAMPION_ALIAS, help="the registry alias of the best model")
    parser.add_argument(
        "--min-skill",
        type=float,
        default=0.0,
        help="the quality gate: the new version becomes champion only with a skill (1 - its test RMSE / the best "
        "naive forecast's) above this",
    )
    parser.add_argument("--model-name", default=names.MODEL_NAME, help="the registered model it scores and promotes")
    parser.add_argument(
        "--promote-older-day",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="let a version for an earlier run day than the champion's (a backfill) take the alias",
    )
    tracking.add_arguments(parser)
    return parser.parse_args(argv)


MLFLOW_RUN_ID = re.compile(r"[0-9a-f]{32}")


def check_models_named(distributed: dict, baseline: dict, model_name: str) -> None:
    """Loading a model runs its code: load only what this pipeline registered. The lake's reports
    name the version and run to load; refuse ones that point anywhere else."""
    if distributed.get("model_name") != model_name or not isinstance(distributed.get("model_version"), int):
        raise JobInputError(
            f"train_distributed's report names model {distributed.get('model_name')!r} version "
            f"{distributed.get('model_version')!r}; this pipeline loads only versions of {model_name!r}"
        )
    if not MLFLOW_RUN_ID.fullmatch(str(baseline.get("mlflow_run_id"))):
        raise JobInputError(f"train_baseline's report names run {baseline.get('mlflow_run_id')!r}, not a run id")


def scored_seasons(windows: DataFrame, seasons: list[int]) -> dict[int, int]:
    """The seasons whose naive forecast at least one test window has, with their column in the
    ``seasonal_naive`` lists. A season no window has (the lake holds no readings that far before
    the test period, as on a new deployment's first days) is left out of the table, not a failure."""
    if not seasons:
        return {}
    found = windows.agg(
        *(
            F.max(F.col("seasonal_naive")[column].isNotNull().cast("int")).alias(str(column))
            for column in range(len(seasons))
        )
    ).first()
    return {season: column for column, season in enumerate(seasons) if found[str(column)]}


def windows_with_every_naive_forecast(
    spark: SparkSession, test_path: str, stats_path: str, seasons: list[int]
) -> tuple[DataFrame, int, dict[int, int]]:
    """The test windows with their sensor's statistics, leaving out (and counting) those without
    every scored season's naive forecast, so that every row of the table scores the same ones;
    and the scored seasons (scored_seasons)."""
    windows = spark.read.parquet(test_path).select("sensor_id", "inputs", "target", "seasonal_naive")
    scored = scored_seasons(windows, seasons)
    complete = F.lit(True)
    for column in scored.values():
        complete = complete & F.col("seasonal_naive")[column].isNotNull()
    excluded = windows.where(~complete).count()
    windows = windows.where(complete)
    if windows.isEmpty():
        raise JobInputError(
            f"no test window in {test_path} has every scored seasonal naive forecast ({excluded} have not): the "
            "readings a season before the test period are missing; lengthen lookback_days or change seasonal_periods"
        )
    stats = spark.read.parquet(stats_path).select("sensor_id", "mean", "std")
    return windows.join(F.broadcast(stats), "sensor_id"), excluded, scored


def run(spark: SparkSession, args: argparse.Namespace) -> dict:
    import mlflow

    if not 0 <= args.min_skill < 1:
        raise JobInputError(f"--min-skill must be in [0, 1), got {args.min_skill}")
    experiment_id = tracking.reachable_experiment(args.experiment)
    lake: Lake = args.lake
    sequences = lake.read_report("prepare_sequences", args.run_date)
    distributed = lake.read_report("train_distributed", args.run_date)
    baseline = lake.read_report("train_baseline", args.run_date)
    check_models_named(distributed, baseline, args.model_name)
    test_path = f"{lake.partition('sequences', args.run_date)}/split=test"
    stats_path = lake.partition("sequence_stats", args.run_date)
    if not lake.exists(test_path):
        raise JobInputError(f"no test windows for {args.run_date} in {test_path}")

    client = mlflow.MlflowClient()
    model_name, version = distributed["model_name"], distributed["model_version"]
    model_specs = {DISTRIBUTED: load_model_spec(f"models:/{model_name}/{version}")}
    sources = {DISTRIBUTED: f"models:/{model_name}/{version}"}
    champion_version = tracking.current_champion(client, model_name, args.alias)
    champion = None
    if champion_version is not None:
        champion_spec = load_model_spec(f"models:/{model_name}/{champion_version.version}")
        champion = {
            "version": int(champion_version.version),
            "run_day": champion_version.tags.get("run_day"),
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
    seasons = sequences["seasonal_periods"]
    lags = dict(zip(seasons, sequences["seasonal_lags"], strict=True))
    windows, excluded, scored = windows_with_every_naive_forecast(spark, test_path, stats_path, seasons)
    naive = forecasting.naive_sources(list(scored), [lags[season] for season in scored])
    sources |= naive
    scores = score_windows(windows, model_specs, partition_specs, sensor_partition, scored)
    rows = comparison_rows(scores, sources, set(naive))
    table = comparison_text(rows)
    unscored = [season for season in seasons if season not in scored]
    for season in unscored:
        table += (
            f"\n{forecasting.seasonal_naive_name(season)} is not scored: no test window has the reading "
            f"{lags[season]} steps before its target (the lake's readings start too late)"
        )
    if excluded:
        table += f"\n{excluded} test windows without a seasonal naive forecast are left out of every row"

    if champion is not None and CHAMPION in model_specs:
        champion["scores"] = scores[CHAMPION]
    gate = best_naive(rows)
    candidate = {"version": version, "scores": scores[DISTRIBUTED], "run_day": args.run_date.isoformat()}
    promote, reason = champion_decision(candidate, champion, gate, args.min_skill, args.promote_older_day)
    if promote:
        client.set_registered_model_alias(model_name, args.alias, str(version))
    if champion is None or champion["version"] != version:  # a rerun keeps the reason it was promoted for
        client.set_model_version_tag(model_name, str(version), "champion_decision", reason)
    champion_after = tracking.current_champion(client, model_name, args.alias)
    kept = int(champion_after.version) if champion_after else None
    outcome = f"version {version} promoted" if promote else f"kept version {kept}" if kept else "no champion"

    mlflow.set_experiment(experiment_id=experiment_id)
    run_tags = tracking.run_tags(args.tag, args.run_date)
    if run_tags.get("airflow_run_id"):
        # After both trainings, which may each have created the DAG run's parent run.
        tracking.merge_dag_run_parents(experiment_id, run_tags["airflow_run_id"])
    tags = {
        **tracking.nested_under_dag_run(experiment_id, run_tags),
        "champion_decision": reason,
        "champion_promoted": str(promote),
        "best_naive_forecast": gate["model"],
    }
    with mlflow.start_run(run_name=f"evaluate {args.run_date}", tags=tags) as evaluation:
        mlflow.log_params(
            {
                "model_name": model_name,
                "candidate_version": version,
                "alias": args.alias,
                "min_skill": args.min_skill,
                "seasonal_periods": seasons,
                "champion_version_before": champion["version"] if champion else None,
                "train_distributed_run_id": distributed["mlflow_run_id"],
                "train_baseline_run_id": baseline["mlflow_run_id"],
            }
        )
        mlflow.log_metrics(
            {
                f"{row['model']}.test_{name}": row[name]
                for row in rows
                for name in ("rmse", "mae", "skill", "windows")
                if name in row
            }
            | {"test_windows_left_out": excluded}
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
        "test_windows_left_out": excluded,
        "unscored_seasonal_periods": unscored,
        "best_naive_forecast": gate["model"],
        "min_skill": args.min_skill,
        "champion_promoted": promote,
        "champion_decision": reason,
        "champion_version": kept,
    }
    report_path = lake.write_report("evaluate", args.run_date, report)
    print(f"Test scores for {args.run_date}, original units:\n{table}", flush=True)
    log.info("%s: %s: %s; report %s", args.alias, outcome, reason, report_path)
    return report


def main(argv: list[str] | None = None) -> None:
    run_job("evaluate", parse_args, run, argv)


if __name__ == "__main__":
    main()
