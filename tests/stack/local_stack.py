"""A client for the local stack (scripts/stack.sh): start and stop it, and talk to its services
through their REST APIs the way the UIs do."""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
STACK_SCRIPT = ROOT / "scripts" / "stack.sh"
DAG_ID = "sensor_lstm_pipeline"

# Apart from the defaults, so the tests never meet a stack a developer has up (`make up`).
PORTS = {
    "AIRFLOW_UI_PORT": 18080,
    "MLFLOW_PORT": 15000,
    "SPARK_MASTER_PORT": 17077,
    "SPARK_MASTER_UI_PORT": 18081,
    "SPARK_WORKER_1_UI_PORT": 18082,
    "SPARK_WORKER_2_UI_PORT": 18083,
    "AIRFLOW_SCHEDULER_HEALTH_PORT": 18974,
}


class StackError(AssertionError):
    pass


@dataclass
class Stack:
    env: dict[str, str]
    root: Path
    user: str
    password: str
    manifest: dict = field(default_factory=dict)  # what the sample generator wrote
    # Filled in as the scenario goes: what later steps look for.
    up_output: str = ""
    manual_run_id: str = ""
    experiment_id: str = ""
    _token: str | None = field(default=None, repr=False)

    @property
    def lake(self) -> Path:
        return Path(self.env["SENSOR_LSTM_LAKE"])

    @property
    def state_dir(self) -> Path:
        return Path(self.env["SENSOR_LSTM_VAR"]) / "stack"

    @staticmethod
    def url(port_name: str) -> str:
        return f"http://127.0.0.1:{PORTS[port_name]}"

    @property
    def airflow_url(self) -> str:
        return self.url("AIRFLOW_UI_PORT")

    @property
    def mlflow_url(self) -> str:
        return self.url("MLFLOW_PORT")

    def script(self, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["bash", str(STACK_SCRIPT), *args], env=self.env, capture_output=True, text=True, timeout=timeout
        )

    def airflow(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        """The Airflow CLI in the stack's environment, as `scripts/stack.sh exec airflow ...`."""
        return self.script("exec", "airflow", *args, timeout=timeout)

    def log(self, service: str, lines: int = 40) -> str:
        path = self.state_dir / "logs" / f"{service}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    # --- Airflow's REST API (what the UI calls) -------------------------------------------------

    def token(self) -> str:
        if self._token is None:
            answer = requests.post(
                f"{self.airflow_url}/auth/token", json={"username": self.user, "password": self.password}, timeout=30
            )
            answer.raise_for_status()
            self._token = answer.json()["access_token"]
        return self._token

    def api(self, method: str, path: str, **kwargs) -> dict:
        answer = requests.request(
            method,
            f"{self.airflow_url}/api/v2{path}",
            headers={"Authorization": f"Bearer {self.token()}"},
            timeout=60,
            **kwargs,
        )
        if not answer.ok:
            raise StackError(f"{method} {path}: {answer.status_code} {answer.text[:2000]}")
        return answer.json()

    def wait_for_dag(self, timeout: float = 300) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.api("GET", f"/dags/{DAG_ID}")
            except StackError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(3)

    def task_logs(self, run_id: str) -> str:
        """Each task's state, and the log of every one that did not succeed."""
        lines = []
        for task in self.api("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances")["task_instances"]:
            lines.append(f"{task['task_id']}: {task['state']}")
            if task["state"] not in ("success", None) and task["try_number"]:
                log = self.api(
                    "GET", f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{task['task_id']}/logs/{task['try_number']}"
                )
                events = [f"{item.get('level', '')} {item.get('event', '')}" for item in log["content"]]
                lines.extend(events[-40:])
        return "\n".join(lines)

    def wait_for_run(self, run_id: str, timeout: float = 1200) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            run = self.api("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}")
            if run["state"] in ("success", "failed"):
                if run["state"] == "failed":
                    raise StackError(f"run {run_id} failed:\n{self.task_logs(run_id)}")
                return run
            if time.monotonic() > deadline:
                raise StackError(f"run {run_id} still {run['state']} after {timeout} s:\n{self.task_logs(run_id)}")
            time.sleep(5)

    def wait_for_backfill(self, backfill_id: int, timeout: float = 120) -> dict:
        """Until the scheduler marks the backfill complete (a DAG has one active backfill at most)."""
        deadline = time.monotonic() + timeout
        while (backfill := self.api("GET", f"/backfills/{backfill_id}"))["completed_at"] is None:
            if time.monotonic() > deadline:
                raise StackError(f"backfill {backfill_id} not complete after {timeout} s: {backfill}")
            time.sleep(3)
        return backfill

    # --- MLflow's REST API ------------------------------------------------------------------------

    def mlflow(self, method: str, path: str, **kwargs) -> dict:
        answer = requests.request(method, f"{self.mlflow_url}/api/2.0/mlflow{path}", timeout=60, **kwargs)
        if not answer.ok:
            raise StackError(f"MLflow {method} {path}: {answer.status_code} {answer.text[:2000]}")
        return answer.json()

    # --- Spark's standalone master and workers -------------------------------------------------

    def spark_master(self) -> dict:
        return requests.get(f"{self.url('SPARK_MASTER_UI_PORT')}/json/", timeout=30).json()

    def spark_workers(self) -> list[dict]:
        return [
            requests.get(f"{self.url(name)}/json/", timeout=30).json()
            for name in ("SPARK_WORKER_1_UI_PORT", "SPARK_WORKER_2_UI_PORT")
        ]
