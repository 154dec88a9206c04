import subprocess
import sys
import time
from types import SimpleNamespace

import pytest

from spark_jobs import job, train_distributed
from tests.support.mlflow_server import free_port


def test_the_driver_ships_the_rank_entry_point_without_loading_tensorflow():
    # A fresh interpreter: this one has TensorFlow loaded by other tests.
    driver = (
        "import pickle, sys; import horovod.spark, mlflow; from spark_jobs import rank_spec, train_distributed; "
        "assert pickle.loads(pickle.dumps(rank_spec.train)) is rank_spec.train; "
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


def test_a_kept_fit_is_named_by_its_windows_files_and_the_settings_that_shape_it():
    settings = {"seq_len": 6, "units": 4, "num_proc": 2}
    key = train_distributed.trained_key(settings, "a" * 32)
    assert len(key) == 16 and key == train_distributed.trained_key(dict(reversed(settings.items())), "a" * 32)
    assert train_distributed.trained_key({**settings, "num_proc": 4}, "a" * 32) != key
    assert train_distributed.trained_key(settings, "b" * 32) != key
