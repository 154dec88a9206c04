"""How a job runs: its Spark session, the locks on its days, and what its exit code says.

Every job's ``main`` parses its arguments with the settings table's parser (sensor_lstm.settings)
and hands them to ``run_job`` with the library's stage function that does its work. Bad input or
arguments end in one line on stderr and exit code 2, which the DAG does not retry; a day another
run is writing ends in exit code 75, which a later retry may get past (sensor_lstm.errors).
"""

from __future__ import annotations

import logging
import signal
import sys
from argparse import Namespace
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

from sensor_lstm.errors import (
    EXIT_BUSY,
    EXIT_INPUT_ERROR,
    EXIT_STAGE_FAILED,
    JobInputError,
    LakeBusyError,
    StageFailed,
)

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)


def run_job(name: str, stage: Callable[[SparkSession, Namespace], object], args: Namespace) -> None:
    """A job's ``main`` after parsing its arguments (with the settings table's parser for ``name``):
    run ``stage`` in a Spark session holding the run's day locks, stop it. A JobInputError exits with
    code 2 (argparse exits with it too), a LakeBusyError with 75, a StageFailed with 1, each in one
    line on stderr. The locked days are the run date's, or ``--days`` of them from it."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Airflow stops a task (timeout, mark failed) with SIGTERM: exit through the finally blocks, so
    # the day's locks are released and the session stopped.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    spark = spark_session(name)
    log.info(spark_history_line(spark.sparkContext.applicationId, spark.sparkContext.getConf()))
    days = [args.run_date + timedelta(days=offset) for offset in range(max(1, getattr(args, "days", 1)))]
    try:
        with args.lake.day_locks(name, days):
            stage(spark, args)
    except JobInputError as error:
        print(f"{name} failed: {error}", file=sys.stderr)
        sys.exit(EXIT_INPUT_ERROR)
    except LakeBusyError as error:
        print(f"{name} failed: {error}", file=sys.stderr)
        sys.exit(EXIT_BUSY)
    except StageFailed as error:
        print(f"{name} failed: {error}", file=sys.stderr, flush=True)
        sys.exit(EXIT_STAGE_FAILED)
    finally:
        spark.stop()


def spark_history_line(application_id: str, conf) -> str:
    """Where the application's Spark UI can be opened once it has ended: the history server's page
    for it (the DAG sets spark.sensorLstm.historyUrl from SENSOR_LSTM_SPARK_HISTORY_URL), or at
    least its event log. ``conf``: the application's SparkConf."""
    line = f"Spark application {application_id}"
    if conf.get("spark.eventLog.enabled", "false").lower() != "true":
        return f"{line}: no event log (spark.eventLog.enabled is off), so its Spark UI ends with it"
    history = conf.get("spark.sensorLstm.historyUrl", "").rstrip("/")
    if not history:
        event_log = conf.get("spark.eventLog.dir", "file:/tmp/spark-events")
        return f"{line}: its event log is in {event_log}, for a Spark history server"
    return f"{line}: its Spark UI, once it has ended, on the history server: {history}/history/{application_id}/jobs/"


def spark_session(app_name: str) -> SparkSession:
    """The job's session. The master and resources come from spark-submit; UTC is not optional,
    since every timestamp and partition date in the lake is UTC. PySpark is imported here, not at
    the top, so the DAG can import this module's exit codes without it."""
    from pyspark.sql import SparkSession

    return (
        SparkSession.builder.appName(app_name)
        .config("spark.sql.session.timeZone", "UTC")
        # Let adaptive execution coalesce the shuffle partitions of persisted plans too; without
        # it a small day runs 200 near-empty tasks per stage.
        .config("spark.sql.optimizer.canChangeCachedPlanOutputPartitioning", "true")
        .getOrCreate()
    )
