"""
### sensor_lstm_pipeline

Turns a day of raw sensor readings into LSTM training windows, per-partition baseline models and
one distributed (Horovod) model, keeps the best model under the registry alias `champion`, and
forecasts every sensor's next readings with it.

What each task reads and writes, and the Spark job behind it: docs/pipeline.md in the project.

Each run owns one UTC day, its **run day**: the day of its data interval (the day before the run
fires; a backfill run, the day it is for), or the `day` Param when a user sets it. It replaces that
day's partitions atomically, so retries, catchup and `airflow backfill create` never duplicate or
lose rows. Counts per run land in `reports/<task>/date=<day>/report.json`.

Trigger it by hand with the form's Params, in sections: the run, the input data, the windows, the
model and its training, the champion and the forecasts (docs/settings.md has each one). A manual
run with neither a `day` nor a logical date processes the last complete UTC day before it was
triggered. The Spark master comes from the `spark_default` connection (`AIRFLOW_CONN_SPARK_DEFAULT`);
the lake root from `SENSOR_LSTM_LAKE`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pendulum
from airflow.sdk import DAG, task
from airflow.sdk.exceptions import AirflowFailException
from airflow.timetables.interval import CronDataIntervalTimetable

from sensor_lstm.lake import datasets
from sensor_lstm.lake.reports import (
    EvaluateReport,
    FitStatisticalReport,
    ForecastReport,
    IngestReport,
    PrepareSequencesReport,
)
from sensor_lstm.names import (
    DAG_ID,
    EVALUATE,
    FIT_STATISTICAL,
    FORECAST,
    INGEST,
    PREPARE_SEQUENCES,
    TRAIN_BASELINE,
    TRAIN_DISTRIBUTED,
)
from sensor_lstm.orchestration.alerts import failure_alert
from sensor_lstm.orchestration.assets import champion_asset, lake_asset
from sensor_lstm.orchestration.deployment import Deployment
from sensor_lstm.orchestration.operators import LandingFileSensor
from sensor_lstm.orchestration.params import LANDING_WAIT_MAX_MINUTES, param_problems, run_day, trigger_form
from sensor_lstm.orchestration.pools import RANK_CORES, baseline_cores
from sensor_lstm.orchestration.tasks import SparkTasks

# A lake that is not a folder fails the DAG's import with the reason (sensor_lstm/lake/store.py).
DEPLOYMENT = Deployment.from_environ()
SPARK = SparkTasks(DEPLOYMENT)
# Without a known cluster size there is no pool to queue in: the trainings run for one run at a
# time, so runs side by side wait for the cores in Airflow instead of in Spark.
NO_POOL = DEPLOYMENT.spark_cores <= 0

default_args = {
    "owner": "sensor-lstm",
    "retries": DEPLOYMENT.task_retries,
    "retry_delay": timedelta(seconds=DEPLOYMENT.retry_delay_seconds),
    "retry_exponential_backoff": True,
    "on_failure_callback": failure_alert(DEPLOYMENT.alert_emails, DEPLOYMENT.alert_from),
}

with DAG(
    dag_id=DAG_ID,
    description="Raw sensor CSV -> clean readings -> LSTM windows -> models -> champion -> forecasts",
    doc_md=__doc__,
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=pendulum.datetime(*DEPLOYMENT.start_date.timetuple()[:3], tz="UTC"),
    catchup=DEPLOYMENT.catchup,
    # Runs for different days go side by side (a run waiting for its file holds nothing back): the
    # jobs lock the days they write and the readings they read (sensor_lstm/lake/store.py).
    max_active_runs=DEPLOYMENT.max_active_runs,
    default_args=default_args,
    tags=["sensors", "spark", "lstm"],
    user_defined_macros={"run_day": run_day},
    params=trigger_form(),
) as dag:

    @task(execution_timeout=timedelta(minutes=1))
    def check_params(params=None) -> None:
        """Refuse a run whose Params do not fit together, before any job writes."""
        problems = param_problems(params, datetime.now(UTC).date(), DEPLOYMENT.spark_cores)
        if problems:
            raise AirflowFailException("Params refused: " + "; ".join(problems))

    wait_for_landing_file = LandingFileSensor(
        task_id="wait_for_landing_file",
        lake=DEPLOYMENT.lake,
        execution_timeout=timedelta(minutes=LANDING_WAIT_MAX_MINUTES + 10),
    )
    ingest = SPARK.task(
        INGEST,
        timedelta(minutes=30),
        outlet=lake_asset(DEPLOYMENT, datasets.READINGS),
        report=IngestReport,
    )
    prepare_sequences = SPARK.task(
        PREPARE_SEQUENCES,
        timedelta(hours=1),
        outlet=lake_asset(DEPLOYMENT, datasets.SEQUENCES),
        report=PrepareSequencesReport,
    )
    # One Spark task (one core) trains each partition.
    train_baseline = SPARK.task(
        TRAIN_BASELINE,
        timedelta(hours=2),
        cores=baseline_cores(DEPLOYMENT.spark_cores),
        one_run_at_a_time=NO_POOL,
    )
    # Each rank is one Spark task holding whole cores; the application asks for no more.
    train_distributed = SPARK.task(
        TRAIN_DISTRIBUTED,
        timedelta(hours=2),
        cores=RANK_CORES,
        spark_conf={
            "spark.task.cpus": "{{ params.threads_per_rank }}",
            # A rank run again alone cannot rejoin its peers' gloo ring: a lost rank fails the
            # attempt at once, and Airflow's retry starts every rank afresh.
            "spark.task.maxFailures": "1",
        },
        one_run_at_a_time=NO_POOL,
    )
    # statsforecast's models per sensor, beside the trainings: evaluate scores them with the LSTM.
    fit_statistical = SPARK.task(FIT_STATISTICAL, timedelta(hours=2), report=FitStatisticalReport)
    evaluate = SPARK.task(
        EVALUATE,
        timedelta(hours=1),
        outlet=champion_asset(DEPLOYMENT),
        report=EvaluateReport,
        one_run_at_a_time=True,  # the champion alias is one for all days
    )
    # Whatever evaluate decided, the champion (new or kept) forecasts the run day's sensors.
    forecast = SPARK.task(
        FORECAST,
        timedelta(hours=1),
        outlet=lake_asset(DEPLOYMENT, datasets.FORECASTS),
        report=ForecastReport,
    )

    (
        check_params()
        >> wait_for_landing_file
        >> ingest
        >> prepare_sequences
        >> [train_baseline, train_distributed, fit_statistical]
        >> evaluate
        >> forecast
    )
