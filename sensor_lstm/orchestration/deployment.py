"""The deployment's settings, read from environment variables where the DAG is parsed, each with a
local default: where the project and the lake are, how the DAG schedules and retries, the Spark
cluster's size and history server, the failure mail. The run settings that come from the
deployment (the lake, the MLflow names, Horovod's interfaces) are the settings table's.

Stdlib only: the DAG imports it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sensor_lstm.lake import Lake, datasets, local_root
from sensor_lstm.settings import BY_NAME, SETTINGS, Setting, Source

PROJECT_ROOT = str(Path(__file__).resolve().parents[2])


@dataclass(frozen=True)
class Variable:
    name: str
    default: str | None  # None: computed from the others, as ``computed`` says
    help: str
    computed: str = ""


VARIABLES = (
    Variable(
        "SENSOR_LSTM_HOME",
        None,
        "The project folder, at the same path on the Airflow workers and every Spark node: the jobs run from "
        "it and it is the drivers' and executors' PYTHONPATH.",
        computed="the checkout the DAG file is in",
    ),
    Variable("SENSOR_LSTM_START_DATE", "2026-11-01", "The DAG's start date: the first day catchup runs for."),
    Variable("SENSOR_LSTM_CATCHUP", "true", "Whether unpausing the DAG schedules a run for every day since the start."),
    Variable("SENSOR_LSTM_MAX_ACTIVE_RUNS", "4", "Runs of the DAG at once: days side by side."),
    Variable("SENSOR_LSTM_TASK_RETRIES", "2", "Retries of each task."),
    Variable("SENSOR_LSTM_TASK_RETRY_DELAY_SECONDS", "120", "The first delay before a retry; it doubles with each."),
    Variable(
        "SENSOR_LSTM_SPARK_CORES",
        "0",
        "The Spark cluster's cores for these applications, and the slots of the Airflow pool spark_cores; "
        "0: unknown (local[*]), no pool.",
    ),
    Variable(
        "SENSOR_LSTM_SPARK_JOB_CORES",
        "2",
        "Cores (and pool slots) of ingest, prepare_sequences, evaluate and forecast on a cluster of known size.",
    ),
    Variable(
        "SENSOR_LSTM_SPARK_EVENT_LOG_DIR",
        None,
        "Every job's Spark event log, which the history server reads; empty: none.",
        computed="file://<lake>/_spark_events",
    ),
    Variable(
        "SENSOR_LSTM_SPARK_HISTORY_URL",
        "",
        "The Spark history server's address, for the link to its Spark UI that each task log prints.",
    ),
    Variable("SENSOR_LSTM_SPARK_LOG_LEVEL", "WARN", "Spark's log level in the task logs."),
    Variable(
        "SENSOR_LSTM_SPARK_DRIVER_JAVA_OPTIONS",
        "",
        "Every job's driver JVM options (spark.driver.extraJavaOptions; in local mode the driver runs the "
        "tasks too); empty: the JVM's own. `make demo` sets -XX:+UseSerialGC -XX:TieredStopAtLevel=1, which "
        "suits short jobs on small data only (benchmarks/README.md, the demo's time).",
    ),
    Variable(
        "SENSOR_LSTM_ALERT_EMAILS",
        "",
        "Comma-separated recipients of a mail when a task fails for good (after its retries), sent through "
        "the connection smtp_default; empty: no mail.",
    ),
    Variable("SENSOR_LSTM_ALERT_FROM", "sensor-lstm@localhost", "The alert mails' sender."),
)
DEFAULTS = {variable.name: variable.default for variable in VARIABLES}


def deployment_settings() -> list[Setting]:
    """The run settings whose value the DAG reads from the environment (sources DEPLOYMENT)."""
    return [setting for setting in SETTINGS if setting.source is Source.DEPLOYMENT]


@dataclass(frozen=True)
class Deployment:
    project_dir: str
    lake: Lake
    start_date: date
    catchup: bool
    max_active_runs: int
    task_retries: int
    retry_delay_seconds: int
    spark_cores: int  # 0: unknown
    data_job_cores: int
    event_log_dir: str  # empty: no event logs
    history_url: str
    spark_log_level: str
    driver_java_options: str  # empty: the JVM's own
    alert_emails: list[str]
    alert_from: str
    job_settings: dict[str, str]  # the deployment's run settings, by setting name, as the jobs take them

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] = os.environ) -> Deployment:
        """The deployment the environment describes; a lake that is not a folder fails with the reason."""

        def value(name: str) -> str:
            return environ.get(name, DEFAULTS[name])

        project_dir = environ.get("SENSOR_LSTM_HOME") or PROJECT_ROOT
        lake_setting = BY_NAME["lake"]
        lake = Lake(local_root(environ.get(lake_setting.env) or f"{project_dir}/var/lake"))
        job_settings = {
            setting.name: environ.get(setting.env, setting.cli_text(setting.default))
            for setting in deployment_settings()
            if setting is not lake_setting
        }
        return cls(
            project_dir=project_dir,
            lake=lake,
            start_date=date.fromisoformat(value("SENSOR_LSTM_START_DATE") or DEFAULTS["SENSOR_LSTM_START_DATE"]),
            catchup=value("SENSOR_LSTM_CATCHUP").lower() == "true",
            max_active_runs=int(value("SENSOR_LSTM_MAX_ACTIVE_RUNS")),
            task_retries=int(value("SENSOR_LSTM_TASK_RETRIES")),
            retry_delay_seconds=int(value("SENSOR_LSTM_TASK_RETRY_DELAY_SECONDS")),
            spark_cores=int(value("SENSOR_LSTM_SPARK_CORES")),
            data_job_cores=int(value("SENSOR_LSTM_SPARK_JOB_CORES")),
            event_log_dir=environ.get(
                "SENSOR_LSTM_SPARK_EVENT_LOG_DIR", f"file://{lake.dataset(datasets.SPARK_EVENTS)}"
            ),
            history_url=value("SENSOR_LSTM_SPARK_HISTORY_URL"),
            spark_log_level=value("SENSOR_LSTM_SPARK_LOG_LEVEL"),
            driver_java_options=value("SENSOR_LSTM_SPARK_DRIVER_JAVA_OPTIONS").strip(),
            alert_emails=[
                address.strip() for address in value("SENSOR_LSTM_ALERT_EMAILS").split(",") if address.strip()
            ],
            alert_from=value("SENSOR_LSTM_ALERT_FROM"),
            job_settings={"lake": lake.root, **job_settings},
        )

    @property
    def lake_uri(self) -> str:
        return f"file://{self.lake.root}"
