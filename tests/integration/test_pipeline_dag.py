"""`airflow dags test`, what `make demo` runs, with real spark-submit on local Spark: a day without
input. The whole DAG through the scheduler, the API and a Spark cluster: tests/stack."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

DAG_ID = "sensor_lstm_pipeline"
HISTORY_ONLY = ["--mark-success-pattern", "prepare_sequences|train_baseline|train_distributed|evaluate"]


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    root = tmp_path_factory.mktemp("pipeline")
    env = os.environ | {
        "SENSOR_LSTM_VAR": str(root),
        "SENSOR_LSTM_LAKE": str(root / "lake"),
        "AIRFLOW_HOME": str(root / "airflow"),
        "AIRFLOW_CONN_SPARK_DEFAULT": '{"conn_type": "spark", "host": "local[2]"}',
        # A failing task should fail the test run now, not after minutes of retry delays.
        "SENSOR_LSTM_TASK_RETRIES": "0",
        "MLFLOW_TRACKING_URI": f"sqlite:///{root}/mlflow.db",
        "SENSOR_LSTM_MLFLOW_ARTIFACTS": str(root / "mlflow-artifacts"),
    }
    subprocess.run(["airflow", "db", "migrate"], env=env, check=True, capture_output=True)
    (root / "lake" / "landing").mkdir(parents=True)
    return env, root / "lake"


def dags_test(env, day, *extra, **conf):
    return subprocess.run(
        ["airflow", "dags", "test", DAG_ID, "-c", json.dumps({"day": day, **conf}), *extra],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def report(lake: Path, job: str, day: str) -> dict:
    return json.loads((lake / "reports" / job / f"date={day}" / "report.json").read_text())


def test_day_without_input_fails_with_one_clear_line_or_succeeds_when_allowed(pipeline):
    env, lake = pipeline
    failed = dags_test(env, "2026-10-01", *HISTORY_ONLY)
    assert failed.returncode != 0
    log = failed.stdout + failed.stderr
    assert "ingest failed: no landing files in" in log and "for 2026-10-01T00:00:00+00:00" in log
    assert "Traceback" not in log.split("ingest failed:")[0].rsplit("Spark-Submit cmd", 1)[-1]

    allowed = dags_test(env, "2026-10-01", *HISTORY_ONLY, allow_empty_input=True)
    assert allowed.returncode == 0, allowed.stdout[-3000:]
    assert report(lake, "ingest", "2026-10-01")["status"] == "no_data"
