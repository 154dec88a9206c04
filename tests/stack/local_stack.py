"""A client for the local stack (scripts/stack.sh): start and stop it, and reach its services
through their REST APIs (tests/stack/services.py)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.stack.services import Services

ROOT = Path(__file__).resolve().parents[2]
STACK_SCRIPT = ROOT / "scripts" / "stack.sh"

# Apart from the defaults, so the tests never meet a stack a developer has up (`make up`).
PORTS = {
    "AIRFLOW_UI_PORT": 18080,
    "MLFLOW_PORT": 15000,
    "SPARK_MASTER_PORT": 17077,
    "SPARK_MASTER_UI_PORT": 18081,
    "SPARK_WORKER_1_UI_PORT": 18082,
    "SPARK_WORKER_2_UI_PORT": 18083,
    "SPARK_HISTORY_UI_PORT": 18084,
    "AIRFLOW_SCHEDULER_HEALTH_PORT": 18974,
}


def url(port_name: str) -> str:
    return f"http://127.0.0.1:{PORTS[port_name]}"


class Stack(Services):
    def __init__(
        self, *, env: dict[str, str], root: Path, user: str, password: str, mlflow_auth: tuple[str, str], manifest: dict
    ) -> None:
        super().__init__(
            airflow_url=url("AIRFLOW_UI_PORT"),
            mlflow_url=url("MLFLOW_PORT"),
            spark_master_url=url("SPARK_MASTER_UI_PORT"),
            spark_worker_urls=[url("SPARK_WORKER_1_UI_PORT"), url("SPARK_WORKER_2_UI_PORT")],
            spark_history_url=url("SPARK_HISTORY_UI_PORT"),
            user=user,
            password=password,
            mlflow_auth=mlflow_auth,
        )
        self.env = env
        self.root = root
        self.manifest = manifest  # what the sample generator wrote
        self.up_output = ""

    @property
    def lake(self) -> Path:
        return Path(self.env["SENSOR_LSTM_LAKE"])

    @property
    def env_file(self) -> Path:
        """The settings file the stack reads, which its first command writes (SENSOR_LSTM_ENV_FILE)."""
        return Path(self.env["SENSOR_LSTM_ENV_FILE"])

    @property
    def state_dir(self) -> Path:
        return Path(self.env["SENSOR_LSTM_VAR"]) / "stack"

    def script(self, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["bash", str(STACK_SCRIPT), *args], env=self.env, capture_output=True, text=True, timeout=timeout
        )

    def airflow(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        """The Airflow CLI in the stack's environment, as `scripts/stack.sh exec airflow ...`."""
        return self.script("exec", "airflow", *args, timeout=timeout)
