"""MLflow conventions every stage follows: one experiment, tagged runs, one model name.

The tracking URI comes from MLFLOW_TRACKING_URI (a local SQLite store by default, the MLflow
server in the stack). Each run is tagged with the Airflow run that made it (``--tag`` pairs from
the DAG: dag_id, airflow_run_id, logical_date, task, try_number), the run day and the code
version, so a figure in MLflow leads back to its DAG run and commit.
"""

from __future__ import annotations

import argparse
import os
import subprocess
from datetime import date

EXPERIMENT = "sensor_lstm_pipeline"
MODEL_NAME = "sensor_lstm"
CHAMPION_ALIAS = "champion"


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
