"""The local stack end to end, as a user drives it: `scripts/stack.sh up`, two backfills over the
same two days with the Airflow CLI (the second day's file lands late), a run whose file never
lands, then `scripts/stack.sh down`.

The tests run in file order and build on each other (one stack for the module). Spark jobs run on
the stack's standalone cluster and MLflow is the stack's tracking server. The stack's scheduled
runs start tomorrow, so the runs checked here are only those the tests make. A run triggered
through the REST API, Horovod across workers, MLflow's contents and the UIs are checked once, on
the compose stack (test_compose_stack.py): each end-to-end check runs on one stack.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import requests
import sqlalchemy

from sensor_lstm.tools.generate_sensor_data import generate
from tests.stack import browser
from tests.stack.compose_stack import stack_settings
from tests.stack.local_stack import PORTS, Stack
from tests.stack.services import DAG_ID, StackError, listening_addresses

pytestmark = [pytest.mark.integration, pytest.mark.stack]

DAYS = ["2026-11-20", "2026-11-21"]
NO_FILE_DAY = "2026-11-23"
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
    "postgres",
    "spark-master",
    "spark-worker-1",
    "spark-worker-2",
    "spark-history",
    "mlflow",
    "airflow-api-server",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
]
LAKE_DATASETS = ["readings", "quarantine/ingest", "sequences", "sequence_stats"]
SPARK_TASKS = [
    "ingest",
    "prepare_sequences",
    "train_baseline",
    "train_distributed",
    "fit_statistical",
    "evaluate",
    "forecast",
]
CLUSTER_CORES = 4  # two workers of 2 cores: the spark_cores pool's slots


@pytest.fixture(scope="module")
def stack():
    root = Path(os.environ.get("SENSOR_LSTM_VAR", "var/test")).resolve() / "stack-test"
    shutil.rmtree(root, ignore_errors=True)
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    env = (
        os.environ
        | {name: str(port) for name, port in PORTS.items()}
        | {
            "SENSOR_LSTM_VAR": str(root),
            "SENSOR_LSTM_LAKE": str(root / "lake"),
            "SENSOR_LSTM_START_DATE": tomorrow,
            "SENSOR_LSTM_CATCHUP": "false",
            # A failing task fails its run now, not after minutes of retry delays.
            "SENSOR_LSTM_TASK_RETRIES": "0",
            "AIRFLOW_ADMIN_USER": "admin",
            "AIRFLOW_ADMIN_PASSWORD": "stack-test-password",
            "MLFLOW_ADMIN_USER": "admin",
            "MLFLOW_ADMIN_PASSWORD": "stack-test-mlflow-password",
            # None yet: `up` writes it, .env.example with fresh secrets, as on a fresh clone.
            "SENSOR_LSTM_ENV_FILE": str(root / ".env"),
        }
    )
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
    stack = Stack(
        env=env,
        root=root,
        user="admin",
        password="stack-test-password",
        mlflow_auth=("admin", "stack-test-mlflow-password"),
        manifest=manifest,
    )
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
    return sorted(zip(*(table.column(name).to_pylist() for name in ("sensor_id", "timestamp", "reading")), strict=True))


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


def backfill(stack: Stack, before_waiting=lambda runs: None) -> list[dict]:
    """`airflow backfill create` over DAYS, as the README has it, both days at once; the runs it
    created, once finished. ``before_waiting`` gets the new runs first."""
    before = {run["dag_run_id"] for run in stack.dag_runs()}
    created = stack.airflow(
        "backfill",
        "create",
        "--dag-id",
        DAG_ID,
        "--from-date",
        DAYS[0],
        "--to-date",
        DAYS[-1],
        "--max-active-runs",
        str(len(DAYS)),
        "--dag-run-conf",
        json.dumps(RUN_CONF),
    )
    assert created.returncode == 0, created.stdout[-3000:] + created.stderr[-3000:]
    new = [run for run in stack.dag_runs() if run["dag_run_id"] not in before]
    before_waiting(new)
    finished = [stack.wait_for_run(run["dag_run_id"]) for run in new]
    backfill_id = max(item["id"] for item in stack.api("GET", "/backfills", params={"dag_id": DAG_ID})["backfills"])
    stack.wait_for_backfill(backfill_id)
    return finished


def wait_for_state(stack: Stack, run_id: str, task_id: str, state: str, timeout: float = 900) -> dict:
    deadline = time.monotonic() + timeout
    while (task := stack.task_instance(run_id, task_id))["state"] != state:
        if time.monotonic() > deadline:
            raise StackError(f"{task_id} of {run_id} still {task['state']}, not {state}:\n{stack.task_logs(run_id)}")
        time.sleep(3)
    return task


def peak_slots(task_instances: list[dict]) -> int:
    """The most pool slots the task instances held at one instant, from their start and end times."""
    spans = [
        (datetime.fromisoformat(task["start_date"]), datetime.fromisoformat(task["end_date"]), task["pool_slots"])
        for task in task_instances
    ]
    return max(sum(slots for start, end, slots in spans if start <= instant < end) for instant, _, _ in spans)


def wait_for_applications(stack: Stack, count: int, timeout: float = 120) -> list[dict]:
    """The history server's finished applications, once it has read ``count`` (it rescans every 10 s)."""
    deadline = time.monotonic() + timeout
    while len(applications := stack.spark_history("/applications?status=completed")) < count:
        if time.monotonic() > deadline:
            raise StackError(f"the history server lists {len(applications)} applications, not {count}")
        time.sleep(5)
    return applications


def test_up_starts_every_service_healthy(stack):
    status = stack.script("status")
    assert status.returncode == 0, status.stderr
    assert [line.split()[0] for line in status.stdout.splitlines()] == SERVICES
    assert all(line.endswith(" healthy") for line in status.stdout.splitlines()), status.stdout
    master = stack.spark_master()
    assert master["status"] == "ALIVE" and master["url"] == f"spark://127.0.0.1:{PORTS['SPARK_MASTER_PORT']}"
    assert sorted(worker["state"] for worker in master["workers"]) == ["ALIVE", "ALIVE"]
    assert stack.api("GET", "/pools/spark_cores")["slots"] == CLUSTER_CORES
    assert stack.spark_history("/applications") == []  # no job has run yet
    health = stack.api("GET", "/monitor/health")
    assert {name: health[name]["status"] for name in ("metadatabase", "scheduler", "triggerer", "dag_processor")} == {
        "metadatabase": "healthy",
        "scheduler": "healthy",
        "triggerer": "healthy",
        "dag_processor": "healthy",
    }
    # Where the logins are, never a password.
    assert (
        f"Airflow UI     {stack.airflow_url}   login admin, password AIRFLOW_ADMIN_PASSWORD in {stack.env_file}"
        in stack.up_output
    )
    assert (
        f"MLflow UI      {stack.mlflow_url}   login admin, password MLFLOW_ADMIN_PASSWORD in {stack.env_file}"
        in stack.up_output
    )
    written = stack_settings().read(stack.env_file)
    for secret in (
        "stack-test-password",
        "stack-test-mlflow-password",
        *(written[key] for key in stack_settings().SECRETS),
    ):
        assert secret not in stack.up_output
    # Nothing listens beyond this machine unless SENSOR_LSTM_BIND_ADDRESS says so.
    assert listening_addresses(PORTS.values()) == {port: {"127.0.0.1"} for port in PORTS.values()}


def test_up_writes_an_env_file_with_fresh_secrets_and_the_fernet_key_keeps_its_trailing_equals(stack):
    settings = stack_settings()
    example, written = settings.read(Path(__file__).parents[2] / ".env.example"), settings.read(stack.env_file)
    assert stack.env_file.stat().st_mode & 0o777 == 0o600
    assert [key for key in settings.SECRETS if written[key] == example[key]] == []
    # The key Airflow runs with is the file's whole value, trailing `=` included (every Fernet key
    # ends with one): a key cut short fails every encryption, so adding a connection failed.
    fernet = stack.airflow("config", "get-value", "core", "fernet_key")
    assert fernet.stdout.strip() == written["AIRFLOW_FERNET_KEY"] and fernet.stdout.strip().endswith("=")
    added = stack.airflow(
        "connections", "add", "stack_test_probe", "--conn-uri", "http://probe:probe-secret@example.com:8000"
    )
    assert added.returncode == 0, added.stdout[-2000:] + added.stderr[-2000:]
    shown = stack.airflow("connections", "get", "stack_test_probe", "--output", "json")
    assert shown.returncode == 0, shown.stdout[-2000:] + shown.stderr[-2000:]
    connection = json.loads(shown.stdout[shown.stdout.index("[") : shown.stdout.rindex("]") + 1])[0]
    assert (connection["password"], connection["is_encrypted"]) == ("probe-secret", "True")


def test_mlflow_registry_write_needs_a_login(stack):
    assert requests.get(f"{stack.mlflow_url}/health", timeout=30).status_code == 200  # the health check's, open
    assert stack.mlflow_registry_write_status("auth-probe", auth=None) == 401
    assert stack.mlflow_registry_write_status("auth-probe", auth=("admin", "not-the-password")) == 401
    assert stack.mlflow_registry_write_status("auth-probe", auth=stack.mlflow_auth) == 200
    stack.mlflow("DELETE", "/registered-models/delete", json={"name": "auth-probe"})


def read_then_write_across_a_commit(url: str) -> list[str]:
    """What `airflow backfill create` does while the scheduler commits: a transaction reads (in a
    savepoint, as Airflow creates each run), another connection commits a write, then the first
    writes. The rows both wrote."""
    engine = sqlalchemy.create_engine(url)
    probe = "stack_test_lock_probe"
    try:
        with engine.begin() as setup:
            setup.exec_driver_sql(f"CREATE TABLE {probe} (writer VARCHAR(16))")
        with engine.connect() as backfill, engine.connect() as scheduler, backfill.begin(), backfill.begin_nested():
            backfill.exec_driver_sql(f"SELECT count(*) FROM {probe}").scalar()
            with scheduler.begin():
                scheduler.exec_driver_sql(f"INSERT INTO {probe} VALUES ('scheduler')")
            backfill.exec_driver_sql(f"INSERT INTO {probe} VALUES ('backfill')")
        with engine.connect() as reader:
            return sorted(reader.exec_driver_sql(f"SELECT writer FROM {probe}").scalars())
    finally:
        with engine.begin() as cleanup:
            cleanup.exec_driver_sql(f"DROP TABLE IF EXISTS {probe}")
        engine.dispose()


def test_a_metadata_transaction_that_read_before_another_process_committed_still_writes(stack):
    """On the SQLite database the stack had, `airflow backfill create` failed at once with
    "database is locked", leaving half a backfill: SQLite refuses the write of a transaction that
    read before another process committed, whatever its lock timeout. The stack's is PostgreSQL."""
    url = stack.airflow("config", "get-value", "database", "sql_alchemy_conn").stdout.strip()
    assert url.startswith("postgresql+psycopg2://airflow:")
    assert f"host={stack.state_dir / 'postgres-socket'}" in url
    assert read_then_write_across_a_commit(url) == ["backfill", "scheduler"]


@pytest.mark.timeout(2400)  # two whole DAG runs
def test_backfill_ingests_exactly_its_days_a_late_file_waits_alone_and_a_second_changes_nothing(stack):
    lake = stack.lake
    # New DAGs start paused, and runs of a paused DAG wait: a user unpauses it first.
    assert stack.wait_for_dag()["is_paused"] is True
    stack.api("PATCH", f"/dags/{DAG_ID}", json={"is_paused": False})
    # The second day's file is late: it lands (in one rename) once the first day's run is training.
    late_file = lake / "landing" / f"sensor_readings_{DAYS[1]}.csv"
    held_back = stack.root / late_file.name
    late_file.rename(held_back)
    delivered = {}

    def deliver_late(runs: list[dict]) -> None:
        by_day = {run["logical_date"][:10]: run["dag_run_id"] for run in runs}
        waiting = wait_for_state(stack, by_day[DAYS[1]], "wait_for_landing_file", "deferred")
        # The waiting run holds no slot and no lock: the other day's run goes on. Its trainings
        # take the cluster's 4 cores: the late day's jobs queue in the spark_cores pool for them.
        wait_for_state(stack, by_day[DAYS[0]], "train_distributed", "running")
        assert stack.task_instance(by_day[DAYS[1]], "wait_for_landing_file")["state"] == "deferred", waiting
        held_back.rename(late_file)
        delivered["at"] = datetime.now(UTC)

    first = backfill(stack, deliver_late)
    assert sorted(run["logical_date"][:10] for run in first) == DAYS
    assert {run["run_type"] for run in first} == {"backfill"}
    late_run = next(run for run in first if run["logical_date"][:10] == DAYS[1])
    early_run = next(run for run in first if run["logical_date"][:10] == DAYS[0])
    assert (
        datetime.fromisoformat(stack.task_instance(early_run["dag_run_id"], "prepare_sequences")["end_date"])
        < delivered["at"]
    )
    sensor = stack.task_instance(late_run["dag_run_id"], "wait_for_landing_file")
    assert (sensor["state"], sensor["try_number"]) == ("success", 1)  # picked up, never failed
    assert datetime.fromisoformat(sensor["end_date"]) > delivered["at"]
    # Every Spark task took a slot of the spark_cores pool per core it may hold, and the two runs
    # together never held more than the cluster has: the late day's jobs queued in Airflow.
    spark_tasks = [
        task for run in first for task in stack.task_instances(run["dag_run_id"]) if task["task_id"] in SPARK_TASKS
    ]
    assert {(task["task_id"], task["pool"], task["pool_slots"]) for task in spark_tasks} == {
        (task_id, "spark_cores", 2) for task_id in SPARK_TASKS
    }
    assert peak_slots(spark_tasks) <= CLUSTER_CORES
    # Each job's Spark UI, after the fact, on the history server its task log points to.
    applications = wait_for_applications(stack, len(SPARK_TASKS) * len(DAYS))
    assert sorted(app["name"] for app in applications) == sorted(SPARK_TASKS * len(DAYS))
    forecast_log = stack.task_log(early_run["dag_run_id"], "forecast", 1)
    (page,) = re.findall(
        rf"on the history server: ({re.escape(stack.spark_history_url)}/history/\S+/jobs/)", forecast_log
    )
    assert page.split("/")[-3] in {app["id"] for app in applications}
    assert requests.get(page, timeout=60).status_code == 200
    assert day_partitions(lake, "readings") == [f"date={day}" for day in DAYS]
    for day in DAYS:
        expected = stack.manifest["files"][f"sensor_readings_{day}.csv"]
        rows = readings(lake, day)
        assert len(rows) == len({(sensor, moment) for sensor, moment, _ in rows}) == expected["valid_unique"], day
    after_first = lake_digest(lake)
    assert len(after_first) == len(LAKE_DATASETS) * len(DAYS)
    # What each day's run wrote, as Airflow asset events through the REST API, with its counts.
    assets = {asset["name"]: asset for asset in stack.api("GET", "/assets")["assets"]}
    assert {"sensor_lstm.readings", "sensor_lstm.sequences", "sensor_lstm.champion", "sensor_lstm.forecasts"} <= set(
        assets
    )
    assert assets["sensor_lstm.readings"]["uri"] == f"file://{lake}/readings"

    def events(name: str) -> list[dict]:
        found = stack.api("GET", "/assets/events", params={"asset_id": assets[name]["id"], "limit": 100})
        return sorted((event["extra"] for event in found["asset_events"]), key=lambda extra: extra["run_date"])

    assert [(extra["run_date"], extra["rows_written"]) for extra in events("sensor_lstm.readings")] == [
        (day, stack.manifest["files"][f"sensor_readings_{day}.csv"]["valid_unique"]) for day in DAYS
    ]
    assert [extra["run_date"] for extra in events("sensor_lstm.sequences")] == DAYS
    assert all(extra["windows"]["train"] > 0 for extra in events("sensor_lstm.sequences"))
    champion = events("sensor_lstm.champion")
    forecasts = events("sensor_lstm.forecasts")
    assert [extra["run_date"] for extra in forecasts] == DAYS
    # Every day, with a champion or not, forecast each sensor 12 steps (the LSTM's or its best naive
    # forecast), or said why not.
    for forecast in forecasts:
        assert forecast["status"] == "forecast", forecast
        not_forecast = sum(len(sensors) for sensors in forecast.get("sensors_not_forecast", {}).values())
        assert forecast["forecasts"] == 12 * forecast["sensors_forecast"], forecast
        assert forecast["sensors_forecast"] + not_forecast == SENSORS
    assert len(champion) == len(DAYS)
    # The second day's evaluate scored the first day's forecasts due on it, when they were written
    # before it ran (the two runs overlap).
    early_forecast = stack.task_instance(early_run["dag_run_id"], "forecast")
    late_evaluate = stack.task_instance(late_run["dag_run_id"], "evaluate")
    if datetime.fromisoformat(early_forecast["end_date"]) < datetime.fromisoformat(late_evaluate["start_date"]):
        accuracy = json.loads((lake / "reports" / "evaluate" / f"date={DAYS[1]}" / "report.json").read_text())
        assert 0 < accuracy["forecast_accuracy"]["forecasts"] <= forecasts[0]["forecasts"], accuracy
        assert accuracy["forecast_accuracy"]["coverage_95"] is not None

    runs, versions = stack.dag_runs(), stack.model_versions()
    assert backfill(stack) == []  # every day already succeeded: Airflow creates no run
    assert stack.dag_runs() == runs
    assert stack.model_versions() == versions
    assert lake_digest(lake) == after_first
    # One model version per day.
    run_days = [next(tag["value"] for tag in version["tags"] if tag["key"] == "run_day") for version in versions]
    assert sorted(run_days) == DAYS, run_days


def test_the_dags_assets_show_in_the_airflow_ui(stack):
    assets = {asset["name"]: asset["id"] for asset in stack.api("GET", "/assets")["assets"]}
    with browser.chromium() as driver:
        driver.get(f"{stack.airflow_url}/")
        browser.wait_for_element(driver, "name", "username").send_keys(stack.user)
        driver.find_element("name", "password").send_keys(stack.password + "\n")
        browser.wait_for_url(driver, lambda url: "/auth/login" not in url)
        driver.get(f"{stack.airflow_url}/assets")
        for name in ("sensor_lstm.readings", "sensor_lstm.sequences", "sensor_lstm.champion", "sensor_lstm.forecasts"):
            browser.wait_for_text(driver, name)
        listed = browser.screenshot(driver, stack.root / "screenshots", "airflow-assets")
        driver.get(f"{stack.airflow_url}/assets/{assets['sensor_lstm.readings']}")
        browser.wait_for_text(driver, "sensor_lstm.readings")
        browser.wait_for_text(driver, DAG_ID)  # the lineage graph: the DAG that updates it
        detail = browser.screenshot(driver, stack.root / "screenshots", "airflow-asset-readings")
    assert listed.stat().st_size > 10_000 and detail.stat().st_size > 10_000


def test_a_day_whose_file_never_lands_fails_once_after_the_timeout_param(stack):
    stack.wait_for_dag()
    stack.api("PATCH", f"/dags/{DAG_ID}", json={"is_paused": False})  # as the backfill's test left it
    run_id = stack.trigger({**RUN_CONF, "day": NO_FILE_DAY, "landing_file_timeout_minutes": 0.2, "num_proc": 3})
    # The run's task instances take the pool slots of its own Params: 3 ranks, 1 core left for 2 partitions.
    slots = {
        task["task_id"]: task["pool_slots"] for task in stack.task_instances(run_id) if task["pool"] == "spark_cores"
    }
    assert slots == {
        "ingest": 2,
        "prepare_sequences": 2,
        "train_baseline": 1,
        "train_distributed": 3,
        "fit_statistical": 2,
        "evaluate": 2,
        "forecast": 2,
    }
    finished = stack.wait_for_run(run_id, timeout=600, may_fail=True)
    assert finished["state"] == "failed"
    sensor = stack.task_instance(run_id, "wait_for_landing_file")
    assert (sensor["state"], sensor["try_number"]) == ("failed", 1)
    assert stack.task_instance(run_id, "ingest")["state"] == "upstream_failed"
    assert (
        f"no landing file {stack.lake}/landing/sensor_readings_{NO_FILE_DAY}.csv* after waiting 0.2 minutes "
        "(landing_file_timeout_minutes)"
    ) in stack.task_log(run_id, "wait_for_landing_file", 1)


def test_down_stops_everything_up_started(stack):
    processes = stack_processes(stack)
    assert len(processes) >= len(SERVICES)
    stopped = stack.script("down")
    assert stopped.returncode == 0, stopped.stderr
    alive = [pid for pid in processes if Path(f"/proc/{pid}").exists()]
    assert alive == [], subprocess.run(
        ["ps", "-o", "pid,cmd", "-p", ",".join(map(str, alive))], capture_output=True, text=True
    ).stdout
    assert [port for port in PORTS.values() if port_open(port)] == []
    assert list((stack.state_dir / "pids").glob("*.pid")) == []
