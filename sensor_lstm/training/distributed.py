"""The train_distributed stage, on the Spark driver: one LSTM for every sensor, trained by Horovod
ranks inside Spark tasks (``horovod.spark.run``, gloo), registered as a new model version, and the
report. spark_jobs/train_distributed.py runs it; what each rank does is executor_rank.py's.

The driver never imports TensorFlow or the rank code: it hands the ranks a RankSpec and the entry
point rank_entry.train, watches them (rank_watch.py) and checks what they return.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from argparse import Namespace
from collections.abc import Mapping

from pyspark.sql import SparkSession

from sensor_lstm import tracking
from sensor_lstm.errors import JobInputError, StageFailed
from sensor_lstm.lake import Lake, datasets
from sensor_lstm.lake.reports import PrepareSequencesReport, TrainDistributedReport
from sensor_lstm.settings import model_config
from sensor_lstm.training import rank_entry
from sensor_lstm.training.rank_count import AUTO, count_ranks
from sensor_lstm.training.rank_environment import rank_environment
from sensor_lstm.training.rank_spec import TRAINED_FILE, RankSpec
from sensor_lstm.training.rank_watch import RankWatch, ranks_failure

log = logging.getLogger("train_distributed")

# What the report takes from rank 0's result as it is.
FIT_FIELDS = (
    "epochs_trained",
    "best_epoch",
    "best_val_loss",
    "stopped_by",
    "batch_size",
    "effective_learning_rate",
    "train_loss",
    "val_loss",
    "learning_rate",
    "epoch_seconds",
    "train_seconds",
    "windows_per_second",
)
RANK_FIELDS = ("rank", "hostname", "train_windows", "weights_digest", "logged_to_mlflow")


def retire_superseded_versions(client, model_name: str, run_day: str, keep_version: int) -> dict[str, list[int]]:
    """Delete the run day's other versions that hold no alias; tag the ones that do."""
    deleted, kept = [], []
    # Versions from a search carry no aliases; the registered model lists them.
    aliased = {int(version) for version in client.get_registered_model(model_name).aliases.values()}
    for version in client.search_model_versions(f"name = '{model_name}'"):
        number = int(version.version)
        if number == keep_version or version.tags.get("run_day") != run_day:
            continue
        if number in aliased:
            client.set_model_version_tag(model_name, version.version, "superseded_by", str(keep_version))
            kept.append(number)
        else:
            client.delete_model_version(model_name, version.version)
            deleted.append(number)
    return {"deleted": sorted(deleted), "kept_with_alias": sorted(kept)}


def check_ranks_agree(results: list[dict]) -> None:
    digests = {result["weights_digest"] for result in results}
    if len(digests) != 1:
        raise RuntimeError(f"the ranks ended with different weights ({len(digests)} digests): {results}")
    if [result["logged_to_mlflow"] for result in results] != [True] + [False] * (len(results) - 1):
        raise RuntimeError("rank 0, and rank 0 alone, must log to MLflow")


def trained_key(settings: Mapping, data_digest: str) -> str:
    """Names the fit that ``settings`` make on the windows of ``data_digest`` (lake.files_digest):
    the same windows and settings, the same key."""
    text = json.dumps({"settings": settings, "data": data_digest}, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def train_distributed(spark: SparkSession, args: Namespace) -> TrainDistributedReport:
    """Train the run day's model with the ranks ``args.num_proc`` asks for (rank_count) and
    register it; the report."""
    import mlflow

    spec = rank_spec(spark, args)
    results = run_ranks(spark, spec, args)
    diverged = [result["diverged"] for result in results if "diverged" in result]
    if diverged:
        raise StageFailed(diverged[0])
    check_ranks_agree(results)
    chief = results[0]
    retired = retire_superseded_versions(
        mlflow.MlflowClient(), args.model_name, args.run_date.isoformat(), chief["model_version"]
    )
    report = TrainDistributedReport(
        run_date=args.run_date.isoformat(),
        mlflow_run_id=chief["mlflow_run_id"],
        model_name=args.model_name,
        model_version=chief["model_version"],
        model_uri=f"models:/{args.model_name}/{chief['model_version']}",
        seq_len=spec.model.seq_len,
        lstm_units=spec.model.lstm_units,
        test=chief["test"],
        **{name: chief[name] for name in FIT_FIELDS},
        ranks=[{name: result[name] for name in RANK_FIELDS} for result in results],
        superseded_versions=retired,
        resumed_from_run=chief.get("resumed_from_run"),
        data_digest=spec.windows_input["digest"],
        ranks_reason=spec.ranks_reason,
    )
    path = report.write(args.lake, args.run_date)
    args.lake.delete(args.lake.partition(datasets.TRAINED, args.run_date))  # registered: no try needs the fit
    log_report(report, path, args.training_budget_minutes)
    return report


def executor_cores(spark: SparkSession) -> int | None:
    """The cores one executor holds where Spark says: local mode's, or spark.executor.cores."""
    if spark.sparkContext.master.startswith("local"):
        return spark.sparkContext.defaultParallelism
    cores = spark.conf.get("spark.executor.cores", None)
    return int(cores) if cores else None


def rank_spec(spark: SparkSession, args: Namespace) -> RankSpec:
    """What every rank is told: the day's windows, the model, where the fit is kept, the MLflow run."""
    experiment_id = tracking.reachable_experiment(args.experiment)  # before spending anything
    lake: Lake = args.lake
    sequences = lake.partition(datasets.SEQUENCES, args.run_date)
    stats = lake.partition(datasets.SEQUENCE_STATS, args.run_date)
    if not (lake.exists(f"{sequences}/split=train") and lake.exists(stats)):
        raise JobInputError(f"no training windows for {args.run_date} in {sequences}: run prepare_sequences first")
    if not lake.exists(f"{sequences}/split=validation"):
        raise JobInputError(f"no validation windows for {args.run_date}: early stopping needs them")
    prepared = PrepareSequencesReport.read(lake, args.run_date)
    model = model_config(args, prepared.seq_len)
    count = count_ranks(
        args.num_proc,
        args.auto_max_ranks,
        args.threads_per_rank,
        prepared.windows["train"],
        args.auto_windows_per_rank,
        executor_cores(spark),
    )
    log.info("train_distributed %s: %s", args.run_date, count.reason)
    task_cpus = int(spark.conf.get("spark.task.cpus", "1"))
    # Under auto the ranks share the cores reserved for auto_max_ranks, more than spark.task.cpus each.
    if args.num_proc != AUTO and task_cpus != count.threads_per_rank:
        log.warning(
            "spark.task.cpus is %d but ranks run %d threads: ranks may share cores", task_cpus, count.threads_per_rank
        )
    data_digest = lake.digest({datasets.SEQUENCES: sequences, datasets.SEQUENCE_STATS: stats})
    settings = {**model.settings(), "num_proc": count.ranks, "threads_per_rank": count.threads_per_rank}
    trained = f"{lake.partition(datasets.TRAINED, args.run_date)}/{trained_key(settings, data_digest)}"
    resume = lake.exists(f"{trained}/{TRAINED_FILE}")
    if resume:
        log.info("an earlier try's fit of these windows and settings is in %s: logging it, not training again", trained)
    tags = tracking.run_tags(args.tag, args.run_date)
    return RankSpec(
        lake=lake,
        sequences=sequences,
        stats=stats,
        model=model,
        ranks=count.ranks,
        ranks_reason=count.reason,
        threads_per_rank=count.threads_per_rank,
        bind_cores=args.bind_cores,
        experiment_id=experiment_id,
        run_name=f"train_distributed {args.run_date}",
        model_name=args.model_name,
        windows_input={"sequences": sequences, "digest": data_digest, "windows": prepared.windows},
        trained=trained,
        resume=resume,
        tags=tags,
        parent_run_id=tracking.nested_under_dag_run(experiment_id, tags).get(tracking.PARENT_TAG),
        plot_sensors=args.plot_sensors,
    )


def run_ranks(spark: SparkSession, spec: RankSpec, args: Namespace) -> list[dict]:
    """Every rank's result, by rank; a StageFailed in one line when the ranks fail or hang."""
    import horovod.spark

    log.info("starting %d Horovod ranks (gloo) for %s", spec.ranks, args.run_date)
    deadline = args.start_timeout + spec.model.schedule.budget_seconds + args.stall_timeout_seconds
    watch = RankWatch(spark.sparkContext, spec.ranks, args.stall_timeout_seconds, deadline)
    try:
        with watch:
            results = horovod.spark.run(
                rank_entry.train,
                args=(spec,),
                num_proc=spec.ranks,
                use_gloo=True,
                start_timeout=args.start_timeout,
                env=rank_environment(os.environ),
                nics=set(args.nics) or None,
            )
    except Exception as error:
        failure = ranks_failure(error, watch)
        if args.lake.exists(f"{spec.trained}/{TRAINED_FILE}"):
            failure += f"; the fit is kept in {spec.trained} and the retry logs it without training again"
        raise StageFailed(failure) from error
    return sorted(results, key=lambda result: result["rank"])


def log_report(report: TrainDistributedReport, path: str, budget_minutes: float) -> None:
    if report.stopped_by == "time_budget":
        log.warning(
            "training stopped at its %.0f-minute budget after %d epochs, still improving; the model has "
            "the best epoch's weights (epoch %d)",
            budget_minutes,
            report.epochs_trained,
            report.best_epoch + 1,
        )
    log.info(
        "train_distributed %s: %d ranks, %d epochs (best %d, stopped by %s) in %.0f s, test RMSE %.4f "
        "(persistence %.4f); %s version %d; report %s",
        report.run_date,
        len(report.ranks),
        report.epochs_trained,
        report.best_epoch + 1,
        report.stopped_by,
        report.train_seconds,
        report.test.get("test_rmse", float("nan")),
        report.test.get("test_persistence_rmse", float("nan")),
        report.model_name,
        report.model_version,
        path,
    )
