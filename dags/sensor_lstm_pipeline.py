"""
### sensor_lstm_pipeline

Turns a day of raw sensor readings into LSTM training windows, per-partition baseline models and
one distributed (Horovod) model, and keeps the best model under the registry alias `champion`.

What each task reads and writes, and the Spark job behind it: the task table in the project's
README.md, section "The pipeline".

Each run owns one UTC day, its **run day**: the day of its data interval (`@daily`: the day before
the run fires; a backfill run, the day it is for), or the `day` Param when a user sets it. It
replaces that day's partitions atomically, so retries, catchup and `airflow backfill create` never
duplicate or lose rows. Counts per run land in `reports/<task>/date=<day>/report.json`.

Trigger it by hand with the form's Params (the day, window length, horizon, sampling interval,
lookback, split fractions, seasons, model size, training settings, Horovod ranks and the
champion's quality gate). A manual run with neither a `day` nor a logical date processes the last
complete UTC day before it was triggered. The Spark master comes from the `spark_default` connection
(`AIRFLOW_CONN_SPARK_DEFAULT`); the lake root from `SENSOR_LSTM_LAKE`.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import jinja2
import pendulum
from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
from airflow.providers.smtp.notifications.smtp import SmtpNotifier
from airflow.providers.standard.sensors.filesystem import FileSensor
from airflow.sdk import DAG, Asset, Param, task
from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSensorTimeout
from airflow.timetables.interval import CronDataIntervalTimetable

from spark_jobs.job import EXIT_INPUT_ERROR
from spark_jobs.lake import SECONDS_PER_DAY, Lake, local_root
from spark_jobs.model_config import DEFAULT_MODEL, TRAINING_BUDGET_MINUTES
from spark_jobs.names import CHAMPION_ALIAS, EXPERIMENT, MODEL_NAME

DAG_ID = "sensor_lstm_pipeline"
PROJECT_DIR = os.environ.get("SENSOR_LSTM_HOME", str(Path(__file__).resolve().parents[1]))
# A folder path or file:// URI; another scheme fails the DAG's import with the reason (spark_jobs/lake.py).
DATA_LAKE = Lake(local_root(os.environ.get("SENSOR_LSTM_LAKE", f"{PROJECT_DIR}/var/lake")))
LAKE = DATA_LAKE.root
JOBS_DIR = f"{PROJECT_DIR}/spark_jobs"
START_DATE = pendulum.parse(os.environ.get("SENSOR_LSTM_START_DATE") or "2026-11-01", tz="UTC")
# Unpausing a catching-up DAG schedules a run for every day since START_DATE.
CATCHUP = os.environ.get("SENSOR_LSTM_CATCHUP", "true").lower() == "true"

LAKE_URI = f"file://{LAKE}"
# Every application's event log, read by the Spark history server, so a finished task's Spark UI
# can be opened after the fact; empty: no event logs. The history server's address, for the line
# each job prints in its task log, comes from SENSOR_LSTM_SPARK_HISTORY_URL.
SPARK_EVENT_LOG_DIR = os.environ.get("SENSOR_LSTM_SPARK_EVENT_LOG_DIR", f"{LAKE_URI}/_spark_events")
SPARK_HISTORY_URL = os.environ.get("SENSOR_LSTM_SPARK_HISTORY_URL", "")

# The jobs import the spark_jobs package: the driver and every executor need the project on
# their Python path (the same path on each machine, as in the image and the local stack).
SPARK_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.executorEnv.PYTHONPATH": PROJECT_DIR,
    "spark.log.level": os.environ.get("SENSOR_LSTM_SPARK_LOG_LEVEL", "WARN"),
    **({"spark.eventLog.enabled": "true", "spark.eventLog.dir": SPARK_EVENT_LOG_DIR} if SPARK_EVENT_LOG_DIR else {}),
    **({"spark.sensorLstm.historyUrl": SPARK_HISTORY_URL} if SPARK_HISTORY_URL else {}),
}
SPARK_ENV = {"PYTHONPATH": PROJECT_DIR}

RUN_DAY = "{{ run_day(params, data_interval_start, dag_run) }}"
# Runs of the DAG at once (a backfill's own --max-active-runs can only lower it).
MAX_ACTIVE_RUNS = int(os.environ.get("SENSOR_LSTM_MAX_ACTIVE_RUNS", "4"))
# Cores the Spark cluster offers (all workers together); 0 when unknown, as with a local[*] master.
SPARK_CLUSTER_CORES = int(os.environ.get("SENSOR_LSTM_SPARK_CORES", "0"))
# On a cluster of known size, this Airflow pool stands for its cores (both stacks create it at
# init, one slot per core), and each Spark task takes one slot per core its application may hold
# (spark.cores.max): runs beside each other queue in Airflow instead of waiting in Spark, where
# Horovod's ranks time out. The slots follow the run's Params (plugins/airflow_local_settings.py).
SPARK_CORES_POOL = "spark_cores"
# The cores of each data job (ingest, prepare_sequences, evaluate, forecast) on such a cluster.
DATA_JOB_CORES = (
    str(min(int(os.environ.get("SENSOR_LSTM_SPARK_JOB_CORES", "2")), SPARK_CLUSTER_CORES))
    if SPARK_CLUSTER_CORES > 0
    else None
)
RANK_CORES = "{{ params.num_proc * params.threads_per_rank }}"
# One core per partition of train_baseline, but never the ones train_distributed's ranks need
# beside it: on a standalone cluster the first application to register takes what it asks for,
# and Horovod's ranks must all start together or the attempt times out.
BASELINE_CORES = (
    f"{{{{ [1, [params.partitions, {SPARK_CLUSTER_CORES} - params.num_proc * params.threads_per_rank] | min] | max }}}}"
    if SPARK_CLUSTER_CORES > 0
    else "{{ params.partitions }}"
)
# The network interfaces Horovod's ranks and its driver talk over, comma-separated; empty: the ones
# they share. On a cluster, name the one that reaches across machines: when every rank lands on
# one worker, the shared ones include loopback, and the ranks then look for the driver's
# rendezvous server on their own host.
HOROVOD_NICS = os.environ.get("SENSOR_LSTM_HOROVOD_NICS", "")


def run_day(params: dict, data_interval_start: datetime | None, dag_run) -> str:
    """The UTC day (YYYY-MM-DD) a run processes; used in the task templates."""
    if params.get("day"):
        return date.fromisoformat(params["day"]).isoformat()
    if data_interval_start is not None:
        return data_interval_start.astimezone(UTC).date().isoformat()
    return (dag_run.run_after.astimezone(UTC) - timedelta(days=1)).date().isoformat()


LANDING_WAIT_MAX_MINUTES = 24 * 60


def param_problems(params: dict, today: date, cluster_cores: int = SPARK_CLUSTER_CORES) -> list[str]:
    """What is wrong with a run's Params taken together; the form checks each one alone."""
    problems = []
    if params.get("day") and date.fromisoformat(params["day"]) > today:
        problems.append(f"day {params['day']} is in the future (today is {today.isoformat()} UTC)")
    if params["train_fraction"] + params["validation_fraction"] >= 1:
        problems.append(
            f"train_fraction + validation_fraction must be below 1, leaving test windows; got "
            f"{params['train_fraction']} + {params['validation_fraction']}"
        )
    lookback_seconds = params["lookback_days"] * SECONDS_PER_DAY
    window_seconds = (params["seq_len"] + params["horizon"]) * params["sampling_interval_seconds"]
    if window_seconds >= lookback_seconds:
        problems.append(
            f"a window and its target (seq_len + horizon = {params['seq_len'] + params['horizon']} readings, "
            f"{window_seconds} s) do not fit in the lookback ({params['lookback_days']} days)"
        )
    for season in params.get("seasonal_periods") or []:
        if season * params["sampling_interval_seconds"] >= lookback_seconds:
            problems.append(f"seasonal period {season} readings is as long as the lookback or longer")
    if params["reading_min"] >= params["reading_max"]:
        problems.append(f"reading_min ({params['reading_min']}) must be below reading_max ({params['reading_max']})")
    rank_cores = params["num_proc"] * params["threads_per_rank"]
    if cluster_cores > 0 and rank_cores > cluster_cores:
        problems.append(
            f"train_distributed needs num_proc x threads_per_rank = {rank_cores} cores at once; the cluster has "
            f"{cluster_cores} (SENSOR_LSTM_SPARK_CORES)"
        )
    return problems


def local_lake_path(lake: str) -> str | None:
    """The folder on this machine a path or URI names, or None for another file system (the Spark event
    logs may be on hdfs://, say)."""
    if lake.startswith("file://"):
        return lake[len("file://") :]
    return None if "://" in lake else lake


def asset_extra(day: str, report: dict, fields: tuple[str, ...]) -> dict:
    """What an asset event carries: the run day, and the ``fields`` of the job's report it has."""
    return {"run_date": day, **{name: report[name] for name in fields if name in report}}


class SparkJobOperator(SparkSubmitOperator):
    """Submits a project job. Its exit code 2 (bad input or arguments, said in one line in the
    log) fails the task at once: the retries could only repeat it. Once it succeeds, each of its
    outlets' asset events carries the ``extra_fields`` of the job's report for the run day."""

    def __init__(self, *, extra_fields: tuple[str, ...] = (), **kwargs):
        super().__init__(**kwargs)
        self.extra_fields = extra_fields

    def execute(self, context) -> None:
        event_logs = local_lake_path(SPARK_EVENT_LOG_DIR)
        if event_logs:  # Spark refuses to start an application whose event log folder is missing
            Path(event_logs).mkdir(parents=True, exist_ok=True)
        try:
            super().execute(context)
        except AirflowException as error:
            process = getattr(self._hook, "_submit_sp", None)
            if process is not None and process.returncode == EXIT_INPUT_ERROR:
                raise AirflowFailException(f"{self.task_id}: bad input or arguments, not retried; {error}") from error
            raise
        if self.outlets:
            day = self.application_args[self.application_args.index("--run-date") + 1]
            extra = asset_extra(day, self.read_report(day), self.extra_fields)
            for outlet in self.outlets:
                context["outlet_events"][outlet].extra = extra

    def read_report(self, day: str) -> dict:
        """The job's report for ``day``."""
        path = Path(DATA_LAKE.report_path(self.task_id, date.fromisoformat(day)))
        if not path.exists():  # the job succeeded: lineage metadata alone must not fail the task
            self.log.warning("no report at %s: the asset event carries no counts", path)
            return {}
        return json.loads(path.read_text())


class LandingFileSensor(FileSensor):
    """Waits for the run day's landing file (``.csv`` or ``.csv.gz``) deferred, in the triggerer,
    so a late file is ingested when it lands and a waiting run holds no worker slot. No file within
    the Param ``landing_file_timeout_minutes`` fails the task once, not retried, saying so. With
    ``allow_empty_input`` it looks once and leaves a missing file to ingest's "no data"."""

    def __init__(self, **kwargs):
        filepath = f"{DATA_LAKE.dataset('landing')}/sensor_readings_{RUN_DAY}.csv*"
        # The trigger fires as soon as a name matches: a delivery lands under its final name in
        # one rename, never written in place.
        super().__init__(filepath=filepath, deferrable=True, poke_interval=30, **kwargs)

    @property
    def path(self) -> str:  # the file sensor's own adds the fs_default connection's base path
        return self.filepath

    def execute(self, context) -> None:
        params = context["params"]
        if params["allow_empty_input"] and not self.poke(context):
            self.log.info("no landing file %s; allow_empty_input: ingest records the day as no data", self.filepath)
            return
        self.timeout = params["landing_file_timeout_minutes"] * 60
        super().execute(context)

    def resume_execution(self, next_method: str, next_kwargs: dict | None, context):
        try:
            return super().resume_execution(next_method, next_kwargs, context)
        except AirflowSensorTimeout as timeout:
            minutes = context["params"]["landing_file_timeout_minutes"]
            raise AirflowSensorTimeout(
                f"no landing file {self.filepath} after waiting {minutes} minutes (landing_file_timeout_minutes); "
                "not retried: deliver the file and clear this task"
            ) from timeout


MLFLOW_EXPERIMENT = os.environ.get("SENSOR_LSTM_MLFLOW_EXPERIMENT", EXPERIMENT)
REGISTERED_MODEL = os.environ.get("SENSOR_LSTM_MODEL_NAME", MODEL_NAME)

# Every MLflow run says which Airflow run and task made it (a retry's run carries its try number).
# A run triggered from the UI without a logical date has none in its context, not even None.
MLFLOW_ARGS = [
    "--experiment",
    MLFLOW_EXPERIMENT,
    "--tag",
    f"dag_id={DAG_ID}",
    "--tag",
    "airflow_run_id={{ run_id }}",
    "--tag",
    "logical_date={{ logical_date.isoformat() if logical_date is defined and logical_date else '' }}",
    "--tag",
    "task={{ ti.task_id }}",
    "--tag",
    "try_number={{ ti.try_number }}",
]


# How both training stages fit their models (spark_jobs/training.py).
TRAINING_ARGS = [
    "--epochs",
    "{{ params.epochs }}",
    "--patience",
    "{{ params.patience }}",
    "--training-budget-minutes",
    "{{ params.training_budget_minutes }}",
    "--batch-size",
    "{{ params.batch_size }}",
    "--learning-rate",
    "{{ params.learning_rate }}",
]


def cores_at_default_params(cores: str) -> int:
    """A task's cores (a template over the Params) for a run at the default Params."""
    return int(
        jinja2.Environment().from_string(cores).render(params={name: param.value for name, param in PARAMS.items()})
    )


def spark_job(
    task_id: str,
    job_args: list[str],
    execution_timeout: timedelta,
    cores: str | None = DATA_JOB_CORES,
    spark_conf: dict[str, str] | None = None,
    outlet: Asset | None = None,
    extra_fields: tuple[str, ...] = (),
    one_run_at_a_time: bool = False,
) -> SparkJobOperator:
    """A task that submits ``spark_jobs/<task_id>.py`` for the run day with the given arguments;
    ``cores``: the cores its application may hold (spark.cores.max), a template over the Params
    alone, and its slots in SPARK_CORES_POOL on a cluster of known size; None: no limit;
    ``outlet``: the asset it updates, whose events carry ``extra_fields`` of its report;
    ``one_run_at_a_time``: never two runs' instances of it at once."""
    capacity = {}
    if cores is not None:
        spark_conf = {"spark.cores.max": cores} | (spark_conf or {})
        if SPARK_CLUSTER_CORES > 0:
            capacity = {"pool": SPARK_CORES_POOL, "pool_slots": cores_at_default_params(cores)}
    return SparkJobOperator(
        task_id=task_id,
        max_active_tis_per_dag=1 if one_run_at_a_time else None,
        **capacity,
        outlets=[outlet] if outlet else [],
        extra_fields=extra_fields,
        conn_id="spark_default",
        application=f"{JOBS_DIR}/{task_id}.py",
        name=f"{DAG_ID}.{task_id}",
        conf=SPARK_CONF | (spark_conf or {}),
        env_vars=SPARK_ENV,
        application_args=["--lake", LAKE, "--run-date", RUN_DAY, *job_args],
        execution_timeout=execution_timeout,
    )


# What the DAG writes, as Airflow assets: lineage in the UI, and events other DAGs can be scheduled on.
READINGS = Asset(name="sensor_lstm.readings", uri=f"{LAKE_URI}/readings", group="sensor_lstm")
SEQUENCES = Asset(name="sensor_lstm.sequences", uri=f"{LAKE_URI}/sequences", group="sensor_lstm")
CHAMPION = Asset(name="sensor_lstm.champion", uri=f"models:/{REGISTERED_MODEL}@{CHAMPION_ALIAS}", group="sensor_lstm")
FORECASTS = Asset(name="sensor_lstm.forecasts", uri=f"{LAKE_URI}/forecasts", group="sensor_lstm")

# Mail when a task has failed for good (after its retries), through the smtp provider's notifier;
# off unless SENSOR_LSTM_ALERT_EMAILS names recipients. The server is the connection smtp_default
# (e.g. AIRFLOW_CONN_SMTP_DEFAULT).
ALERT_EMAILS = [
    address.strip() for address in os.environ.get("SENSOR_LSTM_ALERT_EMAILS", "").split(",") if address.strip()
]
ALERT_SUBJECT = "[sensor-lstm] {{ ti.dag_id }}.{{ ti.task_id }} failed (run {{ ti.run_id }}, try {{ ti.try_number }})"
ALERT_BODY = (
    "<p>Task <b>{{ ti.task_id }}</b> of {{ ti.dag_id }} failed for good in run {{ ti.run_id }} "
    "(try {{ ti.try_number }}): {{ exception }}</p><p>Log: {{ ti.log_url }}</p>"
)


def failure_alert() -> SmtpNotifier | None:
    if not ALERT_EMAILS:
        return None
    return SmtpNotifier(
        to=ALERT_EMAILS,
        from_email=os.environ.get("SENSOR_LSTM_ALERT_FROM", "sensor-lstm@localhost"),
        smtp_conn_id="smtp_default",
        subject=ALERT_SUBJECT,
        html_content=ALERT_BODY,
    )


default_args = {
    "owner": "sensor-lstm",
    "retries": int(os.environ.get("SENSOR_LSTM_TASK_RETRIES", "2")),
    "retry_delay": timedelta(seconds=int(os.environ.get("SENSOR_LSTM_TASK_RETRY_DELAY_SECONDS", "120"))),
    "retry_exponential_backoff": True,
    "on_failure_callback": failure_alert(),
}

# The trigger form's fields: what a run may change.
PARAMS = {
    "day": Param(
        None,
        type=["null", "string"],
        format="date",
        description="UTC day to process, YYYY-MM-DD; empty: the run's data interval.",
    ),
    "seq_len": Param(
        DEFAULT_MODEL.seq_len, type="integer", minimum=1, maximum=10000, description="Readings per input window."
    ),
    "horizon": Param(
        1, type="integer", minimum=1, maximum=10000, description="Steps from the last input to the target."
    ),
    "sampling_interval_seconds": Param(
        60,
        type="integer",
        minimum=1,
        maximum=SECONDS_PER_DAY,
        description="The sensors' sampling interval; readings further apart start a new segment.",
    ),
    "lookback_days": Param(
        3, type="integer", minimum=1, maximum=366, description="Days of readings, ending with the run's day."
    ),
    "train_fraction": Param(
        0.7, type="number", exclusiveMinimum=0, exclusiveMaximum=1, description="Share of the lookback for training."
    ),
    "validation_fraction": Param(
        0.15,
        type="number",
        exclusiveMinimum=0,
        exclusiveMaximum=1,
        description="Share of the lookback for validation; test gets the rest.",
    ),
    "seasonal_periods": Param(
        None,
        type=["null", "array"],
        items={"type": "integer", "minimum": 1},
        description="Seasons of the seasonal naive forecasts, in readings (e.g. [24, 168] for hourly data); "
        "empty: one day at the sampling interval; [] for none.",
    ),
    "partitions": Param(
        4,
        type="integer",
        minimum=1,
        maximum=1024,
        description="Partitions of sensors for train_baseline, one model each.",
    ),
    "lstm_units": Param(
        DEFAULT_MODEL.units, type="integer", minimum=1, maximum=1024, description="LSTM units of each model."
    ),
    "epochs": Param(
        DEFAULT_MODEL.schedule.max_epochs,
        type="integer",
        minimum=1,
        maximum=10000,
        description="Training epochs at most; early stopping ends sooner.",
    ),
    "batch_size": Param(
        DEFAULT_MODEL.batch_size,
        type="integer",
        minimum=1,
        maximum=65536,
        description="Largest training batch (per rank); smaller on small data, so an epoch takes at least "
        f"{DEFAULT_MODEL.schedule.min_steps_per_epoch} steps.",
    ),
    "learning_rate": Param(
        DEFAULT_MODEL.learning_rate,
        type="number",
        exclusiveMinimum=0,
        maximum=1,
        description="Initial Adam learning rate, for the batch one process takes (Horovod scales it by the global "
        f"batch); halved after {DEFAULT_MODEL.schedule.lr_patience} epochs without improvement.",
    ),
    "patience": Param(
        DEFAULT_MODEL.schedule.patience,
        type="integer",
        minimum=1,
        maximum=1000,
        description="Training stops after this many epochs without a better validation loss.",
    ),
    "training_budget_minutes": Param(
        TRAINING_BUDGET_MINUTES,
        type="number",
        exclusiveMinimum=0,
        maximum=24 * 60,
        description="Wall-clock limit of each fit; it stops with the best weights so far, and says so.",
    ),
    "champion_min_skill": Param(
        0.0,
        type="number",
        minimum=0,
        exclusiveMaximum=1,
        description="Quality gate: a new version becomes champion only with a skill (1 - its test RMSE / the best "
        "naive forecast's) above this.",
    ),
    "promote_older_day": Param(
        False,
        type="boolean",
        description="Let a run for an earlier day than the champion's (a backfill) take the champion alias when "
        "it scores better; off, a backfill never replaces a champion trained on newer data.",
    ),
    "num_proc": Param(2, type="integer", minimum=1, maximum=64, description="Horovod ranks of train_distributed."),
    "threads_per_rank": Param(
        1,
        type="integer",
        minimum=1,
        maximum=64,
        description="Cores (spark.task.cpus) and TensorFlow threads of each rank.",
    ),
    "landing_file_timeout_minutes": Param(
        360,
        type="number",
        exclusiveMinimum=0,
        maximum=LANDING_WAIT_MAX_MINUTES,
        description="How long the run waits for its day's landing file before it fails, once.",
    ),
    "allow_empty_input": Param(
        False,
        type="boolean",
        description="Succeed with a logged 'no data' when the day has no landing file, or one without readings.",
    ),
    "max_quarantined_fraction": Param(
        0.1,
        type="number",
        minimum=0,
        exclusiveMaximum=1,
        description="Quality gate of ingest: a day's delivery with a larger share of quarantined rows fails and "
        "the day keeps the readings it had.",
    ),
    "reading_min": Param(-1e12, type="number", description="Smallest valid reading; smaller ones are quarantined."),
    "reading_max": Param(1e12, type="number", description="Largest valid reading; larger ones are quarantined."),
    "forecast_steps": Param(
        12,
        type="integer",
        minimum=1,
        maximum=10000,
        description="Forecasts per sensor, one sampling interval apart, from its last reading of the run day; "
        "recursive past the model's horizon.",
    ),
}


with DAG(
    dag_id=DAG_ID,
    description="Raw sensor CSV -> clean readings -> LSTM training windows",
    doc_md=__doc__,
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=START_DATE,
    catchup=CATCHUP,
    # Runs for different days go side by side (a run waiting for its file holds nothing back): the
    # jobs lock the days they write and the readings they read (spark_jobs/lake.py).
    max_active_runs=MAX_ACTIVE_RUNS,
    default_args=default_args,
    tags=["sensors", "spark", "lstm"],
    user_defined_macros={"run_day": run_day},
    params=PARAMS,
) as dag:

    @task(execution_timeout=timedelta(minutes=1))
    def check_params(params=None) -> None:
        """Refuse a run whose Params do not fit together, before any job writes."""
        problems = param_problems(params, datetime.now(UTC).date())
        if problems:
            raise AirflowFailException("Params refused: " + "; ".join(problems))

    ingest = spark_job(
        "ingest",
        [
            "{{ '--allow-empty' if params.allow_empty_input else '--no-allow-empty' }}",
            "--max-quarantined-fraction",
            "{{ params.max_quarantined_fraction }}",
            "--reading-min",
            "{{ params.reading_min }}",
            "--reading-max",
            "{{ params.reading_max }}",
        ],
        execution_timeout=timedelta(minutes=30),
        outlet=READINGS,
        extra_fields=("status", "rows_read", "rows_written", "rows_quarantined", "duplicates_dropped"),
    )
    prepare_sequences = spark_job(
        "prepare_sequences",
        [
            "--lookback-days",
            "{{ params.lookback_days }}",
            "--sampling-interval-seconds",
            "{{ params.sampling_interval_seconds }}",
            "--seq-len",
            "{{ params.seq_len }}",
            "--horizon",
            "{{ params.horizon }}",
            "--train-fraction",
            "{{ params.train_fraction }}",
            "--validation-fraction",
            "{{ params.validation_fraction }}",
            "--seasonal-periods",
            "{{ 'day' if params.seasonal_periods is none else (params.seasonal_periods | join(',') or 'none') }}",
        ],
        execution_timeout=timedelta(hours=1),
        outlet=SEQUENCES,
        extra_fields=("sensors", "windows", "windows_dropped_across_split_cuts", "missing_lookback_days"),
    )

    # One task (one core) trains each partition. Where the cluster's size is unknown there is no
    # pool to queue in: the trainings run for one run at a time, so runs side by side wait for the
    # cores in Airflow instead of in Spark.
    train_baseline = spark_job(
        "train_baseline",
        [
            "--partitions",
            "{{ params.partitions }}",
            "--units",
            "{{ params.lstm_units }}",
            *TRAINING_ARGS,
            *MLFLOW_ARGS,
        ],
        execution_timeout=timedelta(hours=2),
        cores=BASELINE_CORES,
        one_run_at_a_time=SPARK_CLUSTER_CORES <= 0,
    )

    # Each rank is one Spark task holding whole cores; the application asks for no more.
    train_distributed = spark_job(
        "train_distributed",
        [
            "--num-proc",
            "{{ params.num_proc }}",
            "--threads-per-rank",
            "{{ params.threads_per_rank }}",
            *(["--nics", HOROVOD_NICS] if HOROVOD_NICS else []),
            "--units",
            "{{ params.lstm_units }}",
            *TRAINING_ARGS,
            "--model-name",
            REGISTERED_MODEL,
            *MLFLOW_ARGS,
        ],
        execution_timeout=timedelta(hours=2),
        cores=RANK_CORES,
        spark_conf={
            "spark.task.cpus": "{{ params.threads_per_rank }}",
            # A rank run again alone cannot rejoin its peers' gloo ring: a lost rank fails the
            # attempt at once, and Airflow's retry starts every rank afresh.
            "spark.task.maxFailures": "1",
        },
        one_run_at_a_time=SPARK_CLUSTER_CORES <= 0,
    )

    evaluate = spark_job(
        "evaluate",
        [
            "--min-skill",
            "{{ params.champion_min_skill }}",
            "{{ '--promote-older-day' if params.promote_older_day else '--no-promote-older-day' }}",
            "--model-name",
            REGISTERED_MODEL,
            *MLFLOW_ARGS,
        ],
        execution_timeout=timedelta(hours=1),
        outlet=CHAMPION,
        extra_fields=("candidate_version", "champion_promoted", "champion_version"),
        one_run_at_a_time=True,  # the champion alias is one for all days
    )

    # Whatever evaluate decided, the champion (new or kept) forecasts the run day's sensors.
    forecast = spark_job(
        "forecast",
        ["--steps", "{{ params.forecast_steps }}", "--model-name", REGISTERED_MODEL],
        execution_timeout=timedelta(hours=1),
        outlet=FORECASTS,
        extra_fields=("status", "model_version", "sensors_forecast", "forecasts", "sensors_not_forecast"),
    )

    landing_file = LandingFileSensor(
        task_id="wait_for_landing_file",
        execution_timeout=timedelta(minutes=LANDING_WAIT_MAX_MINUTES + 10),
    )

    (
        check_params()
        >> landing_file
        >> ingest
        >> prepare_sequences
        >> [train_baseline, train_distributed]
        >> evaluate
        >> forecast
    )
