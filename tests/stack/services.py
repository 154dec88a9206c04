"""The stack's services through their REST APIs, the way the UIs and a user's scripts reach them:
Airflow's API (token, runs, task logs, backfills), MLflow's tracking server and the Spark
standalone master's and workers' JSON pages. Shared by the local stack and the compose stack."""

from __future__ import annotations

import time
from pathlib import Path

import requests

DAG_ID = "sensor_lstm_pipeline"


class StackError(AssertionError):
    pass


def log_line(item: dict) -> str:
    """A structured task-log entry as the UI shows it: the event, then an exception's type and message."""
    errors = [f"{error['exc_type']}: {error['exc_value']}" for error in item.get("error_detail") or []]
    return "\n".join([str(item.get("event", "")), *errors])


class Services:
    def __init__(
        self,
        *,
        airflow_url: str,
        mlflow_url: str,
        spark_master_url: str,
        spark_worker_urls: list[str],
        spark_history_url: str,
        user: str,
        password: str,
        mlflow_auth: tuple[str, str] | None = None,
    ) -> None:
        self.airflow_url = airflow_url
        self.mlflow_url = mlflow_url
        self.spark_master_url = spark_master_url
        self.spark_worker_urls = spark_worker_urls
        self.spark_history_url = spark_history_url
        self.user = user
        self.password = password
        self.mlflow_auth = mlflow_auth  # the tracking server's login (MLflow's basic-auth app)
        self.log_dir: Path | None = None
        self._token: str | None = None

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
        if answer.status_code == 401 and self._token is not None:
            self._token = None  # expired, or signed before the api-server restarted
            return self.api(method, path, **kwargs)
        if not answer.ok:
            raise StackError(f"{method} {path}: {answer.status_code} {answer.text[:2000]}")
        return answer.json()

    def wait_for_dag(self, timeout: float = 300) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.api("GET", f"/dags/{DAG_ID}")
            except (StackError, requests.RequestException):
                if time.monotonic() > deadline:
                    raise
                time.sleep(3)

    def trigger(self, conf: dict) -> str:
        """What the trigger form sends: the Params as conf, no logical date. The new run's id."""
        return self.api("POST", f"/dags/{DAG_ID}/dagRuns", json={"logical_date": None, "conf": conf})["dag_run_id"]

    def task_instance(self, run_id: str, task_id: str) -> dict:
        return self.api("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{task_id}")

    def task_instances(self, run_id: str) -> list[dict]:
        return self.api("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances")["task_instances"]

    def task_seconds(self, run_id: str) -> dict[str, float]:
        """Each task's time in the run, its last try's, in seconds: where a slow run spent it."""
        return {task["task_id"]: round(task["duration"] or 0, 1) for task in self.task_instances(run_id)}

    def task_log(self, run_id: str, task_id: str, try_number: int) -> str:
        """A try's log lines, as the UI shows them."""
        log = self.api("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}")
        return "\n".join(log_line(item) for item in log["content"])

    def task_logs(self, run_id: str) -> str:
        """Each task's state, and the end of the log of every one that did not succeed. With
        ``log_dir`` set, every try's whole log is also kept there, for the post-mortem."""
        lines = []
        for task in self.task_instances(run_id):
            lines.append(f"{task['task_id']}: {task['state']}")
            if self.log_dir is not None:
                for try_number in range(1, (task["try_number"] or 0) + 1):
                    path = self.log_dir / run_id.replace(":", "_") / f"{task['task_id']}.{try_number}.log"
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_text(self.task_log(run_id, task["task_id"], try_number))
            if task["state"] not in ("success", None) and task["try_number"]:
                lines.extend(self.task_log(run_id, task["task_id"], task["try_number"]).splitlines()[-40:])
        return "\n".join(lines)

    def wait_for_run(self, run_id: str, timeout: float = 1200, may_fail: bool = False) -> dict:
        """The run once finished; one that failed raises, with its tasks' logs, unless ``may_fail``."""
        deadline = time.monotonic() + timeout
        while True:
            run = self.api("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}")
            if run["state"] in ("success", "failed"):
                if run["state"] == "failed" and not may_fail:
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

    def dag_runs(self) -> list[dict]:
        runs = self.api("GET", f"/dags/{DAG_ID}/dagRuns", params={"limit": 100})["dag_runs"]
        return sorted(runs, key=lambda run: run["run_after"])

    # --- MLflow's REST API ------------------------------------------------------------------------

    def mlflow(self, method: str, path: str, **kwargs) -> dict:
        answer = requests.request(
            method, f"{self.mlflow_url}/api/2.0/mlflow{path}", auth=self.mlflow_auth, timeout=60, **kwargs
        )
        if not answer.ok:
            raise StackError(f"MLflow {method} {path}: {answer.status_code} {answer.text[:2000]}")
        return answer.json()

    def mlflow_artifact(self, run_id: str, path: str) -> bytes:
        """An artifact's bytes, downloaded from the server as the UI does."""
        answer = requests.get(
            f"{self.mlflow_url}/get-artifact",
            params={"path": path, "run_uuid": run_id},
            auth=self.mlflow_auth,
            timeout=60,
        )
        if not answer.ok:
            raise StackError(f"MLflow artifact {path} of run {run_id}: {answer.status_code} {answer.text[:500]}")
        return answer.content

    def mlflow_registry_write_status(self, name: str, auth: tuple[str, str] | None) -> int:
        """The status of a registry write (creating the registered model ``name``) sent with ``auth``."""
        answer = requests.post(
            f"{self.mlflow_url}/api/2.0/mlflow/registered-models/create", json={"name": name}, auth=auth, timeout=60
        )
        return answer.status_code

    def model_versions(self) -> list[dict]:
        found = self.mlflow("GET", "/model-versions/search", params={"filter": "name='sensor_lstm'"})
        return sorted(found["model_versions"], key=lambda version: int(version["version"]))

    # --- Spark's standalone master and workers -------------------------------------------------

    def spark_master(self) -> dict:
        return requests.get(f"{self.spark_master_url}/json/", timeout=30).json()

    def spark_workers(self) -> list[dict]:
        return [requests.get(f"{url}/json/", timeout=30).json() for url in self.spark_worker_urls]

    def spark_history(self, path: str) -> list | dict:
        """The history server's REST API (``/api/v1/...``), as its UI reads it."""
        answer = requests.get(f"{self.spark_history_url}/api/v1{path}", timeout=30)
        if not answer.ok:
            raise StackError(f"Spark history {path}: {answer.status_code} {answer.text[:500]}")
        return answer.json()


def listening_addresses(ports) -> dict[int, set[str]]:
    """For each port, the local addresses a socket on this machine listens on it at (an IPv6
    socket bound to an IPv4 address, as Java's are, counts as that IPv4 address)."""
    import ipaddress

    import psutil

    found: dict[int, set[str]] = {port: set() for port in ports}
    for connection in psutil.net_connections(kind="tcp"):
        if connection.status == psutil.CONN_LISTEN and connection.laddr.port in found:
            address = ipaddress.ip_address(connection.laddr.ip)
            mapped = getattr(address, "ipv4_mapped", None)
            found[connection.laddr.port].add(str(mapped or address))
    return found
