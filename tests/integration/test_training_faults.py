"""Faults injected into real distributed training on tiny data (in-process on local[2], 2 Horovod
ranks over gloo, MLflow in SQLite): a loss that turns NaN, a rank stopped with SIGSTOP and one
killed with SIGKILL after its first epoch. Each fails the job in one line within its bound; then
the retry succeeds and leaves one model version for the run day. The ranks, found among this
process's descendants by their Horovod rank, never see the driver's Airflow secrets. And a real
tracking server frozen from the first epoch until the job has failed: the retry registers the
fit the failed try kept in the lake, without training again."""

import json
import math
import os
import signal
import threading
import time
from datetime import datetime, timedelta

import mlflow
import psutil
import pytest

from sensor_lstm.errors import StageFailed
from sensor_lstm.training.distributed import train_distributed
from sensor_lstm.windows.prepare import prepare_sequences
from tests.support.jobs import job_args
from tests.support.lake_data import write_readings
from tests.support.mlflow_server import mlflow_server

pytestmark = pytest.mark.integration
DAY = "2026-11-25"
MODEL = "test-faults-lstm"
STALL_SECONDS = 10  # --stall-timeout-seconds of the faulted runs
FERNET = "a-fernet-key-the-ranks-must-not-see"


def rank_processes() -> dict[int, psutil.Process]:
    """This process's Horovod ranks (the gloo workers horovod.spark.run started), by rank."""
    found = {}
    for process in psutil.Process().children(recursive=True):
        try:
            if "gloo_exec_fn" in " ".join(process.cmdline()) and "HOROVOD_RANK" in process.environ():
                found[int(process.environ()["HOROVOD_RANK"])] = process
        except psutil.Error:
            continue
    return found


def wait_for_first_epoch(experiment: str, timeout: float = 300, poll_seconds: float = 0.5) -> None:
    """Until rank 0 has logged an epoch's val_loss to the run in ``experiment``."""
    client, deadline = mlflow.MlflowClient(), time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = client.get_experiment_by_name(experiment)
        if found and any("val_loss" in run.data.metrics for run in client.search_runs([found.experiment_id])):
            return
        time.sleep(poll_seconds)
    raise TimeoutError(f"no epoch logged in {experiment} within {timeout} s")


def run_with_fault(spark, lake, experiment: str, fault: signal.Signals | None, *extra: str, **overrides) -> dict:
    """Run train_distributed (in this thread: Horovod wants the main one) while another thread waits
    for the ranks (and reads their environments), then for the first epoch, and sends ``fault`` to rank 1.
    ``overrides`` set arguments past the parser, e.g. a learning rate far beyond the Param's bounds."""
    seen: dict = {}

    def inject():
        deadline = time.monotonic() + 300
        while len(ranks := rank_processes()) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        seen["environments"] = {rank: process.environ() for rank, process in ranks.items()}
        seen["pids"] = [process.pid for process in ranks.values()]
        wait_for_first_epoch(experiment)
        if fault is not None:
            seen["faulted_at"] = time.monotonic()
            os.kill(ranks[1].pid, fault)

    watcher = threading.Thread(target=inject, daemon=True)
    watcher.start()
    started = time.monotonic()
    args = job_args(
        "train_distributed",
        *[
            "--lake",
            str(lake),
            "--run-date",
            DAY,
            "--num-proc",
            "2",
            "--lstm-units",
            "4",
            "--model-name",
            MODEL,
            "--experiment",
            experiment,
            *extra,
        ],
    )
    vars(args).update(overrides)  # what the parser holds to the Params' bounds, as a fault would not
    try:
        seen["report"] = train_distributed(spark, args)
    except StageFailed as error:
        seen["error"] = error
    seen["finished_at"], seen["seconds"] = time.monotonic(), time.monotonic() - started
    watcher.join(timeout=5)
    # Horovod ends a cancelled rank's process group with SIGTERM, then SIGKILL 5 s later.
    deadline = time.monotonic() + 15
    while (left := [pid for pid in seen.get("pids", []) if alive(pid)]) and time.monotonic() < deadline:
        time.sleep(0.5)
    seen["left"] = left
    return seen


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def write_windows(spark, lake) -> None:
    start = datetime(2026, 11, 25)
    readings = [
        (sensor, start + timedelta(minutes=5 * step), 20.0 + offset + 3 * math.sin(step / 12))
        for offset, sensor in enumerate(["s1", "s2", "s3"])
        for step in range(288)
    ]
    write_readings(spark, lake, readings)
    prepare_sequences(
        spark,
        job_args(
            "prepare_sequences",
            *[
                "--lake",
                str(lake),
                "--run-date",
                DAY,
                "--lookback-days",
                "1",
                "--sampling-interval-seconds",
                "300",
                "--seq-len",
                "6",
                "--seasonal-periods",
                "12",
            ],
        ),
    )


@pytest.fixture(scope="module")
def runs(spark, tmp_path_factory):
    lake = tmp_path_factory.mktemp("lake")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{lake}/mlflow.db")
        patch.setenv("SENSOR_LSTM_MLFLOW_ARTIFACTS", str(lake / "artifacts"))
        patch.setenv("AIRFLOW__CORE__FERNET_KEY", FERNET)  # as in an Airflow worker's environment
        write_windows(spark, lake)
        stall = ["--stall-timeout-seconds", str(STALL_SECONDS)]
        runs = {
            "diverged": run_with_fault(spark, lake, "test-faults-nan", None, learning_rate=1e30),
            "stopped": run_with_fault(spark, lake, "test-faults-stop", signal.SIGSTOP, *stall),
            "killed": run_with_fault(spark, lake, "test-faults-kill", signal.SIGKILL, *stall),
            # The default stall timeout: rank 0 alone logs the model once rank 1 has finished.
            "retry": run_with_fault(spark, lake, "test-faults-retry", None, "--epochs", "2"),
        }
        for name, seen in runs.items():
            print(f"{name}: {seen['seconds']:.0f} s, {seen.get('error')!r}, left {seen['left']}", flush=True)
        yield runs


def test_a_training_run_whose_loss_becomes_nan_fails_in_one_line_naming_it(runs):
    diverged = runs["diverged"]
    assert str(diverged["error"]) == (
        "training diverged: loss nan at epoch 1 (learning rate 1e+30); lower --learning-rate"
    )
    assert diverged["left"] == []  # both ranks stopped and ended: neither blocked
    client = mlflow.MlflowClient()
    (run,) = client.search_runs([client.get_experiment_by_name("test-faults-nan").experiment_id])
    assert (run.info.status, run.data.tags["stopped_by"]) == ("FAILED", "diverged")
    assert client.search_model_versions(f"name = '{MODEL}' and run_id = '{run.info.run_id}'") == []


@pytest.mark.parametrize("fault", ["stopped", "killed"])
def test_a_stopped_or_dead_rank_fails_the_task_within_the_stall_bound(runs, fault):
    seen = runs[fault]
    after_fault = seen["finished_at"] - seen["faulted_at"]
    message = str(seen["error"])
    if fault == "stopped":
        # Rank 0 fails on gloo's 30 s timeout; the driver cancels the stopped rank STALL_SECONDS later.
        assert message == (
            f"1 of 2 Horovod ranks finished and 1 still ran {STALL_SECONDS} s later "
            "(--stall-timeout-seconds): stopped or hung; cancelled"
        )
        assert after_fault < 30 + STALL_SECONDS + 30, f"failed {after_fault:.0f} s after the SIGSTOP"
    else:
        assert message.startswith("Horovod rank 1 exited with code 137 and the job was stopped")
        assert after_fault < 30, f"failed {after_fault:.0f} s after the SIGKILL"
    assert "\n" not in message
    assert seen["left"] == []  # the stopped rank was killed with its task, not left behind


def test_the_retry_succeeds_with_one_model_version_for_the_run_day(runs):
    report = runs["retry"]["report"]
    assert (report.epochs_trained, report.stopped_by) == (2, "max_epochs")
    versions = mlflow.MlflowClient().search_model_versions(f"name = '{MODEL}'")
    assert [(int(version.version), version.tags["run_day"]) for version in versions] == [(report.model_version, DAY)]


def test_the_ranks_environment_carries_no_airflow_secrets(runs):
    assert os.environ["AIRFLOW__CORE__FERNET_KEY"] == FERNET  # the driver's, while the fixture runs
    environments = runs["retry"]["environments"]
    assert sorted(environments) == [0, 1]
    for environment in environments.values():
        assert "AIRFLOW__CORE__FERNET_KEY" not in environment
        assert environment["MLFLOW_TRACKING_URI"] == os.environ["MLFLOW_TRACKING_URI"]
        assert environment["MLFLOW_HTTP_REQUEST_TIMEOUT"] == "30"  # sensor_lstm/tracking.py's bound


@pytest.fixture(scope="module")
def outage(spark, tmp_path_factory):
    """train_distributed against a real tracking server that is frozen (SIGSTOP) once rank 0 has
    logged the first epoch and stays frozen until the job has failed; then the retry, with the
    server back. MLflow's requests are bounded at 2 s and one retry, so the outage costs seconds."""
    lake = tmp_path_factory.mktemp("lake-outage")
    with mlflow_server(lake) as (uri, server), pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", uri)
        patch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
        patch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
        write_windows(spark, lake)
        seen: dict = {}

        def freeze():
            wait_for_first_epoch("test-outage", poll_seconds=0.1)
            os.killpg(server.pid, signal.SIGSTOP)

        freezer = threading.Thread(target=freeze, daemon=True)
        freezer.start()
        args = [
            "--lake",
            str(lake),
            "--run-date",
            DAY,
            "--num-proc",
            "2",
            "--lstm-units",
            "4",
            "--model-name",
            MODEL,
            "--experiment",
            "test-outage",
            "--epochs",
            "6",
            "--patience",
            "6",
        ]
        try:
            train_distributed(spark, job_args("train_distributed", *args))
        except StageFailed as error:
            seen["error"] = error
        freezer.join(timeout=5)
        (seen["kept"],) = (lake / "trained" / "train_distributed" / f"date={DAY}").glob("*/trained.json")
        seen["trained"] = json.loads(seen["kept"].read_text())
        os.killpg(server.pid, signal.SIGCONT)
        started = time.monotonic()
        seen["report"] = train_distributed(spark, job_args("train_distributed", *args))
        seen["retry_seconds"] = time.monotonic() - started
        seen["lake"] = lake
        client = mlflow.MlflowClient()
        seen["runs"] = {
            run.info.run_id: run
            for run in client.search_runs([client.get_experiment_by_name("test-outage").experiment_id])
        }
        seen["versions"] = client.search_model_versions(f"name = '{MODEL}'")
        seen["val_loss"] = client.get_metric_history(seen["report"].mlflow_run_id, "val_loss")
        print(f"outage: {seen['error']!r}; retry {seen['retry_seconds']:.0f} s", flush=True)
        yield seen


def test_a_tracking_server_down_at_the_end_of_training_costs_the_retry_the_logging_not_the_training(outage):
    message, trained, report = str(outage["error"]), outage["trained"], outage["report"]
    assert message.startswith("Horovod rank 0 exited with code 1 and the job was stopped")
    assert message.endswith(
        f"; the fit is kept in {outage['kept'].parent} and the retry logs it without training again"
    )
    assert "\n" not in message
    # The failed try trained to the end, with the server frozen from its second epoch on.
    assert trained["epochs_trained"] == 6 and trained["unlogged_from"] is not None
    failed_run = outage["runs"][trained["mlflow_run_id"]]
    assert failed_run.info.status == "FAILED"  # ended by the retry: the frozen server never heard the first try end
    # The retry registered those very weights and that history, in a run of its own.
    assert report.resumed_from_run == trained["mlflow_run_id"] != report.mlflow_run_id
    assert {rank["weights_digest"] for rank in report.ranks} == {trained["weights_digest"]}
    for name in ("epochs_trained", "best_epoch", "val_loss", "train_loss", "epoch_seconds", "train_seconds"):
        assert getattr(report, name) == trained[name], name
    assert [(metric.step, metric.value) for metric in sorted(outage["val_loss"], key=lambda m: m.step)] == list(
        enumerate(trained["val_loss"])
    )
    assert outage["runs"][report.mlflow_run_id].data.tags["resumed_from_run"] == trained["mlflow_run_id"]
    assert [(int(version.version), version.tags["run_day"]) for version in outage["versions"]] == [
        (report.model_version, DAY)
    ]
    # Registered: the kept fit is gone from the lake.
    assert not (outage["lake"] / "trained" / "train_distributed" / f"date={DAY}").exists()
