"""The local stack end to end, as a user drives it: `scripts/stack.sh up`, a run triggered through
Airflow's REST API with Params, two backfills over the same three days, the UIs in headless
Chromium, then `scripts/stack.sh down`.

The tests run in file order and build on each other (one stack for the module). Spark jobs run on
the stack's standalone cluster, Horovod's ranks in executors on its two workers, and MLflow is
the stack's tracking server. The stack's scheduled runs start tomorrow, so the runs checked here
are only those the tests make.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.stack import browser
from tests.stack.local_stack import DAG_ID, PORTS, Stack, StackError
from tools.generate_sensor_data import generate

pytestmark = [pytest.mark.integration, pytest.mark.stack]

DAYS = ["2026-11-20", "2026-11-21", "2026-11-22"]
SENSORS = 3
# Small windows on 5-minute readings, trained to convergence at the default model Params: every
# stage runs for real, in about a minute. The seasonal naive forecast of one hour, since the
# lookback holds no reading a day before.
RUN_CONF = {
    "sampling_interval_seconds": 300,
    "seq_len": 12,
    "horizon": 2,
    "lookback_days": 1,
    "seasonal_periods": [12],
    "partitions": 2,
    "num_proc": 2,
}
SERVICES = [
    "spark-master", "spark-worker-1", "spark-worker-2", "mlflow",
    "airflow-api-server", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer",
]  # fmt: skip
LAKE_DATASETS = ["readings", "quarantine/ingest", "sequences", "sequence_stats"]


@pytest.fixture(scope="module")
def stack():
    root = Path(os.environ.get("SENSOR_LSTM_VAR", "var/test")).resolve() / "stack-test"
    shutil.rmtree(root, ignore_errors=True)
    tomorrow = (datetime.now(timezone.utc) + timedelta(days=1)).date().isoformat()
    env = os.environ | {name: str(port) for name, port in PORTS.items()} | {
        "SENSOR_LSTM_VAR": str(root),
        "SENSOR_LSTM_LAKE": str(root / "lake"),
        "SENSOR_LSTM_START_DATE": tomorrow,
        "SENSOR_LSTM_CATCHUP": "false",
        # A failing task fails its run now, not after minutes of retry delays.
        "SENSOR_LSTM_TASK_RETRIES": "0",
        "AIRFLOW_ADMIN_USER": "admin",
        "AIRFLOW_ADMIN_PASSWORD": "stack-test-password",
    }
    manifest = generate(
        root / "lake" / "landing",
        start_date=date.fromisoformat(DAYS[0]),
        days=len(DAYS),
        sensors=SENSORS,
        interval_seconds=300,
        bad_row_fraction=0.05,
        gap_probability=0.01,
        seed=11,
    )
    stack = Stack(env=env, root=root, user="admin", password="stack-test-password", manifest=manifest)
    try:
        started = stack.script("up")
        if started.returncode:
            raise StackError(f"scripts/stack.sh up failed:\n{started.stdout}\n{started.stderr[-6000:]}")
        stack.up_output = started.stdout + started.stderr
        yield stack
    finally:
        stack.script("down")


def readings(lake: Path, day: str) -> list[tuple]:
    table = pq.read_table(lake / "readings" / f"date={day}")
    return sorted(zip(*(table.column(name).to_pylist() for name in ("sensor_id", "timestamp", "reading"))))


def report(lake: Path, job: str, day: str) -> dict:
    return json.loads((lake / "reports" / job / f"date={day}" / "report.json").read_text())


def lake_digest(lake: Path) -> dict[str, str]:
    """Per dataset and day, a digest of the sorted rows: equal when the content is, whatever the files."""
    digests = {}
    for dataset in LAKE_DATASETS:
        for partition in sorted((lake / dataset).glob("date=*")):
            table = pq.read_table(partition)
            rows = sorted(json.dumps(row, default=str, sort_keys=True) for row in table.to_pylist())
            digests[f"{dataset}/{partition.name}"] = hashlib.sha256("\n".join(rows).encode()).hexdigest()
    return digests


def day_partitions(lake: Path, dataset: str) -> list[str]:
    """The dataset's day partitions (its empty `_staging/` folder, where writes start, is not one)."""
    return sorted(path.name for path in (lake / dataset).glob("date=*"))


def stack_processes(stack: Stack) -> set[int]:
    """Every process of the stack's services: their leaders, sessions and descendants."""
    pids = set()
    for pid_file in (stack.state_dir / "pids").glob("*.pid"):
        leader = pid_file.read_text().strip()
        listing = subprocess.run(["ps", "-e", "-o", "pid=,ppid=,sid="], capture_output=True, text=True).stdout
        rows = [tuple(map(int, line.split())) for line in listing.splitlines()]
        family = {int(leader)} | {pid for pid, _, sid in rows if sid == int(leader)}
        grew = True
        while grew:
            children = {pid for pid, ppid, _ in rows if ppid in family} - family
            family |= children
            grew = bool(children)
        pids |= {pid for pid in family if any(pid == row[0] for row in rows)}
    return pids


def port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def backfill(stack: Stack) -> list[dict]:
    """`airflow backfill create` over DAYS, as the README has it; the runs it created, once finished."""
    before = {run["dag_run_id"] for run in dag_runs(stack)}
    created = stack.airflow(
        "backfill", "create", "--dag-id", DAG_ID, "--from-date", DAYS[0], "--to-date", DAYS[-1],
        "--max-active-runs", "1", "--dag-run-conf", json.dumps(RUN_CONF),
    )  # fmt: skip
    assert created.returncode == 0, created.stdout[-3000:] + created.stderr[-3000:]
    new = [run for run in dag_runs(stack) if run["dag_run_id"] not in before]
    finished = [stack.wait_for_run(run["dag_run_id"]) for run in new]
    backfill_id = max(item["id"] for item in stack.api("GET", "/backfills", params={"dag_id": DAG_ID})["backfills"])
    stack.wait_for_backfill(backfill_id)
    return finished


def dag_runs(stack: Stack) -> list[dict]:
    runs = stack.api("GET", f"/dags/{DAG_ID}/dagRuns", params={"limit": 100})["dag_runs"]
    return sorted(runs, key=lambda run: run["run_after"])


def model_versions(stack: Stack) -> list[dict]:
    found = stack.mlflow("GET", "/model-versions/search", params={"filter": "name='sensor_lstm'"})["model_versions"]
    return sorted(found, key=lambda version: int(version["version"]))


def test_up_starts_every_service_healthy(stack):
    status = stack.script("status")
    assert status.returncode == 0, status.stderr
    assert [line.split()[0] for line in status.stdout.splitlines()] == SERVICES
    assert all(line.endswith(" healthy") for line in status.stdout.splitlines()), status.stdout
    master = stack.spark_master()
    assert master["status"] == "ALIVE" and master["url"] == f"spark://127.0.0.1:{PORTS['SPARK_MASTER_PORT']}"
    assert sorted(worker["state"] for worker in master["workers"]) == ["ALIVE", "ALIVE"]
    health = stack.api("GET", "/monitor/health")
    assert {name: health[name]["status"] for name in ("metadatabase", "scheduler", "triggerer", "dag_processor")} == {
        "metadatabase": "healthy", "scheduler": "healthy", "triggerer": "healthy", "dag_processor": "healthy",
    }  # fmt: skip
    assert f"Airflow UI     {stack.airflow_url}   login admin / stack-test-password" in stack.up_output


def test_run_triggered_through_the_rest_api_with_params(stack):
    dag = stack.wait_for_dag()
    assert dag["is_paused"] is True  # new DAGs start paused; a user unpauses it in the UI
    stack.api("PATCH", f"/dags/{DAG_ID}", json={"is_paused": False})
    day = DAYS[-1]
    # What the trigger form sends: the Params as conf, no logical date.
    run = stack.api("POST", f"/dags/{DAG_ID}/dagRuns", json={"logical_date": None, "conf": {"day": day, **RUN_CONF}})
    finished = stack.wait_for_run(run["dag_run_id"])
    assert finished["conf"]["day"] == day
    stack.manual_run_id = run["dag_run_id"]
    lake = stack.lake

    # The lake: the day's partitions, counts as the generator wrote them, no duplicate readings.
    expected = stack.manifest["files"][f"sensor_readings_{day}.csv"]
    counts = report(lake, "ingest", day)
    assert (counts["rows_read"], counts["rows_written"]) == (expected["lines"], expected["valid_unique"])
    assert counts["duplicates_dropped"] == expected["duplicates"]
    assert {reason: n for reason, n in counts["quarantined_by_reason"].items() if n} == expected["quarantined"]
    assert pq.read_table(lake / "quarantine" / "ingest" / f"date={day}").num_rows == sum(expected["quarantined"].values())
    rows = readings(lake, day)
    assert len(rows) == len({(sensor, moment) for sensor, moment, _ in rows}) == expected["valid_unique"]
    prep = report(lake, "prepare_sequences", day)
    assert (prep["seq_len"], prep["horizon"], prep["sensors"], prep["lookback_days"]) == (12, 2, SENSORS, [day])
    sequences = lake / "sequences" / f"date={day}"
    for split in ("train", "validation", "test"):
        assert pq.read_table(sequences / f"split={split}").num_rows == prep["windows"][split] > 0
    last_train_target = max(pq.read_table(sequences / "split=train").column("target_time").to_pylist())
    assert last_train_target < min(pq.read_table(sequences / "split=validation").column("window_start").to_pylist())
    assert pq.read_table(lake / "sequence_stats" / f"date={day}").num_rows == SENSORS

    # Spark: every task was an application on the standalone master, none ran in local mode, and
    # Horovod's two ranks ran in executors on both workers.
    apps = {app["name"]: app for app in stack.spark_master()["completedapps"]}
    assert set(apps) == {"ingest", "prepare_sequences", "train_baseline", "train_distributed", "evaluate"}
    horovod_app = apps["train_distributed"]["id"]
    for worker in stack.spark_workers():
        assert horovod_app in {executor["appid"] for executor in worker["finishedexecutors"]}, worker["id"]
    distributed = report(lake, "train_distributed", day)
    assert [rank["rank"] for rank in distributed["ranks"]] == [0, 1]
    assert [rank["logged_to_mlflow"] for rank in distributed["ranks"]] == [True, False]
    assert len({rank["weights_digest"] for rank in distributed["ranks"]}) == 1
    assert distributed["stopped_by"] == "early_stopping" and len(distributed["val_loss"]) == distributed["epochs_trained"]

    # MLflow, through the tracking server's REST API: the stage runs with their tags and metrics,
    # the served artifacts, the registered version and the champion alias.
    experiment = stack.mlflow("GET", "/experiments/get-by-name", params={"experiment_name": "sensor_lstm_pipeline"})
    experiment_id = experiment["experiment"]["experiment_id"]
    stack.experiment_id = experiment_id
    found = stack.mlflow("POST", "/runs/search", json={
        "experiment_ids": [experiment_id], "filter": f"tags.airflow_run_id = '{run['dag_run_id']}'",
    })["runs"]  # fmt: skip
    by_task = {next(t["value"] for t in r["data"]["tags"] if t["key"] == "task"): r for r in found}
    assert set(by_task) == {"train_baseline", "train_distributed", "evaluate"}
    trained = by_task["train_distributed"]
    assert trained["info"]["run_id"] == distributed["mlflow_run_id"]
    params = {p["key"]: p["value"] for p in trained["data"]["params"]}
    assert (params["num_proc"], params["global_batch_size"]) == ("2", str(2 * distributed["batch_size"]))
    metrics = {m["key"]: m["value"] for m in trained["data"]["metrics"]}
    assert metrics["test_rmse"] == pytest.approx(distributed["test"]["test_rmse"])
    history = stack.mlflow("GET", "/metrics/get-history", params={"run_id": trained["info"]["run_id"], "metric_key": "val_loss"})
    assert [point["step"] for point in history["metrics"]] == list(range(distributed["epochs_trained"]))
    artifacts = stack.mlflow("GET", "/artifacts/list", params={"run_id": trained["info"]["run_id"]})
    assert "forecast_vs_actual.png" in {item["path"] for item in artifacts["files"]}
    assert trained["info"]["artifact_uri"].startswith("mlflow-artifacts:/")
    evaluation = report(lake, "evaluate", day)
    version = stack.mlflow("GET", "/model-versions/get", params={"name": "sensor_lstm", "version": distributed["model_version"]})
    assert {t["key"]: t["value"] for t in version["model_version"]["tags"]}["run_day"] == day
    # Trained to convergence, the model beats every naive forecast and passes the quality gate.
    assert evaluation["champion_decision"].startswith("no champion yet"), evaluation["comparison_table"]
    champion = stack.mlflow("GET", "/registered-models/alias", params={"name": "sensor_lstm", "alias": "champion"})
    assert int(champion["model_version"]["version"]) == evaluation["champion_version"] == distributed["model_version"]
    # The comparison table is in evaluate's task log, as the UI shows it.
    log = stack.api("GET", f"/dags/{DAG_ID}/dagRuns/{run['dag_run_id']}/taskInstances/evaluate/logs/1")
    printed = "\n".join(str(item.get("event", "")) for item in log["content"])
    assert f"Test scores for {day}, original units:" in printed
    assert all(f"\n{row['model']} " in printed for row in evaluation["comparison"]), printed[-3000:]


@pytest.mark.timeout(2400)  # three whole DAG runs, one after the other
def test_backfill_ingests_exactly_three_days_and_a_second_changes_nothing(stack):
    lake = stack.lake
    triggered = lake_digest(lake)  # the last day alone, from the run triggered through the API
    first = backfill(stack)
    assert sorted(run["logical_date"][:10] for run in first) == DAYS
    assert {run["run_type"] for run in first} == {"backfill"}
    assert day_partitions(lake, "readings") == [f"date={day}" for day in DAYS]
    for day in DAYS:
        expected = stack.manifest["files"][f"sensor_readings_{day}.csv"]
        rows = readings(lake, day)
        assert len(rows) == len({(sensor, moment) for sensor, moment, _ in rows}) == expected["valid_unique"], day
    after_first = lake_digest(lake)
    assert len(after_first) == len(LAKE_DATASETS) * len(DAYS)
    # The backfill redid the last day with the same Params: every dataset holds the same rows.
    assert {key: digest for key, digest in after_first.items() if DAYS[-1] in key} == triggered

    runs, versions = dag_runs(stack), model_versions(stack)
    assert backfill(stack) == []  # every day already succeeded: Airflow creates no run
    assert dag_runs(stack) == runs
    assert model_versions(stack) == versions
    assert lake_digest(lake) == after_first
    # Redoing a day replaced its model version: one per day, plus the champion's if it was redone.
    run_days = [next(tag["value"] for tag in version["tags"] if tag["key"] == "run_day") for version in versions]
    assert sorted(set(run_days)) == DAYS and len(run_days) <= len(DAYS) + 1, run_days


def test_airflow_and_mlflow_uis_in_headless_chromium(stack):
    shots = stack.root / "screenshots"
    with browser.chromium() as driver:
        driver.get(f"{stack.airflow_url}/")
        browser.wait_for_element(driver, "name", "username").send_keys(stack.user)
        driver.find_element("name", "password").send_keys(stack.password + "\n")
        browser.wait_for_url(driver, lambda url: "/auth/login" not in url)
        driver.get(f"{stack.airflow_url}/dags")
        browser.wait_for_text(driver, DAG_ID)
        browser.screenshot(driver, shots, "airflow-dags")
        driver.get(f"{stack.airflow_url}/dags/{DAG_ID}/runs")
        browser.wait_for_text(driver, stack.manual_run_id)
        browser.wait_for_text(driver, "success", ignore_case=True)
        runs_shot = browser.screenshot(driver, shots, "airflow-dag-runs")

        # The sidebar's "Model training" view of the experiment: its runs.
        driver.get(f"{stack.mlflow_url}/#/experiments/{stack.experiment_id}/runs?workflowType=machine_learning")
        browser.wait_for_text(driver, "sensor_lstm_pipeline")
        browser.wait_for_text(driver, "train_distributed")
        mlflow_shot = browser.screenshot(driver, shots, "mlflow-experiment")
    for shot in (runs_shot, mlflow_shot):
        assert shot.stat().st_size > 10_000, shot


def test_down_stops_everything_up_started(stack):
    processes = stack_processes(stack)
    assert len(processes) >= len(SERVICES)
    stopped = stack.script("down")
    assert stopped.returncode == 0, stopped.stderr
    alive = [pid for pid in processes if Path(f"/proc/{pid}").exists()]
    assert alive == [], subprocess.run(["ps", "-o", "pid,cmd", "-p", ",".join(map(str, alive))], capture_output=True, text=True).stdout
    assert [port for port in PORTS.values() if port_open(port)] == []
    assert list((stack.state_dir / "pids").glob("*.pid")) == []
