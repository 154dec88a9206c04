"""The DAG end to end: `airflow dags test` runs every task through spark-submit on local Spark."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tools.generate_sensor_data import generate

pytestmark = pytest.mark.integration

DAG_ID = "sensor_lstm_pipeline"
FIRST_DAY, LAST_DAY = "2026-11-23", "2026-11-24"
RUN_CONF = {"lookback_days": 2, "sampling_interval_seconds": 300, "seq_len": 12, "horizon": 2, "epochs": 1, "partitions": 2}
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
    manifest = generate(
        root / "lake" / "landing",
        start_date=date.fromisoformat(FIRST_DAY),
        days=2,
        sensors=3,
        interval_seconds=300,
        bad_row_fraction=0.05,
        gap_probability=0.01,
        seed=5,
    )
    return env, root / "lake", manifest


def dags_test(env, day, *extra, **conf):
    return subprocess.run(
        ["airflow", "dags", "test", DAG_ID, "-c", json.dumps({"day": day, **RUN_CONF, **conf}), *extra],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def report(lake: Path, job: str, day: str) -> dict:
    return json.loads((lake / "reports" / job / f"date={day}" / "report.json").read_text())


def mlflow_run(env, run_id):
    import mlflow

    return mlflow.MlflowClient(tracking_uri=env["MLFLOW_TRACKING_URI"]).get_run(run_id)


def readings(lake: Path, day: str) -> list[tuple]:
    table = pq.read_table(lake / "readings" / f"date={day}")
    return sorted(zip(*(table.column(name).to_pylist() for name in ("sensor_id", "timestamp", "reading"))))


def test_dag_runs_end_to_end_and_reruns_idempotently(pipeline):
    env, lake, manifest = pipeline
    # History first: ingest the first day alone (the sequence task is marked done, not run).
    history = dags_test(env, FIRST_DAY, *HISTORY_ONLY)
    assert history.returncode == 0, history.stdout[-3000:] + history.stderr[-3000:]
    run = dags_test(env, LAST_DAY)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]

    for day in (FIRST_DAY, LAST_DAY):
        expected = manifest["files"][f"sensor_readings_{day}.csv"]
        counts = report(lake, "ingest", day)
        assert counts["rows_read"] == expected["lines"]
        assert counts["rows_written"] == expected["valid_unique"]
        assert counts["duplicates_dropped"] == expected["duplicates"]
        assert {k: v for k, v in counts["quarantined_by_reason"].items() if v} == expected["quarantined"]
        rows = readings(lake, day)
        assert len(rows) == expected["valid_unique"]
        assert len({(sensor, moment) for sensor, moment, _ in rows}) == len(rows)

    prep = report(lake, "prepare_sequences", LAST_DAY)
    assert prep["lookback_days"] == [FIRST_DAY, LAST_DAY]
    assert (prep["seq_len"], prep["horizon"], prep["sensors"]) == (12, 2, 3)
    assert all(prep["windows"][split] > 0 for split in ("train", "validation", "test")), prep["windows"]
    for split, count in prep["windows"].items():
        table = pq.read_table(lake / "sequences" / f"date={LAST_DAY}" / f"split={split}")
        assert table.num_rows == count
        assert {len(inputs) for inputs in table.column("inputs").to_pylist()} == {12}
    train_targets = pq.read_table(lake / "sequences" / f"date={LAST_DAY}" / "split=train").column("target_time")
    later_inputs = pq.read_table(lake / "sequences" / f"date={LAST_DAY}" / "split=validation").column("window_start")
    assert max(train_targets.to_pylist()) < min(later_inputs.to_pylist())
    assert pq.read_table(lake / "sequence_stats" / f"date={LAST_DAY}").num_rows == 3

    baseline = report(lake, "train_baseline", LAST_DAY)
    assert [row["partition"] for row in baseline["partitions"]] == [0, 1]
    assert any("metrics" in row for row in baseline["partitions"])
    tracked = mlflow_run(env, baseline["mlflow_run_id"])
    assert tracked.data.tags["dag_id"] == DAG_ID and tracked.data.tags["task"] == "train_baseline"
    assert tracked.data.tags["airflow_run_id"].startswith("manual__")

    distributed = report(lake, "train_distributed", LAST_DAY)
    assert [rank["rank"] for rank in distributed["ranks"]] == [0, 1]
    assert len({rank["weights_digest"] for rank in distributed["ranks"]}) == 1
    assert mlflow_run(env, distributed["mlflow_run_id"]).data.tags["task"] == "train_distributed"
    evaluation = report(lake, "evaluate", LAST_DAY)
    assert {row["model"] for row in evaluation["comparison"]} == {"distributed", "partition_baselines", "persistence"}
    assert evaluation["champion_version"] == distributed["model_version"]
    assert "Test scores for 2026-11-24, original units:" in run.stdout + run.stderr

    # A rerun of the same day changes no data (retried training: tests/integration/test_training_stages.py).
    before = readings(lake, LAST_DAY)
    again = dags_test(env, LAST_DAY, "--mark-success-pattern", "train_baseline|train_distributed|evaluate")
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert readings(lake, LAST_DAY) == before
    assert report(lake, "prepare_sequences", LAST_DAY)["windows"] == prep["windows"]


def test_day_without_input_fails_with_one_clear_line_or_succeeds_when_allowed(pipeline):
    env, lake, _ = pipeline
    failed = dags_test(env, "2026-10-01", *HISTORY_ONLY)
    assert failed.returncode != 0
    log = failed.stdout + failed.stderr
    assert "ingest failed: no landing files in" in log and "for 2026-10-01T00:00:00+00:00" in log
    assert "Traceback" not in log.split("ingest failed:")[0].rsplit("Spark-Submit cmd", 1)[-1]

    allowed = dags_test(env, "2026-10-01", *HISTORY_ONLY, allow_empty_input=True)
    assert allowed.returncode == 0, allowed.stdout[-3000:]
    assert report(lake, "ingest", "2026-10-01")["status"] == "no_data"
