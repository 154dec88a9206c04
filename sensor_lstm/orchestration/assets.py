"""What the DAG writes, as Airflow assets: lineage in the UI, and events another DAG can be
scheduled on (``schedule=[Asset(name="sensor_lstm.forecasts", ...)]``)."""

from __future__ import annotations

from airflow.sdk import Asset

from sensor_lstm.names import CHAMPION_ALIAS
from sensor_lstm.orchestration.deployment import Deployment

GROUP = "sensor_lstm"


def lake_asset(deployment: Deployment, dataset: str) -> Asset:
    return Asset(name=f"{GROUP}.{dataset}", uri=f"{deployment.lake_uri}/{dataset}", group=GROUP)


def champion_asset(deployment: Deployment) -> Asset:
    model_name = deployment.job_settings["model_name"]
    return Asset(name=f"{GROUP}.champion", uri=f"models:/{model_name}@{CHAMPION_ALIAS}", group=GROUP)
