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

import os
import subprocess
from collections.abc import Iterable, Mapping
from datetime import date
from importlib import metadata

from sensor_lstm.errors import StageFailed

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


# What a logged tf_keras model needs to be served. Given, MLflow does not infer it, which loads the
# model in a fresh Python (7-9 s a model here, against 0.6 s to log it).
KERAS_MODEL_PACKAGES = ("mlflow", "numpy", "tensorflow-cpu", "tf_keras")


def pinned_requirements(packages: Iterable[str]) -> list[str]:
    """``packages`` at the versions installed here, as a logged model's pip requirements."""
    return [f"{package}=={metadata.version(package)}" for package in packages]


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


def code_version() -> str:
    """SENSOR_LSTM_CODE_VERSION (set in images), else the checkout's git commit, else 'unknown'."""
    if os.environ.get("SENSOR_LSTM_CODE_VERSION"):
        return os.environ["SENSOR_LSTM_CODE_VERSION"]
    project = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    found = subprocess.run(["git", "-C", project, "rev-parse", "HEAD"], capture_output=True, text=True)
    return found.stdout.strip() if found.returncode == 0 else "unknown"


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


def log_windows_input(sequences: str, digest: str, windows: dict[str, int]) -> None:
    """Log the run day's windows as the active run's training input: where they are, a digest of the
    files they were read from (with the statistics; lake.files_digest) and the windows per split."""
    import mlflow
    from mlflow.data.dataset_source_registry import resolve_dataset_source
    from mlflow.data.meta_dataset import MetaDataset

    # MLflow knows s3:// and not Hadoop's name for the same objects.
    source = resolve_dataset_source(sequences.replace("s3a://", "s3://", 1))
    name = "/".join(sequences.rstrip("/").split("/")[-2:])  # sequences/date=<day>
    mlflow.log_input(
        MetaDataset(source, name=name, digest=digest),
        context="training",
        tags={f"{split}_windows": str(count) for split, count in windows.items()},
    )


DAG_RUN_KIND = "dag_run"  # the run_kind tag of the run that stands for an Airflow DAG run
DAG_RUN_TAGS = ("dag_id", "airflow_run_id", "logical_date", "run_day", "code_version")
PARENT_TAG = "mlflow.parentRunId"  # how MLflow nests one run under another


def dag_run_parents(client, experiment_id: str, airflow_run_id: str) -> list:
    """The runs standing for one DAG run, earliest first: one, unless stages raced to create it."""
    found = client.search_runs(
        [experiment_id], f"tags.airflow_run_id = '{airflow_run_id}' and tags.run_kind = '{DAG_RUN_KIND}'"
    )
    return sorted(found, key=lambda run: (run.info.start_time, run.info.run_id))


def nested_under_dag_run(experiment_id: str, tags: Mapping[str, str]) -> dict[str, str]:
    """``tags`` with MLflow's parent tag naming the run that stands for the Airflow DAG run the tags
    name (airflow_run_id), which the first stage to ask creates; unchanged outside Airflow. The two
    trainings run side by side and may each create one: evaluate, after both, merges them
    (merge_dag_run_parents)."""
    import mlflow

    airflow_run_id = tags.get("airflow_run_id")
    if not airflow_run_id:
        return dict(tags)
    client = mlflow.MlflowClient()
    parents = dag_run_parents(client, experiment_id, airflow_run_id)
    if parents:
        return {**tags, PARENT_TAG: parents[0].info.run_id}
    parent = client.create_run(
        experiment_id,
        run_name=f"{tags.get('dag_id', 'dag')} {tags.get('run_day', '')}".strip(),
        tags={**{name: tags[name] for name in DAG_RUN_TAGS if name in tags}, "run_kind": DAG_RUN_KIND},
    )
    # It holds the stage runs together and does no work of its own: ended at once, never "running".
    client.set_terminated(parent.info.run_id)
    return {**tags, PARENT_TAG: parent.info.run_id}


def merge_dag_run_parents(experiment_id: str, airflow_run_id: str) -> str | None:
    """Keep the earliest run standing for the DAG run: the stage runs under any other move under
    it, and the others are deleted. Returns the one kept (None: there is none)."""
    import mlflow

    client = mlflow.MlflowClient()
    kept, *others = dag_run_parents(client, experiment_id, airflow_run_id) or [None]
    for other in others:
        for child in client.search_runs([experiment_id], f"tags.`{PARENT_TAG}` = '{other.info.run_id}'"):
            client.set_tag(child.info.run_id, PARENT_TAG, kept.info.run_id)
        client.delete_run(other.info.run_id)
    return kept.info.run_id if kept else None
