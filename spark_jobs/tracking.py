"""MLflow conventions every stage follows: one experiment, tagged runs, one model name.

The tracking URI comes from MLFLOW_TRACKING_URI (a local SQLite store by default, the MLflow
server in the stack). Each run is tagged with the Airflow run that made it (``--tag`` pairs from
the DAG: dag_id, airflow_run_id, logical_date, task, try_number), the run day and the code
version, so a figure in MLflow leads back to its DAG run and commit.

MLflow's HTTP requests are bounded (HTTP_DEFAULTS, set on import unless the environment already
sets them): a tracking server that is down or hangs fails a stage within about two minutes
rather than after MLflow's own 7 retries of up to 120 s each. The training stages check that
the server answers (and the experiment exists or can be created) before they train, so a server
that is down costs seconds, not a training run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from datetime import date

EXPERIMENT = "sensor_lstm_pipeline"
MODEL_NAME = "sensor_lstm"
CHAMPION_ALIAS = "champion"

# Per request: 30 s to connect or between bytes, and 3 retries after exponential backoffs (factor 1,
# up to 1 s of jitter each). Measured: 127 s to fail against a server that hangs (SIGSTOP), 7 s
# against a port that refuses; MLflow's own defaults (7 retries, 120 s) took 248 s on the refused
# port and had not failed after 300 s against the hung server.
HTTP_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "3",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": "1",
}
for _name, _value in HTTP_DEFAULTS.items():
    os.environ.setdefault(_name, _value)


class StageFailed(RuntimeError):
    """A stage that ran and failed for a reason its message says in full (the training diverged,
    a Horovod rank stopped, the tracking server is unreachable): reported in one line."""


def mlflow_experiment(name: str) -> str:
    """The experiment's id, creating it when missing. A new experiment keeps its artifacts in
    SENSOR_LSTM_MLFLOW_ARTIFACTS when set (local stores); a tracking server chooses otherwise."""
    import mlflow

    client = mlflow.MlflowClient()
    existing = client.get_experiment_by_name(name)
    if existing is not None:
        return existing.experiment_id
    try:
        return client.create_experiment(name, artifact_location=os.environ.get("SENSOR_LSTM_MLFLOW_ARTIFACTS"))
    except mlflow.exceptions.MlflowException:
        # Two stages running side by side may both find it missing; the second create loses.
        return client.get_experiment_by_name(name).experiment_id


def reachable_experiment(name: str) -> str:
    """mlflow_experiment, raising StageFailed in one line when the tracking server does not answer
    (within HTTP_DEFAULTS' bounds) or refuses: called before a stage spends anything."""
    import mlflow

    try:
        return mlflow_experiment(name)
    except Exception as error:  # MlflowException, or requests' errors from the REST client
        first = " ".join(str(error).split())[:300]
        raise StageFailed(f"MLflow tracking server {mlflow.get_tracking_uri()} is unreachable: {first}") from error


def run_stage(name: str, parse_args, run, argv: list[str] | None) -> None:
    """lake.run_job, with a StageFailed reported in one line (``<name> failed: ...``), exit code 1."""
    from spark_jobs import lake

    try:
        lake.run_job(name, parse_args, run, argv)
    except StageFailed as error:
        print(f"{name} failed: {error}", file=sys.stderr, flush=True)
        sys.exit(1)


def code_version() -> str:
    """SENSOR_LSTM_CODE_VERSION (set in images), else the checkout's git commit, else 'unknown'."""
    if os.environ.get("SENSOR_LSTM_CODE_VERSION"):
        return os.environ["SENSOR_LSTM_CODE_VERSION"]
    project = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    found = subprocess.run(["git", "-C", project, "rev-parse", "HEAD"], capture_output=True, text=True)
    return found.stdout.strip() if found.returncode == 0 else "unknown"


def parse_tag(text: str) -> tuple[str, str]:
    key, separator, value = text.partition("=")
    if not separator or not key:
        raise argparse.ArgumentTypeError(f"a tag is KEY=VALUE, got {text!r}")
    return key, value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--experiment", default=EXPERIMENT, help="MLflow experiment")
    parser.add_argument("--tag", type=parse_tag, action="append", default=[], help="MLflow run tag KEY=VALUE")


def run_tags(tag_pairs: list[tuple[str, str]], run_day: date) -> dict[str, str]:
    return {**dict(tag_pairs), "run_day": run_day.isoformat(), "code_version": code_version()}


def current_champion(client, model_name: str, alias: str):
    """The model version holding ``alias``, or None when the registered model or the alias does
    not exist yet. Any other error (a tracking server down, hanging or failing) is raised: read
    as "no champion yet", it would hand the alias to a model that never beat the champion."""
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import RESOURCE_DOES_NOT_EXIST, ErrorCode

    try:
        model = client.get_registered_model(model_name)
    except MlflowException as error:
        if error.error_code == ErrorCode.Name(RESOURCE_DOES_NOT_EXIST):
            return None
        raise
    if alias not in model.aliases:
        return None
    return client.get_model_version(model_name, model.aliases[alias])
