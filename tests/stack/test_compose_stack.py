"""The compose stack end to end, as docs/stack.md has a user run it: the image built, `docker compose
up -d --wait` with the repository's docker-compose.yaml and an .env made from .env.example with
fresh secrets (the example's own are refused, checked on its own), MLflow's registry refusing a write
without a login, the sample generated in the scheduler's container, then everything checked through the published ports:
a first day's run with one worker container stopped while its two Horovod ranks train, one in each; the next day's
run at the default Params triggered through Airflow's REST API (lake, Spark cluster, the ranks
num_proc auto chose, MLflow, evaluate's table); the three UIs in headless Chromium; `down`
then `up` keeping every piece of state; and `down -v` leaving nothing.

On a machine without Docker Engine 25 or later, scripts/docker_engine.sh installs and starts one;
without a reachable image registry, local stand-ins replace the official base images (the
SENSOR_LSTM_PYTHON_IMAGE / SENSOR_LSTM_POSTGRES_IMAGE variables; set both to use others). The
tests run in file order and build on each other (one stack for the module). Wall times of the
build, the start, each run and its tasks go to var/test/compose-test/timings.json.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from sensor_lstm.tools.generate_sensor_data import DEMO_SAMPLE
from tests.stack import browser
from tests.stack.compose_stack import (
    HOST_CA_BUNDLE,
    PORTS,
    ROOT,
    ComposeStack,
    base_image_settings,
    engine,
    env_file_text,
    stack_settings,
)
from tests.stack.services import DAG_ID, StackError, listening_addresses

pytestmark = [pytest.mark.integration, pytest.mark.compose]

# The demo's sample: a first day's run on its second day, the default Params' run on its last.
SAMPLE_DAYS = [day.isoformat() for day in DEMO_SAMPLE.day_list()]
FAULT_DAY, DEFAULTS_DAY = SAMPLE_DAYS[1], SAMPLE_DAYS[-1]
SERVICES = [
    "airflow-api-server",
    "airflow-dag-processor",
    "airflow-init",
    "airflow-scheduler",
    "airflow-triggerer",
    "check-secrets",
    "mlflow",
    "postgres",
    "spark-history",
    "spark-master",
    "spark-worker-1",
    "spark-worker-2",
]
STAGE_APPS = {
    "ingest",
    "prepare_sequences",
    "train_baseline",
    "train_distributed",
    "fit_statistical",
    "evaluate",
    "forecast",
}
# docs/stack.md's command, run in the scheduler's container: the demo's sample (the generator's
# defaults) in the lake volume.
GENERATE_SAMPLE = ["python", "-m", "sensor_lstm.tools.generate_sensor_data", "--output-dir", "/data/lake/landing"]
# Rows per day and dataset, and a digest of their sorted content, read in the scheduler's container.
LAKE_CONTENT = """
import hashlib, json, pathlib, pyarrow.parquet as pq
out = {}
for dataset in ("readings", "quarantine/ingest", "sequences", "sequence_stats"):
    for part in sorted(pathlib.Path("/data/lake", dataset).glob("date=*")):
        rows = sorted(json.dumps(r, default=str, sort_keys=True) for r in pq.read_table(part).to_pylist())
        out[f"{dataset}/{part.name}"] = [len(rows), hashlib.sha256("\\n".join(rows).encode()).hexdigest()]
print(json.dumps(out))
"""
UNIQUE_READINGS = """
import json, sys, pyarrow.parquet as pq
table = pq.read_table(f"/data/lake/readings/date={sys.argv[1]}")
keys = list(zip(table.column("sensor_id").to_pylist(), table.column("timestamp").to_pylist()))
print(json.dumps([len(keys), len(set(keys))]))
"""


# The module fixture's cold path, on a new machine: the engine installed (11 s measured) and the
# stand-in bases built (50 s), the image built from no layer and an empty pip cache (5.5 to 11.5
# minutes measured, the slower beside another job), then `up` (35 to 67 s). Each step has its
# own bound, about twice its slowest measurement; the first test, which pays for the fixture, has
# their sum as its own.
ENGINE_TIMEOUT_S = 600
BUILD_TIMEOUT_S = 1500
UP_TIMEOUT_S = 600
COLD_START_TIMEOUT_S = ENGINE_TIMEOUT_S * 2 + BUILD_TIMEOUT_S + UP_TIMEOUT_S + 300


def timed(stack: ComposeStack, name: str, started: float, run_id: str | None = None) -> float:
    stack.timings[name] = round(time.monotonic() - started, 1)
    if run_id is not None:
        stack.timings[f"{name}_by_task"] = stack.task_seconds(run_id)
    (stack.root / "timings.json").write_text(json.dumps(stack.timings, indent=2) + "\n")
    return stack.timings[name]


@pytest.fixture(scope="module")
def stack():
    root = Path(os.environ.get("SENSOR_LSTM_VAR", "var/test")).resolve() / "compose-test"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    engine("ensure", timeout=ENGINE_TIMEOUT_S)
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    settings = {
        **{name: str(port) for name, port in PORTS.items()},
        **base_image_settings(timeout=ENGINE_TIMEOUT_S),
        "SENSOR_LSTM_IMAGE_TAG": "compose-test",
        "SENSOR_LSTM_CODE_VERSION": subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True
        ).stdout.strip(),
        # The scheduled runs start tomorrow: the runs checked here are only those the tests make.
        "SENSOR_LSTM_START_DATE": tomorrow,
        "SENSOR_LSTM_TASK_RETRY_DELAY_SECONDS": "10",
        "AIRFLOW_ADMIN_USER": "admin",
        "AIRFLOW_ADMIN_PASSWORD": "compose-test-password",
    }
    # pip inside the build reaches the package index through this machine's TLS setup.
    if HOST_CA_BUNDLE.exists():
        settings["SENSOR_LSTM_PIP_CA_BUNDLE"] = str(HOST_CA_BUNDLE)
    stack = ComposeStack(root=root, settings=settings)
    stack.test_settings = settings
    stack.log_dir = root / "task-logs"
    stack.compose("down", "--volumes", "--remove-orphans")  # what an interrupted run left
    try:
        started = time.monotonic()
        stack.compose("build", timeout=BUILD_TIMEOUT_S)
        timed(stack, "image_build_s", started)
        started = time.monotonic()
        stack.compose("up", "--detach", "--wait", timeout=UP_TIMEOUT_S)
        timed(stack, "up_to_healthy_s", started)
        yield stack
    finally:
        (root / "compose.log").write_text(stack.compose("logs", "--no-color", check=False).stdout)
        stack.compose("down", "--volumes", "--remove-orphans", check=False)


def spark_apps(stack: ComposeStack) -> dict[str, list[dict]]:
    """The master's applications (running and completed) by name, oldest first."""
    master = stack.spark_master()
    found: dict[str, list[dict]] = {}
    for app in sorted(master["activeapps"] + master["completedapps"], key=lambda app: app["starttime"]):
        found.setdefault(app["name"], []).append(app)
    return found


def executors_by_worker(stack: ComposeStack, app_id: str) -> dict[str, int]:
    """How many executors the application ran on each worker that still answers."""
    held = {}
    for url in stack.spark_worker_urls:
        try:
            worker = requests.get(f"{url}/json/", timeout=30).json()
        except requests.ConnectionError:
            continue  # a stopped worker container
        executors = [e for e in worker["executors"] + worker["finishedexecutors"] if e["appid"] == app_id]
        if executors:
            held[worker["id"]] = len(executors)
    return held


def epochs_logged(stack: ComposeStack, run_id: str) -> int:
    """Epochs train_distributed's rank 0 has logged to MLflow so far in the Airflow run."""
    try:
        experiment = stack.mlflow("GET", "/experiments/get-by-name", params={"experiment_name": "sensor_lstm_pipeline"})
    except StackError:
        return 0  # no stage has created the experiment yet
    found = stack.mlflow(
        "POST",
        "/runs/search",
        json={
            "experiment_ids": [experiment["experiment"]["experiment_id"]],
            "filter": f"tags.airflow_run_id = '{run_id}' and tags.task = 'train_distributed'",
        },
    ).get("runs", [])
    return sum(
        int(metric["step"]) + 1
        for run in found
        for metric in run["data"].get("metrics", [])
        if metric["key"] == "val_loss"
    )


def wait_for_history(stack: ComposeStack, app_id: str, timeout: float = 120) -> dict:
    """The history server's record of a finished application, once it has read its event log."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return stack.spark_history(f"/applications/{app_id}")
        except StackError:
            if time.monotonic() > deadline:
                raise
            time.sleep(5)


def run_day_versions(stack: ComposeStack, day: str) -> list[dict]:
    return [
        version
        for version in stack.model_versions()
        if {tag["key"]: tag["value"] for tag in version["tags"]}.get("run_day") == day
    ]


@pytest.mark.timeout(COLD_START_TIMEOUT_S)  # it pays for the fixture: the engine, the image, `up`
def test_up_brings_every_service_up_healthy_on_loopback_ports(stack):
    states = stack.services_state()
    assert sorted(states) == SERVICES
    assert states.pop("airflow-init")[0] == "exited"
    assert states.pop("check-secrets")[0] == "exited"
    assert states == {name: ("running", "healthy") for name in states}
    assert listening_addresses(PORTS.values()) == {port: {"127.0.0.1"} for port in PORTS.values()}
    master = stack.spark_master()
    assert master["status"] == "ALIVE"
    assert sorted((worker["host"], worker["cores"], worker["state"]) for worker in master["workers"]) == [
        ("spark-worker-1", 2, "ALIVE"),
        ("spark-worker-2", 2, "ALIVE"),
    ]
    size = int(
        subprocess.run(
            ["docker", "image", "inspect", "--format", "{{.Size}}", "sensor-lstm:compose-test"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    stack.timings["image_size_gb"] = round(size / 1e9, 2)


def test_check_secrets_refuses_the_example_secrets_naming_them(stack):
    """What `docker compose up` with .env.example's secrets meets first: check-secrets exits 1 (the
    other services wait for it to succeed), in one line naming every secret left as it was."""
    secrets = stack_settings().SECRETS
    example_env = stack.root / "example-secrets.env"
    example_env.write_text(
        env_file_text(
            {key: value for key, value in stack.test_settings.items() if key not in secrets}, fresh_secrets=False
        )
    )
    refused = stack.compose("run", "--rm", "--no-deps", "check-secrets", env_file=example_env, check=False, timeout=300)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    printed = refused.stdout + refused.stderr
    assert f"refusing to start: example secrets from .env.example in use: {', '.join(secrets)};" in printed
    # The stack itself runs on fresh ones: its check passed.
    assert stack.services_state()["check-secrets"][0] == "exited"


def test_mlflow_registry_write_needs_a_login(stack):
    assert requests.get(f"{stack.mlflow_url}/health", timeout=30).status_code == 200  # the healthcheck's, open
    assert stack.mlflow_registry_write_status("auth-probe", auth=None) == 401
    assert stack.mlflow_registry_write_status("auth-probe", auth=("admin", "not-the-password")) == 401
    assert stack.mlflow_registry_write_status("auth-probe", auth=stack.mlflow_auth) == 200
    stack.mlflow("DELETE", "/registered-models/delete", json={"name": "auth-probe"})


@pytest.mark.timeout(3600)
def test_a_worker_lost_during_train_distributed_fails_the_attempt_and_the_retry_finishes(stack):
    generated = stack.exec("airflow-scheduler", *GENERATE_SAMPLE)
    assert f"wrote {len(SAMPLE_DAYS)} files" in generated
    assert stack.wait_for_dag()["is_paused"] is True  # new DAGs start paused; a user unpauses it
    stack.api("PATCH", f"/dags/{DAG_ID}", json={"is_paused": False})

    # The day before the one the next test runs, as on a deployment's first day: its own readings only.
    started = time.monotonic()
    # A one-minute training budget: the worker goes mid-training either way, and the retry, which
    # trains again from the start, ends at the budget instead of at convergence (3 minutes here).
    run_id = stack.trigger({"day": FAULT_DAY, "lookback_days": 1, "training_budget_minutes": 1, "num_proc": 2})
    # Until both ranks run, one in each worker container, and the first epoch is logged.
    deadline = time.monotonic() + 1800
    while True:
        running = [app for app in stack.spark_master()["activeapps"] if app["name"] == "train_distributed"]
        if running and len(executors_by_worker(stack, running[0]["id"])) == 2 and epochs_logged(stack, run_id):
            break
        if time.monotonic() > deadline or stack.api("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}")["state"] not in (
            "queued",
            "running",
        ):
            raise StackError(f"train_distributed never trained on both workers:\n{stack.task_logs(run_id)}")
        time.sleep(2)
    first_app = running[0]["id"]
    stack.compose("stop", "spark-worker-2")
    stopped = time.time()

    finished = stack.wait_for_run(run_id, timeout=3000)
    timed(stack, "fault_run_s", started, run_id)
    tries = stack.api("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/train_distributed/tries")["task_instances"]
    assert [(ti["try_number"], ti["state"]) for ti in tries] == [(1, "failed"), (2, "success")]
    failed_after = datetime.fromisoformat(tries[0]["end_date"]).timestamp() - stopped
    stack.timings["lost_worker_to_failed_attempt_s"] = round(failed_after, 1)
    assert failed_after < 300, (
        f"the attempt took {failed_after:.0f} s to fail:\n{stack.task_log(run_id, 'train_distributed', 1)[-4000:]}"
    )
    assert finished["state"] == "success"

    # The retry ran both ranks on the worker that was left.
    retry_app = spark_apps(stack)["train_distributed"][-1]["id"]
    assert retry_app != first_app
    remaining = next(w["id"] for w in stack.spark_master()["workers"] if w["host"] == "spark-worker-1")
    assert list(executors_by_worker(stack, retry_app)) == [remaining]
    ranks = stack.lake_json(f"reports/train_distributed/date={FAULT_DAY}/report.json")["ranks"]
    assert [rank["hostname"] for rank in ranks] == ["spark-worker-1", "spark-worker-1"]
    # One model version for the day, its readings without duplicates. Its lake holds no day before
    # it: the seasonal naive forecast of one day is left out of the table, saying why.
    assert len(run_day_versions(stack, FAULT_DAY)) == 1
    evaluation = stack.lake_json(f"reports/evaluate/date={FAULT_DAY}/report.json")
    assert evaluation["unscored_seasonal_periods"] == [1440]
    assert "seasonal_naive_1440 is not scored" in evaluation["comparison_table"]
    unique = stack.lake_python(UNIQUE_READINGS.replace("sys.argv[1]", repr(FAULT_DAY)))
    assert unique[0] == unique[1] > 0

    stack.compose("start", "spark-worker-2")
    stack.compose("up", "--detach", "--wait", timeout=600)


@pytest.mark.timeout(3600)
def test_run_at_default_params_through_the_rest_api(stack):
    manifest = stack.lake_json("landing/_generation-manifest.json")
    started, triggered_ms = time.monotonic(), time.time() * 1000
    run_id = stack.trigger({"day": DEFAULTS_DAY})  # every other Param at its default
    finished = stack.wait_for_run(run_id, timeout=3000)
    timed(stack, "default_params_run_s", started, run_id)
    assert finished["conf"] == {"day": DEFAULTS_DAY}

    # The lake: the day's counts as the generator wrote them.
    expected = manifest["files"][f"sensor_readings_{DEFAULTS_DAY}.csv"]
    counts = stack.lake_json(f"reports/ingest/date={DEFAULTS_DAY}/report.json")
    assert (counts["rows_read"], counts["rows_written"]) == (expected["lines"], expected["valid_unique"])
    assert {reason: n for reason, n in counts["quarantined_by_reason"].items() if n} == expected["quarantined"]
    assert (
        stack.lake_python(UNIQUE_READINGS.replace("sys.argv[1]", repr(DEFAULTS_DAY))) == [expected["valid_unique"]] * 2
    )
    prep = stack.lake_json(f"reports/prepare_sequences/date={DEFAULTS_DAY}/report.json")
    assert prep["lookback_days"] == SAMPLE_DAYS
    assert min(prep["windows"].values()) > 0

    # Spark: every task an application on the standalone master; train_baseline, capped, left
    # train_distributed the two cores of num_proc auto, which ran one rank on the sample's windows
    # (the fault run above ran two, one in each worker).
    apps = {name: runs[-1] for name, runs in spark_apps(stack).items()}  # this run's: the newest
    assert set(apps) == STAGE_APPS
    assert all(app["starttime"] >= triggered_ms for app in apps.values()), apps
    assert (apps["train_baseline"]["cores"], apps["train_distributed"]["cores"]) == (2, 2)  # spark.cores.max
    distributed = stack.lake_json(f"reports/train_distributed/date={DEFAULTS_DAY}/report.json")
    assert [rank["rank"] for rank in distributed["ranks"]] == [0]
    # A standalone executor's cores are unknown to the driver: the one rank keeps threads_per_rank.
    assert distributed["ranks_reason"].endswith(
        ": 1 rank(s) x 1 thread(s) of the 2 reserved cores (an executor's cores unknown: spark.executor.cores)"
    ), distributed["ranks_reason"]
    # Its Spark UI after the fact: the history server read its event log from the lake, and the
    # task log links the page at the published port.
    page = f"http://localhost:{PORTS['SPARK_HISTORY_UI_PORT']}/history/{apps['train_distributed']['id']}/jobs/"
    assert page in stack.task_log(run_id, "train_distributed", 1)
    assert wait_for_history(stack, apps["train_distributed"]["id"])["name"] == "train_distributed"
    assert requests.get(page, timeout=60).status_code == 200

    # MLflow through the server's REST API: Postgres behind it, artifacts served by it.
    experiment = stack.mlflow("GET", "/experiments/get-by-name", params={"experiment_name": "sensor_lstm_pipeline"})
    found = stack.mlflow(
        "POST",
        "/runs/search",
        json={
            "experiment_ids": [experiment["experiment"]["experiment_id"]],
            "filter": f"tags.airflow_run_id = '{run_id}'",
        },
    )["runs"]
    tags_of = {r["info"]["run_id"]: {t["key"]: t["value"] for t in r["data"]["tags"]} for r in found}
    # One run stands for the DAG run and every stage's run nests under it.
    [parent_id] = [run for run, tags in tags_of.items() if tags.get("run_kind") == "dag_run"]
    by_task = {tags["task"]: r for r in found if "task" in (tags := tags_of[r["info"]["run_id"]])}
    assert set(by_task) == {"train_baseline", "train_distributed", "fit_statistical", "evaluate"}
    assert all(tags_of[r["info"]["run_id"]]["mlflow.parentRunId"] == parent_id for r in by_task.values())
    trained = by_task["train_distributed"]
    assert trained["info"]["run_id"] == distributed["mlflow_run_id"]
    assert trained["info"]["artifact_uri"].startswith("mlflow-artifacts:/")
    artifacts = stack.mlflow("GET", "/artifacts/list", params={"run_id": trained["info"]["run_id"]})
    assert "forecast_vs_actual.png" in {item["path"] for item in artifacts["files"]}
    plot = stack.mlflow_artifact(trained["info"]["run_id"], "forecast_vs_actual.png")
    assert plot[:8] == b"\x89PNG\r\n\x1a\n"
    evaluation = stack.lake_json(f"reports/evaluate/date={DEFAULTS_DAY}/report.json")
    # The day before is in the lake: the seasonal naive forecast of one day is scored too.
    assert {row["model"] for row in evaluation["comparison"]} >= {"persistence", "seasonal_naive_1440", "training_mean"}
    assert evaluation["unscored_seasonal_periods"] == []
    champion = stack.mlflow("GET", "/registered-models/alias", params={"name": "sensor_lstm", "alias": "champion"})
    assert int(champion["model_version"]["version"]) == evaluation["champion_version"], evaluation["champion_decision"]
    version = stack.mlflow(
        "GET", "/model-versions/get", params={"name": "sensor_lstm", "version": distributed["model_version"]}
    )
    tags = {tag["key"]: tag["value"] for tag in version["model_version"]["tags"]}
    assert tags["run_day"] == DEFAULTS_DAY and tags["champion_decision"] == evaluation["champion_decision"]
    printed = stack.task_log(run_id, "evaluate", 1)
    assert f"Test scores for {DEFAULTS_DAY}:" in printed
    assert all(f"\n{row['model']} " in printed for row in evaluation["comparison"]), printed[-3000:]
    # The champion forecast every sensor of the sample (or said why not), 12 steps each.
    forecast = stack.lake_json(f"reports/forecast/date={DEFAULTS_DAY}/report.json")
    not_forecast = sum(len(sensors) for sensors in forecast["sensors_not_forecast"].values())
    assert (forecast["status"], forecast["model_version"]) == ("forecast", evaluation["champion_version"])
    assert forecast["sensors_forecast"] > 0 and forecast["sensors_forecast"] + not_forecast == prep["sensors"]
    assert forecast["forecasts"] == 12 * forecast["sensors_forecast"]
    assert f"forecast {DEFAULTS_DAY}: {forecast['sensors_forecast']} sensors x 12 steps" in stack.task_log(
        run_id, "forecast", 1
    )
    stack.default_run_id = run_id


def test_airflow_mlflow_and_spark_uis_in_headless_chromium(stack):
    shots = stack.root / "screenshots"
    with browser.chromium() as driver:
        driver.get(f"{stack.airflow_url}/")
        browser.wait_for_element(driver, "name", "username").send_keys(stack.user)
        driver.find_element("name", "password").send_keys(stack.password + "\n")
        browser.wait_for_url(driver, lambda url: "/auth/login" not in url)
        driver.get(f"{stack.airflow_url}/dags/{DAG_ID}/runs")
        browser.wait_for_text(driver, stack.default_run_id)
        browser.wait_for_text(driver, "success", ignore_case=True)
        airflow_shot = browser.screenshot(driver, shots, "airflow-dag-runs")

        browser.send_basic_auth(driver, *stack.mlflow_auth)
        driver.get(f"{stack.mlflow_url}/#/models/sensor_lstm")
        browser.wait_for_text(driver, "@ champion", ignore_case=True)
        mlflow_shot = browser.screenshot(driver, shots, "mlflow-registered-model")

        driver.get(f"{stack.spark_master_url}/")
        browser.wait_for_text(driver, "Completed Applications")
        browser.wait_for_text(driver, "train_distributed")
        spark_shot = browser.screenshot(driver, shots, "spark-master")

        driver.get(f"{stack.spark_history_url}/")
        browser.wait_for_text(driver, "train_distributed")
        history_shot = browser.screenshot(driver, shots, "spark-history")
    for shot in (airflow_shot, mlflow_shot, spark_shot, history_shot):
        assert shot.stat().st_size > 10_000, shot


@pytest.mark.timeout(1800)
def test_down_then_up_keeps_the_lake_mlflow_and_airflow_history(stack):
    runs = [(run["dag_run_id"], run["state"]) for run in stack.dag_runs()]
    versions = [(version["version"], version["run_id"]) for version in stack.model_versions()]
    lake = stack.lake_python(LAKE_CONTENT)
    assert len(runs) == 2 and len(versions) == 2 and lake

    stack.compose("down")
    assert stack.project_objects()["containers"] == []
    started = time.monotonic()
    stack.compose("up", "--detach", "--wait", timeout=900)
    timed(stack, "restart_to_healthy_s", started)

    stack.wait_for_dag()
    assert [(run["dag_run_id"], run["state"]) for run in stack.dag_runs()] == runs
    assert [(version["version"], version["run_id"]) for version in stack.model_versions()] == versions
    champion = stack.mlflow("GET", "/registered-models/alias", params={"name": "sensor_lstm", "alias": "champion"})
    assert champion["model_version"]["version"] in {version for version, _ in versions}
    assert stack.lake_python(LAKE_CONTENT) == lake


def test_down_with_volumes_leaves_no_container_network_or_volume(stack):
    assert stack.project_objects()["volumes"]  # the state the last test kept
    stack.compose("down", "--volumes")
    assert stack.project_objects() == {"containers": [], "networks": [], "volumes": []}
