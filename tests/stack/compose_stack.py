"""A client for the compose stack: a Docker engine that accepts docker-compose.yaml
(scripts/docker_engine.sh), the repository's compose file with an .env made from .env.example with
fresh secrets (docker/settings.py generate, as docs/stack.md has it), and the services through their
published ports (tests/stack/services.py)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
from pathlib import Path

from tests.stack.services import Services, StackError

ROOT = Path(__file__).resolve().parents[2]
ENGINE_SCRIPT = ROOT / "scripts" / "docker_engine.sh"
PROJECT = "sensor-lstm-test"
# Apart from the defaults and from the local stack's test ports.
PORTS = {
    "AIRFLOW_UI_PORT": 28080,
    "MLFLOW_PORT": 25000,
    "SPARK_MASTER_UI_PORT": 28081,
    "SPARK_WORKER_1_UI_PORT": 28082,
    "SPARK_WORKER_2_UI_PORT": 28083,
    "SPARK_HISTORY_UI_PORT": 28084,
}
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def url(port_name: str) -> str:
    return f"http://127.0.0.1:{PORTS[port_name]}"


def engine(*args: str, timeout: float = 900) -> str:
    """scripts/docker_engine.sh; its standard output."""
    done = subprocess.run(["bash", str(ENGINE_SCRIPT), *args], capture_output=True, text=True, timeout=timeout)
    if done.returncode:
        raise StackError(f"scripts/docker_engine.sh {' '.join(args)} failed:\n{done.stderr[-4000:]}")
    return done.stdout


def stack_settings():
    """docker/settings.py as a module (docker/ is no package, and `docker` names Docker's SDK)."""
    spec = importlib.util.spec_from_file_location("stack_settings", ROOT / "docker" / "settings.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def env_file_text(settings: dict[str, str], *, fresh_secrets: bool = True) -> str:
    """.env.example, with fresh secrets unless told otherwise, and ``settings`` appended: a later
    line wins in Compose's .env."""
    example = (ROOT / ".env.example").read_text()
    if fresh_secrets:
        example = stack_settings().generate(example)
    lines = [example.rstrip("\n"), "", "# The compose test's own settings"]
    return "\n".join([*lines, *(f"{key}={value}" for key, value in settings.items())]) + "\n"


def base_image_settings(timeout: float = 900) -> dict[str, str]:
    """The base images: those the environment names, else local stand-ins for the official ones
    (a machine that reaches no image registry), built within ``timeout`` seconds."""
    named = {
        key: os.environ[key] for key in ("SENSOR_LSTM_PYTHON_IMAGE", "SENSOR_LSTM_POSTGRES_IMAGE") if key in os.environ
    }
    if len(named) == 2:
        return named
    return dict(line.split("=", 1) for line in engine("standin-bases", timeout=timeout).split())


class ComposeStack(Services):
    def __init__(self, *, root: Path, settings: dict[str, str]) -> None:
        self.root = root
        self.env_file = root / ".env"
        self.env_file.write_text(env_file_text(settings))
        self.env_file.chmod(0o600)
        self.settings = stack_settings().read(self.env_file)
        super().__init__(
            airflow_url=url("AIRFLOW_UI_PORT"),
            mlflow_url=url("MLFLOW_PORT"),
            spark_master_url=url("SPARK_MASTER_UI_PORT"),
            spark_worker_urls=[url("SPARK_WORKER_1_UI_PORT"), url("SPARK_WORKER_2_UI_PORT")],
            spark_history_url=url("SPARK_HISTORY_UI_PORT"),
            user=settings["AIRFLOW_ADMIN_USER"],
            password=settings["AIRFLOW_ADMIN_PASSWORD"],
            mlflow_auth=(self.settings["MLFLOW_ADMIN_USER"], self.settings["MLFLOW_ADMIN_PASSWORD"]),
        )
        self.timings: dict[str, float] = {}

    def compose(
        self, *args: str, timeout: float = 900, check: bool = True, env_file: Path | None = None
    ) -> subprocess.CompletedProcess:
        # Only what the engine's clients need from this process's environment: Compose lets the
        # environment override .env, and the test runner's own settings must not leak in.
        env = {
            key: value for key, value in os.environ.items() if key in ("PATH", "HOME", "DOCKER_HOST", "DOCKER_CONFIG")
        }
        command = [
            "docker",
            "compose",
            "--project-directory",
            str(ROOT),
            "--file",
            str(ROOT / "docker-compose.yaml"),
            "--env-file",
            str(env_file or self.env_file),
            "--project-name",
            PROJECT,
            *args,
        ]
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
        if check and done.returncode:
            raise StackError(f"docker compose {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-6000:]}")
        return done

    def exec(self, service: str, *command: str, timeout: float = 300) -> str:
        return self.compose("exec", "-T", service, *command, timeout=timeout).stdout

    def lake_json(self, path: str) -> dict:
        return json.loads(self.exec("airflow-scheduler", "cat", f"/data/lake/{path}"))

    def lake_python(self, code: str) -> object:
        """``code`` run by the image's Python on the scheduler, where the lake is mounted; it prints JSON."""
        return json.loads(self.exec("airflow-scheduler", "python", "-c", code))

    def services_state(self) -> dict[str, tuple[str, str]]:
        """Each service's container (state, health), airflow-init's included."""
        listing = self.compose("ps", "--all", "--format", "json").stdout
        rows = [json.loads(line) for line in listing.splitlines() if line.strip()]
        return {row["Service"]: (row["State"], row["Health"]) for row in rows}

    def project_objects(self) -> dict[str, list[str]]:
        """The project's containers, networks and volumes the engine still has."""
        label = f"label=com.docker.compose.project={PROJECT}"
        objects = {}
        for kind, listing in (
            ("containers", ["ps", "--all"]),
            ("networks", ["network", "ls"]),
            ("volumes", ["volume", "ls"]),
        ):
            done = subprocess.run(
                [
                    "docker",
                    *listing,
                    "--filter",
                    label,
                    "--format",
                    "{{.Names}}" if kind == "containers" else "{{.Name}}",
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            objects[kind] = sorted(done.stdout.split())
        return objects
