import json
import math
import subprocess
import sys
import time
from datetime import datetime
from types import SimpleNamespace

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from spark_jobs import distributed_rank, forecasting, job, tracking, train_distributed


def test_equal_shards_give_every_rank_the_same_rows_and_leave_the_remainder_out():
    # 11 rows in pieces of 4, 4 and 3: each of 2 ranks gets 5, row 10 is left out.
    assert distributed_rank.shard_slices([4, 4, 3], rank=0, size=2, equal=True) == [(0, 0, 4), (1, 0, 1)]
    assert distributed_rank.shard_slices([4, 4, 3], rank=1, size=2, equal=True) == [(1, 1, 3), (2, 0, 2)]


def test_unequal_shards_cover_every_row_once():
    slices = [distributed_rank.shard_slices([4, 0, 3], rank, 3, equal=False) for rank in range(3)]
    assert slices == [[(0, 0, 2)], [(0, 2, 2)], [(2, 0, 3)]]
    assert distributed_rank.shard_slices([], rank=0, size=2, equal=False) == []


def test_read_shard_reads_only_its_rows(tmp_path):
    schema = pa.schema(
        [
            ("sensor_id", pa.string()),
            ("target_time", pa.timestamp("us", tz="UTC")),
            ("inputs", pa.list_(pa.float32())),
            ("target", pa.float32()),
        ]
    )
    for part, first in (("part-00000.parquet", 0), ("part-00001.parquet", 3)):
        rows = range(first, first + 3)
        table = pa.table(
            {
                "sensor_id": [f"s{row}" for row in rows],
                "target_time": [datetime(2026, 11, 25)] * 3,
                "inputs": [[float(row)] * 2 for row in rows],
                "target": [float(row) for row in rows],
            },
            schema=schema,
        )
        pq.write_table(table, tmp_path / part, row_group_size=2)
    (tmp_path / ".part-00002.parquet.abc.tmp").write_text("an unfinished write, never read")
    shards = [distributed_rank.read_shard(str(tmp_path), rank, 2, equal=False) for rank in range(2)]
    assert [shard.column("target").to_pylist() for shard in shards] == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    assert distributed_rank.read_shard(str(tmp_path / "missing"), 0, 2, equal=True) is None


def test_test_scores_from_the_ranks_summed_errors():
    actual = [np.array([1.0, 4.0]), np.array([5.0])]
    model = [np.array([1.0, 2.0]), np.array([3.0])]
    persistence = [np.array([0.0, 0.0]), np.array([3.0])]
    summed = sum(
        np.concatenate([forecasting.error_sums(m, a), forecasting.error_sums(p, a)])
        for m, p, a in zip(model, persistence, actual, strict=True)
    )
    assert distributed_rank.scores_on_test_windows(summed) == {
        "test_windows": 3,
        "test_rmse": pytest.approx(math.sqrt(8 / 3)),
        "test_mae": pytest.approx(4 / 3),
        "test_persistence_rmse": pytest.approx(math.sqrt(21 / 3)),
        "test_persistence_mae": pytest.approx(7 / 3),
    }
    assert distributed_rank.scores_on_test_windows(np.zeros(6)) == {"test_windows": 0}


def test_throughput_leaves_out_the_first_epoch_unless_it_is_the_only_one():
    assert distributed_rank.windows_per_second(1000, [9.0, 2.0, 2.5, 2.0]) == 500.0
    assert distributed_rank.windows_per_second(1000, [4.0]) == 250.0


def test_each_local_rank_gets_its_own_cores_or_none():
    assert distributed_rank.own_cores(0, 1, {0, 1}) == [0]
    assert distributed_rank.own_cores(1, 1, {0, 1}) == [1]
    assert distributed_rank.own_cores(1, 2, {2, 3, 5, 7}) == [5, 7]
    assert distributed_rank.own_cores(2, 1, {0, 1}) == []


def test_the_driver_ships_the_rank_entry_point_without_loading_tensorflow():
    # A fresh interpreter: this one has TensorFlow loaded by other tests.
    driver = (
        "import pickle, sys; import horovod.spark, mlflow; from spark_jobs import ranks, train_distributed; "
        "assert pickle.loads(pickle.dumps(ranks.train)) is ranks.train; "
        "print(sorted(name for name in ('tensorflow', 'tf_keras', 'keras', 'horovod.tensorflow') "
        "if name in sys.modules))"
    )
    loaded = subprocess.run([sys.executable, "-c", driver], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"


def test_ranks_must_end_with_the_same_weights_and_only_rank_0_logs():
    agreeing = [{"weights_digest": "a", "logged_to_mlflow": True}, {"weights_digest": "a", "logged_to_mlflow": False}]
    train_distributed.check_ranks_agree(agreeing)
    with pytest.raises(RuntimeError, match="different weights"):
        train_distributed.check_ranks_agree([agreeing[0], {**agreeing[1], "weights_digest": "b"}])
    with pytest.raises(RuntimeError, match="rank 0 alone"):
        train_distributed.check_ranks_agree([agreeing[0], {**agreeing[1], "logged_to_mlflow": True}])


def test_a_rerun_day_keeps_one_version_and_never_deletes_one_holding_an_alias(tmp_path):
    import mlflow

    client = mlflow.MlflowClient(
        tracking_uri=f"sqlite:///{tmp_path}/mlflow.db", registry_uri=f"sqlite:///{tmp_path}/mlflow.db"
    )
    client.create_registered_model("m")
    for day in ("2026-11-24", "2026-11-25", "2026-11-25", "2026-11-25"):
        client.create_model_version("m", source=str(tmp_path / "model"), tags={"run_day": day})
    client.set_registered_model_alias("m", "champion", "2")

    retired = train_distributed.retire_superseded_versions(client, "m", "2026-11-25", keep_version=4)

    assert retired == {"deleted": [3], "kept_with_alias": [2]}
    assert sorted(int(version.version) for version in client.search_model_versions("name = 'm'")) == [1, 2, 4]
    assert client.get_model_version("m", "2").tags["superseded_by"] == "4"


def test_network_interfaces_are_a_comma_separated_list_and_default_to_horovods_choice():
    required = ["--lake", "/lake", "--run-date", "2026-11-25"]
    assert train_distributed.parse_args(required).nics == []
    assert train_distributed.parse_args([*required, "--nics", "eth0"]).nics == ["eth0"]
    assert train_distributed.parse_args([*required, "--nics", "eth0,ib0"]).nics == ["eth0", "ib0"]


def test_the_ranks_get_an_allow_listed_environment_without_airflow_secrets():
    driver = {
        "PATH": "/venv/bin:/usr/bin",
        "PYTHONPATH": "/opt/sensor-lstm",
        "HOME": "/home/airflow",
        "LANG": "C.UTF-8",
        "JAVA_HOME": "/usr/lib/jvm/java-17",
        "VIRTUAL_ENV": "/venv",
        "LD_LIBRARY_PATH": "/usr/local/lib",
        "TF_USE_LEGACY_KERAS": "1",
        "OMP_NUM_THREADS": "1",
        "HOROVOD_GLOO_TIMEOUT_SECONDS": "60",
        "MLFLOW_TRACKING_URI": "http://mlflow:5000",
        "MLFLOW_TRACKING_USERNAME": "pipeline",
        "MLFLOW_TRACKING_PASSWORD": "mlflow-secret",
        "SENSOR_LSTM_CODE_VERSION": "abc123",
        "SPARK_HOME": "/opt/spark",
        "PYSPARK_PYTHON": "/venv/bin/python",
        "AIRFLOW__CORE__FERNET_KEY": "fernet",
        "AIRFLOW__API_AUTH__JWT_SECRET": "jwt",
        "AIRFLOW__API__SECRET_KEY": "api",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "postgresql://airflow:pw@db/airflow",
        "AIRFLOW_CONN_SPARK_DEFAULT": "spark://master:7077",
        "AIRFLOW_CTX_DAG_ID": "sensor_lstm_pipeline",
        "POSTGRES_PASSWORD": "pw",
        "SOME_TOKEN": "t",
    }
    assert train_distributed.rank_environment(driver) == {
        "PATH": "/venv/bin:/usr/bin",
        "PYTHONPATH": "/opt/sensor-lstm",
        "HOME": "/home/airflow",
        "LANG": "C.UTF-8",
        "JAVA_HOME": "/usr/lib/jvm/java-17",
        "VIRTUAL_ENV": "/venv",
        "LD_LIBRARY_PATH": "/usr/local/lib",
        "TF_USE_LEGACY_KERAS": "1",
        "OMP_NUM_THREADS": "1",
        "HOROVOD_GLOO_TIMEOUT_SECONDS": "60",
        "MLFLOW_TRACKING_URI": "http://mlflow:5000",
        "MLFLOW_TRACKING_USERNAME": "pipeline",
        "MLFLOW_TRACKING_PASSWORD": "mlflow-secret",
        "SENSOR_LSTM_CODE_VERSION": "abc123",
        "SPARK_HOME": "/opt/spark",
        "PYSPARK_PYTHON": "/venv/bin/python",
        # None: removed from the rank's environment, also where the executor inherited it.
        "AIRFLOW__CORE__FERNET_KEY": None,
        "AIRFLOW__API_AUTH__JWT_SECRET": None,
        "AIRFLOW__API__SECRET_KEY": None,
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": None,
        "AIRFLOW_CONN_SPARK_DEFAULT": None,
        "AIRFLOW_CTX_DAG_ID": None,
        "POSTGRES_PASSWORD": None,
        "SOME_TOKEN": None,
    }


def test_a_failed_rank_is_named_in_one_line():
    horovod_error = RuntimeError(
        "Horovod detected that one or more processes exited with non-zero status, thus causing the job to be "
        "terminated. The first process to do so was:\nProcess name: 1\nExit code: 137\n"
    )
    watch = train_distributed.RankWatch(None, 2, 10, 100)
    assert train_distributed.ranks_failure(horovod_error, watch) == (
        "Horovod rank 1 exited with code 137 and the job was stopped; the rank's own error, if it logged one, is above"
    )
    watch.fired = "1 of 2 Horovod ranks finished and 1 still ran 10 s later (--stall-timeout-seconds): stopped or hung"
    assert train_distributed.ranks_failure(horovod_error, watch) == watch.fired
    assert train_distributed.parse_args(["--lake", "/lake", "--run-date", "2026-11-25"]).stall_timeout_seconds == 300


def test_a_tracking_server_that_is_down_fails_the_job_before_it_starts_ranks(spark, tmp_path, monkeypatch):
    from tests.spark_jobs.test_tracking import free_port

    uri = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    args = train_distributed.parse_args(["--lake", str(tmp_path), "--run-date", "2026-11-25"])
    with pytest.raises(job.StageFailed, match=f"^MLflow tracking server {uri} is unreachable: "):
        train_distributed.run(spark, args)  # the lake is empty: reading it would have failed otherwise


class Stages:
    """A stand-in SparkContext whose status tracker reports one stage of the ranks' tasks."""

    def __init__(self, completed: int, active: int):
        self.stage = SimpleNamespace(numTasks=2, numCompletedTasks=completed, numFailedTasks=0, numActiveTasks=active)
        self.cancelled_at = None

    def statusTracker(self):
        return SimpleNamespace(getActiveStageIds=lambda: [7], getStageInfo=lambda stage: self.stage)

    def cancelAllJobs(self):
        self.cancelled_at = time.monotonic()


def test_the_watch_cancels_ranks_left_running_after_another_finished_or_past_the_deadline():
    started = time.monotonic()
    uneven = Stages(completed=1, active=1)
    with train_distributed.RankWatch(uneven, 2, grace_seconds=0.3, deadline_seconds=60, poll_seconds=0.05) as watch:
        time.sleep(1.0)
    assert 0.3 <= uneven.cancelled_at - started < 1.0
    assert watch.fired == (
        "1 of 2 Horovod ranks finished and 1 still ran 0 s later (--stall-timeout-seconds): stopped or hung; cancelled"
    )
    running = Stages(completed=0, active=2)
    with train_distributed.RankWatch(running, 2, grace_seconds=0.3, deadline_seconds=0.5, poll_seconds=0.05) as watch:
        time.sleep(1.0)
    assert running.cancelled_at is not None and watch.fired.startswith("the Horovod ranks still ran 0 s after")
    healthy = Stages(completed=0, active=2)
    with train_distributed.RankWatch(healthy, 2, grace_seconds=0.3, deadline_seconds=60, poll_seconds=0.05) as watch:
        time.sleep(0.5)
    assert (healthy.cancelled_at, watch.fired) == (None, None)


def test_a_tracking_server_that_hangs_mid_training_costs_the_epoch_metrics_until_the_end_not_the_training(
    tmp_path, monkeypatch
):
    import os
    import signal

    import mlflow

    from tests.spark_jobs.test_tracking import mlflow_server

    fitted = {"train_loss": [1.0, 0.5, 0.25], "val_loss": [2.0, 1.0, 0.5], "learning_rate": [0.1, 0.1, 0.05]}
    with mlflow_server(tmp_path) as (uri, server):
        monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
        monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
        monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
        with mlflow.start_run(experiment_id=tracking.reachable_experiment("test-hang")) as run:
            epochs = distributed_rank.LogEpochs(3)
            logs = [
                {
                    "loss": fitted["train_loss"][epoch],
                    "val_loss": fitted["val_loss"][epoch],
                    "lr": fitted["learning_rate"][epoch],
                }
                for epoch in range(3)
            ]
            epochs.on_epoch_end(0, logs[0])
            os.killpg(server.pid, signal.SIGSTOP)
            started = time.monotonic()
            epochs.on_epoch_end(1, logs[1])  # times out, and training goes on
            epochs.on_epoch_end(2, logs[2])  # not even tried
            assert epochs.unlogged_from == 1 and time.monotonic() - started < 20
            os.killpg(server.pid, signal.SIGCONT)
            distributed_rank.log_epochs_late(run.info.run_id, fitted, epochs.unlogged_from)
        history = mlflow.MlflowClient().get_metric_history(run.info.run_id, "val_loss")
        assert sorted((metric.step, metric.value) for metric in history) == [(0, 2.0), (1, 1.0), (2, 0.5)]


def test_a_kept_fit_is_named_by_its_windows_files_and_the_settings_that_shape_it():
    settings = {"seq_len": 6, "units": 4, "num_proc": 2}
    key = train_distributed.trained_key(settings, "a" * 32)
    assert len(key) == 16 and key == train_distributed.trained_key(dict(reversed(settings.items())), "a" * 32)
    assert train_distributed.trained_key({**settings, "num_proc": 4}, "a" * 32) != key
    assert train_distributed.trained_key(settings, "b" * 32) != key


def test_the_kept_fit_round_trips_through_the_lake_and_refuses_weights_it_was_not_written_for(tmp_path):
    from spark_jobs import ranks

    model = forecasting.build_lstm(6, 4, 0.01, seed=0)
    fitted = {"epochs_trained": 2, "val_loss": [0.5, 0.25], "unlogged_from": None}
    folder = str(tmp_path / "trained" / "key")
    distributed_rank.save_trained(folder, model, fitted, "a" * 32)
    assert sorted(path.name for path in (tmp_path / "trained" / "key").iterdir()) == [
        distributed_rank.CHECKPOINT_FILE,
        ranks.TRAINED_FILE,
    ]
    other = forecasting.build_lstm(6, 4, 0.01, seed=1)
    assert distributed_rank.weights_digest(other) != distributed_rank.weights_digest(model)
    assert distributed_rank.load_trained(folder, other) == {**fitted, "mlflow_run_id": "a" * 32}
    assert distributed_rank.weights_digest(other) == distributed_rank.weights_digest(model)
    record = json.loads((tmp_path / "trained" / "key" / ranks.TRAINED_FILE).read_text())
    (tmp_path / "trained" / "key" / ranks.TRAINED_FILE).write_text(json.dumps({**record, "weights_digest": "0" * 64}))
    with pytest.raises(ValueError, match=r"are not the ones trained\.json was written for"):
        distributed_rank.load_trained(folder, forecasting.build_lstm(6, 4, 0.01, seed=1))
