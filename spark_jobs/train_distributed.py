"""Distributed training: one LSTM for every sensor, trained by Horovod ranks inside Spark tasks.

Example:
    spark-submit --conf spark.task.cpus=1 spark_jobs/train_distributed.py \\
        --lake var/lake --run-date 2026-11-22 --num-proc 2

Inputs:
    <lake>/sequences/date=<run-date>/split=*/   windows (normalized), from prepare_sequences
    <lake>/sequence_stats/date=<run-date>/      each sensor's training mean and std
Outputs:
    MLflow (tracking URI from MLFLOW_TRACKING_URI), one run in --experiment, written by rank 0
    alone, tagged with the --tag pairs, the run day and the code version:
      params     the arguments, ranks, effective learning rate and global batch
      metrics    train_loss and val_loss per epoch (averaged over the ranks); test_rmse,
                 test_mae, test_persistence_rmse, test_persistence_mae in original units
      artifacts  model/ (tf_keras, with a signature and an input example), checkpoint/ (the
                 best epoch's weights), forecast_vs_actual.png (a few sensors' test period)
      inputs     the run day's windows (mlflow.log_input): their path, windows per split and a
                 digest of their and the statistics' files, also in the report (data_digest)
    a new version of the registered model --model-name, tagged like the run and with the windows'
    path and digest (sequences, data_digest), so @champion leads to its training data. Once the job
    succeeds, the run day's earlier versions that hold no alias are deleted, so retries and
    reruns leave one version per run day (one that holds an alias is tagged superseded_by).
    <lake>/reports/train_distributed/date=<run-date>/report.json  run, version, scores, ranks
    <lake>/trained/train_distributed/date=<run-date>/<key>/  the fit's weights and history, from
      the end of the fit until the model is registered; <key> digests the windows' files and the
      settings that shape the fit. A retry that finds them logs and registers them without
      training again (a tracking server that failed after the fit costs the logging only).

``horovod.spark.run`` starts --num-proc ranks over gloo, one Spark task each; give each rank
whole cores with ``spark.task.cpus`` (= --threads-per-rank). How the ranks share the work is in
spark_jobs/executor_rank.py. The ranks get an allow-listed environment (rank_environment): what
they need to run and reach MLflow, never the Airflow secrets of the process that started the job.

Failures end the job in one line (``train_distributed failed: ...``, exit code 1), never a hang:
  * the tracking server is checked before anything else, so a server that is down fails the job
    in seconds, before any training (spark_jobs/tracking.py bounds MLflow's requests);
  * a loss that turns NaN or infinite stops every rank in the same epoch and names itself;
  * a rank that dies fails the others at their next allreduce; a rank that is stopped (SIGSTOP)
    or frozen does too, after gloo's timeout (HOROVOD_GLOO_TIMEOUT_SECONDS, 30 s by default);
    since horovod.spark.run waits for every rank, the driver cancels the ranks when some have
    finished and the others still run --stall-timeout-seconds later;
  * a rank alive but stuck short of an allreduce holds the others there, and Horovod's stall
    shutdown does not end it under gloo (HOROVOD_STALL_SHUTDOWN_TIME_SECONDS: measured with
    Horovod 0.28.1, neither its warning nor its shutdown came), so the driver also cancels ranks
    still running --start-timeout + --training-budget-minutes + --stall-timeout-seconds after
    they were started: the fit stops itself at its budget, the rest is scoring and logging.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import re
import threading
import time
from collections.abc import Mapping

from pyspark.sql import SparkSession

from spark_jobs import names, rank_spec, tracking
from spark_jobs.job import JobInputError, StageFailed, run_job
from spark_jobs.lake import Lake, add_lake_arguments
from spark_jobs.model_config import add_model_arguments, model_config_from_arguments

log = logging.getLogger("train_distributed")


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


# What the ranks may see of the driver's environment: what they need to run, to read the lake and to
# reach MLflow (MLFLOW_TRACKING_USERNAME and _PASSWORD included) and its artifact store.
RANK_ENV_NAMES = frozenset(
    {
        "PATH",
        "PYTHONPATH",
        "PYTHONHASHSEED",
        "PYTHONUNBUFFERED",
        "VIRTUAL_ENV",
        "HOME",
        "USER",
        "LOGNAME",
        "LANG",
        "LANGUAGE",
        "TZ",
        "TMPDIR",
        "JAVA_HOME",
        "CLASSPATH",
        "LD_LIBRARY_PATH",
        "CUDA_VISIBLE_DEVICES",
        "REQUESTS_CA_BUNDLE",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "CURL_CA_BUNDLE",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "NO_PROXY",
        "http_proxy",
        "https_proxy",
        "no_proxy",
        "GOOGLE_APPLICATION_CREDENTIALS",
    }
)
RANK_ENV_PREFIXES = (
    "LC_",
    "TF_",
    "HOROVOD_",
    "GLOO_",
    "NCCL_",
    "OMP_",
    "KMP_",
    "MLFLOW_",
    "SENSOR_LSTM_",
    "SPARK_",
    "PYSPARK_",
    "HADOOP_",
    "ARROW_",
    "AWS_",
    "AZURE_STORAGE_",
)


def rank_environment(driver_env: Mapping[str, str]) -> dict[str, str | None]:
    """The environment horovod.spark.run ships to the ranks. Horovod's task service starts each
    rank with its executor's environment updated by this dict, where None removes a variable: so
    every variable of the driver's outside the allow-list is None (with a local master the
    executors inherited the driver's environment, Airflow's secrets included)."""
    return {
        name: value if name in RANK_ENV_NAMES or name.startswith(RANK_ENV_PREFIXES) else None
        for name, value in driver_env.items()
    }


class RankWatch:
    """Cancels the ranks' Spark tasks once some ranks have finished (done or failed) and the
    others still run ``grace_seconds`` later, or once they all still run ``deadline_seconds``
    after the watch began: horovod.spark.run waits for every rank, and a rank that is stopped,
    frozen or stuck never finishes. ``fired`` says what it saw, once it has."""

    def __init__(
        self, spark_context, num_proc: int, grace_seconds: float, deadline_seconds: float, poll_seconds: float = 1.0
    ):
        self.context, self.num_proc, self.grace, self.poll = spark_context, num_proc, grace_seconds, poll_seconds
        self.deadline = deadline_seconds
        self.fired: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="rank-watch", daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def uneven(self) -> tuple[int, int] | None:
        """(finished, running) tasks of the ranks' stage when some have finished and some not."""
        tracker = self.context.statusTracker()
        for stage in tracker.getActiveStageIds():
            info = tracker.getStageInfo(stage)
            if info is None or info.numTasks != self.num_proc:
                continue
            finished = info.numCompletedTasks + info.numFailedTasks
            if finished and info.numActiveTasks:
                return finished, info.numActiveTasks
        return None

    def _watch(self) -> None:
        started, since = time.monotonic(), None
        while not self._stop.wait(self.poll):
            seen = self.uneven()
            since = None if seen is None else since or time.monotonic()
            if since is not None and time.monotonic() - since >= self.grace:
                self.fired = (
                    f"{seen[0]} of {self.num_proc} Horovod ranks finished and {seen[1]} still ran "
                    f"{self.grace:.0f} s later (--stall-timeout-seconds): stopped or hung; cancelled"
                )
            elif time.monotonic() - started >= self.deadline:
                self.fired = (
                    f"the Horovod ranks still ran {self.deadline:.0f} s after they were started (--start-timeout "
                    "+ --training-budget-minutes + --stall-timeout-seconds): stuck; cancelled"
                )
            if self.fired:
                log.error("%s", self.fired)
                self.context.cancelAllJobs()
                return


def ranks_failure(error: Exception, watch: RankWatch) -> str:
    """One line for what horovod.spark.run raised."""
    if watch.fired:
        return watch.fired
    text = str(error)
    found = re.search(r"Process name: (\S+)\s+Exit code: (-?\d+)", text)
    if found:
        return (
            f"Horovod rank {found.group(1)} exited with code {found.group(2)} and the job was stopped; "
            "the rank's own error, if it logged one, is above"
        )
    return f"the Horovod ranks failed: {' '.join(text.split())[:300]}"


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


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Train one LSTM on every sensor's windows with Horovod ranks on Spark.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_lake_arguments(parser)
    parser.add_argument("--num-proc", type=int, default=2, help="Horovod ranks, one Spark task each")
    parser.add_argument("--threads-per-rank", type=int, default=1, help="TensorFlow threads of each rank")
    parser.add_argument(
        "--bind-cores",
        action="store_true",
        help="pin each rank to its own --threads-per-rank cores (for hosts the ranks have to themselves)",
    )
    add_model_arguments(
        parser,
        batch_size_help="the largest batch per rank",
        learning_rate_help="for the batch one process would take; scaled by the global batch",
    )
    parser.add_argument("--plot-sensors", type=int, default=3, help="sensors in the forecast-vs-actual plot")
    parser.add_argument("--start-timeout", type=int, default=300, help="seconds to wait for the ranks' tasks")
    parser.add_argument(
        "--stall-timeout-seconds",
        type=int,
        default=300,
        help="ranks still running this long after another finished are cancelled, and so are ranks still running "
        "this long past --start-timeout + --training-budget-minutes: the job fails, never hangs",
    )
    parser.add_argument(
        "--nics",
        type=lambda text: [name for name in text.split(",") if name],
        default=[],
        help="network interfaces for the ranks' traffic and the driver's rendezvous, comma-separated, e.g. eth0 "
        "(default: those the ranks and the driver share, which include loopback when every rank runs on one host)",
    )
    parser.add_argument("--model-name", default=names.MODEL_NAME, help="registered model name")
    tracking.add_arguments(parser)
    return parser.parse_args(argv)


def run(spark: SparkSession, args: argparse.Namespace) -> dict:
    import horovod.spark
    import mlflow

    for name in ("num_proc", "threads_per_rank", "units", "batch_size", "plot_sensors", "stall_timeout_seconds"):
        if getattr(args, name) < 1:
            raise JobInputError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    experiment_id = tracking.reachable_experiment(args.experiment)  # before spending anything
    lake: Lake = args.lake
    sequences = lake.partition("sequences", args.run_date)
    stats = lake.partition("sequence_stats", args.run_date)
    if not (lake.exists(f"{sequences}/split=train") and lake.exists(stats)):
        raise JobInputError(f"no training windows for {args.run_date} in {sequences}: run prepare_sequences first")
    if not lake.exists(f"{sequences}/split=validation"):
        raise JobInputError(f"no validation windows for {args.run_date}: early stopping needs them")
    prepared = lake.read_report("prepare_sequences", args.run_date)
    try:
        model = model_config_from_arguments(args, prepared["seq_len"])
    except ValueError as error:
        raise JobInputError(str(error)) from error
    task_cpus = int(spark.conf.get("spark.task.cpus", "1"))
    if task_cpus != args.threads_per_rank:
        log.warning(
            "spark.task.cpus is %d but ranks run %d threads: ranks may share cores", task_cpus, args.threads_per_rank
        )

    run_day = args.run_date.isoformat()
    tags = tracking.run_tags(args.tag, args.run_date)
    settings = {**model.settings(), "num_proc": args.num_proc}
    trained_day = lake.partition("trained/train_distributed", args.run_date)
    data_digest = lake.digest({"sequences": sequences, "sequence_stats": stats})
    trained = f"{trained_day}/{trained_key(settings, data_digest)}"
    resume = lake.exists(f"{trained}/{rank_spec.TRAINED_FILE}")
    if resume:
        log.info("an earlier try's fit of these windows and settings is in %s: logging it, not training again", trained)
    spec = rank_spec.RankSpec(
        lake=lake,
        sequences=sequences,
        stats=stats,
        model=model,
        threads_per_rank=args.threads_per_rank,
        bind_cores=args.bind_cores,
        experiment_id=experiment_id,
        run_name=f"train_distributed {run_day}",
        model_name=args.model_name,
        windows_input={"sequences": sequences, "digest": data_digest, "windows": prepared["windows"]},
        trained=trained,
        resume=resume,
        tags=tags,
        parent_run_id=tracking.nested_under_dag_run(experiment_id, tags).get(tracking.PARENT_TAG),
        plot_sensors=args.plot_sensors,
    )
    log.info("starting %d Horovod ranks (gloo) for %s", args.num_proc, run_day)
    deadline = args.start_timeout + model.schedule.budget_seconds + args.stall_timeout_seconds
    watch = RankWatch(spark.sparkContext, args.num_proc, args.stall_timeout_seconds, deadline)
    try:
        with watch:
            results = horovod.spark.run(
                rank_spec.train,
                args=(spec,),
                num_proc=args.num_proc,
                use_gloo=True,
                start_timeout=args.start_timeout,
                env=rank_environment(os.environ),
                nics=set(args.nics) or None,
            )
    except Exception as error:
        failure = ranks_failure(error, watch)
        if lake.exists(f"{trained}/{rank_spec.TRAINED_FILE}"):
            failure += f"; the fit is kept in {trained} and the retry logs it without training again"
        raise StageFailed(failure) from error
    results = sorted(results, key=lambda result: result["rank"])
    diverged = [result["diverged"] for result in results if "diverged" in result]
    if diverged:
        raise StageFailed(diverged[0])
    check_ranks_agree(results)
    chief = results[0]
    retired = retire_superseded_versions(mlflow.MlflowClient(), args.model_name, run_day, chief["model_version"])
    report = {
        "run_date": run_day,
        "mlflow_run_id": chief["mlflow_run_id"],
        "model_name": args.model_name,
        "model_version": chief["model_version"],
        "model_uri": f"models:/{args.model_name}/{chief['model_version']}",
        "seq_len": model.seq_len,
        "units": model.units,
        "test": chief["test"],
        **{
            name: chief[name]
            for name in (
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
        },
        "ranks": [
            {name: result[name] for name in ("rank", "hostname", "train_windows", "weights_digest", "logged_to_mlflow")}
            for result in results
        ],
        "superseded_versions": retired,
        "resumed_from_run": chief.get("resumed_from_run"),
        "data_digest": data_digest,
    }
    report_path = lake.write_report("train_distributed", args.run_date, report)
    lake.delete(trained_day)  # registered: no try needs the fit any more
    if chief["stopped_by"] == "time_budget":
        log.warning(
            "training stopped at its %.0f-minute budget after %d epochs, still improving; the model has "
            "the best epoch's weights (epoch %d)",
            args.training_budget_minutes,
            chief["epochs_trained"],
            chief["best_epoch"] + 1,
        )
    log.info(
        "train_distributed %s: %d ranks, %d epochs (best %d, stopped by %s) in %.0f s, test RMSE %.4f "
        "(persistence %.4f); %s version %d; report %s",
        run_day,
        len(results),
        chief["epochs_trained"],
        chief["best_epoch"] + 1,
        chief["stopped_by"],
        chief["train_seconds"],
        chief["test"].get("test_rmse", float("nan")),
        chief["test"].get("test_persistence_rmse", float("nan")),
        args.model_name,
        chief["model_version"],
        report_path,
    )
    return report


def main(argv: list[str] | None = None) -> None:
    run_job("train_distributed", parse_args, run, argv)


if __name__ == "__main__":
    main()
