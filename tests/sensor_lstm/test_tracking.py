"""MLflow conventions: bounded HTTP requests, and a tracking server that is down or hangs failing a
stage in one line, within those bounds. The servers here are real ``mlflow server`` processes on
a free loopback port, stopped with real signals."""

import os
import signal
import subprocess
import sys
import time

import pytest

from sensor_lstm import errors, tracking
from tests.support.mlflow_server import free_port, mlflow_server


def test_mlflow_requests_are_bounded_unless_the_deployment_sets_its_own():
    assert tracking.HTTP_DEFAULTS == {
        "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "3",
        "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
        "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": "1",
    }
    script = (
        "import os; from sensor_lstm import tracking; "
        "print(os.environ['MLFLOW_HTTP_REQUEST_TIMEOUT'], os.environ['MLFLOW_HTTP_REQUEST_MAX_RETRIES'])"
    )
    clean = {name: value for name, value in os.environ.items() if not name.startswith("MLFLOW_HTTP_")}
    ran = subprocess.run([sys.executable, "-c", script], env=clean, capture_output=True, text=True, check=True)
    assert ran.stdout.split() == ["30", "3"]
    overridden = {**clean, "MLFLOW_HTTP_REQUEST_TIMEOUT": "5"}
    ran = subprocess.run([sys.executable, "-c", script], env=overridden, capture_output=True, text=True, check=True)
    assert ran.stdout.split() == ["5", "3"]


def test_a_tracking_server_that_is_down_fails_in_one_line_within_seconds(monkeypatch):
    uri = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    started = time.monotonic()
    with pytest.raises(errors.StageFailed) as raised:
        tracking.reachable_experiment("test-down")
    elapsed = time.monotonic() - started
    message = str(raised.value)
    assert message.startswith(f"MLflow tracking server {uri} is unreachable: ") and "\n" not in message
    assert elapsed < 30, f"took {elapsed:.0f} s with the default bounds"


def test_a_tracking_server_that_hangs_fails_within_the_request_timeout(tmp_path, monkeypatch):
    with mlflow_server(tmp_path) as (uri, server):
        monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
        assert tracking.reachable_experiment("test-hang") == tracking.reachable_experiment("test-hang")
        os.killpg(server.pid, signal.SIGSTOP)
        # What a deployment would set for a shorter bound; the defaults bound it at about 2 minutes.
        monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
        monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
        started = time.monotonic()
        with pytest.raises(errors.StageFailed, match=f"^MLflow tracking server {uri} is unreachable: "):
            tracking.reachable_experiment("test-hang")
        assert time.monotonic() - started < 20


def test_only_a_missing_model_or_alias_means_no_champion(tmp_path):
    import mlflow

    store = f"sqlite:///{tmp_path}/mlflow.db"
    client = mlflow.MlflowClient(tracking_uri=store, registry_uri=store)
    assert tracking.current_champion(client, "m", "champion") is None  # no registered model
    client.create_registered_model("m")
    client.create_model_version("m", source=str(tmp_path / "model"))
    assert tracking.current_champion(client, "m", "champion") is None  # no alias
    client.set_registered_model_alias("m", "champion", "1")
    assert int(tracking.current_champion(client, "m", "champion").version) == 1


def test_an_mlflow_server_that_hangs_or_is_down_fails_the_champion_lookup_instead_of_reading_no_champion(
    tmp_path, monkeypatch
):
    import mlflow

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    with mlflow_server(tmp_path) as (uri, server):
        client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
        client.create_registered_model("m")
        client.create_model_version("m", source="s3://models/m")
        client.set_registered_model_alias("m", "champion", "1")
        assert int(tracking.current_champion(client, "m", "champion").version) == 1
        os.killpg(server.pid, signal.SIGSTOP)  # hangs: every request times out
        with pytest.raises(mlflow.exceptions.MlflowException):
            tracking.current_champion(client, "m", "champion")
        os.killpg(server.pid, signal.SIGKILL)  # down: every connection is refused
        server.wait()
        with pytest.raises(mlflow.exceptions.MlflowException):
            tracking.current_champion(client, "m", "champion")


def test_stage_runs_nest_under_one_run_per_dag_run_and_evaluate_merges_a_race(tmp_path, monkeypatch):
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    monkeypatch.setenv("SENSOR_LSTM_MLFLOW_ARTIFACTS", str(tmp_path / "artifacts"))
    client, experiment = mlflow.MlflowClient(), tracking.mlflow_experiment("test-nesting")
    assert tracking.nested_under_dag_run(experiment, {"run_day": "2026-11-25"}) == {"run_day": "2026-11-25"}
    tags = {"dag_id": "d", "airflow_run_id": "manual__1", "run_day": "2026-11-25", "task": "train_baseline"}
    first = tracking.nested_under_dag_run(experiment, tags)
    parent = client.get_run(first[tracking.PARENT_TAG])
    assert first == {**tags, tracking.PARENT_TAG: parent.info.run_id}
    assert (parent.info.run_name, parent.info.status) == ("d 2026-11-25", "FINISHED")
    assert {k: v for k, v in parent.data.tags.items() if not k.startswith("mlflow.")} == {
        "dag_id": "d",
        "airflow_run_id": "manual__1",
        "run_day": "2026-11-25",
        "run_kind": "dag_run",
    }
    assert tracking.nested_under_dag_run(experiment, {**tags, "task": "evaluate"})[tracking.PARENT_TAG] == (
        parent.info.run_id
    )

    # The trainings raced: each found none and created one, and nested its run under it.
    raced = {"dag_id": "d", "airflow_run_id": "manual__2", "run_kind": "dag_run"}
    parents = [client.create_run(experiment, tags=raced, start_time=start) for start in (2000, 1000)]
    children = [client.create_run(experiment, tags={tracking.PARENT_TAG: p.info.run_id}) for p in parents]
    assert tracking.merge_dag_run_parents(experiment, "manual__2") == parents[1].info.run_id  # the earliest
    assert client.get_run(parents[0].info.run_id).info.lifecycle_stage == "deleted"
    assert [client.get_run(c.info.run_id).data.tags[tracking.PARENT_TAG] for c in children] == [
        parents[1].info.run_id
    ] * 2
    assert tracking.merge_dag_run_parents(experiment, "manual__3") is None
