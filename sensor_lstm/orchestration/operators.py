"""The DAG's operators: a project job submitted with the apache-spark provider's operator, and the
wait for a day's landing file with the standard provider's file sensor, deferred."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
from airflow.providers.standard.sensors.filesystem import FileSensor
from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSensorTimeout

from sensor_lstm.errors import EXIT_INPUT_ERROR, JobInputError
from sensor_lstm.lake import Lake, datasets
from sensor_lstm.lake.reports import Report
from sensor_lstm.settings import RUN_DAY


def local_lake_path(path: str) -> str | None:
    """The folder on this machine a path or ``file://`` URI names, or None for another file system
    (the Spark event logs may be on hdfs://, say)."""
    if path.startswith("file://"):
        return path[len("file://") :]
    return None if "://" in path else path


class SparkJobOperator(SparkSubmitOperator):
    """Submits a project job. Its exit code 2 (bad input or arguments, said in one line in the
    log) fails the task at once: the retries could only repeat it. Once it succeeds, each of its
    outlets' asset events carries the run day and its ``report``'s asset fields for that day."""

    def __init__(
        self, *, lake: Lake | None = None, report: type[Report] | None = None, event_log_dir: str = "", **kwargs
    ):
        super().__init__(**kwargs)
        self.lake, self.report, self.event_log_dir = lake, report, event_log_dir

    def execute(self, context) -> None:
        event_logs = local_lake_path(self.event_log_dir) if self.event_log_dir else None
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
            extra = self.asset_extra(self.application_args[self.application_args.index("--run-date") + 1])
            for outlet in self.outlets:
                context["outlet_events"][outlet].extra = extra

    def asset_extra(self, day: str) -> dict:
        """What an asset event carries: the run day, and the job's report's asset fields."""
        if self.report is None or self.lake is None:
            return {"run_date": day}
        try:
            report = self.report.read(self.lake, date.fromisoformat(day))
        except JobInputError as missing:  # the job succeeded: lineage metadata alone must not fail the task
            self.log.warning("%s: the asset event carries no counts", missing)
            return {"run_date": day}
        return {"run_date": day, **report.asset_extra()}


class LandingFileSensor(FileSensor):
    """Waits for the run day's landing file (``.csv`` or ``.csv.gz``) deferred, in the triggerer,
    so a late file is ingested when it lands and a waiting run holds no worker slot. No file within
    the Param ``landing_file_timeout_minutes`` fails the task once, not retried, saying so. With
    ``allow_empty_input`` it looks once and leaves a missing file to ingest's "no data"."""

    def __init__(self, *, lake: Lake, **kwargs):
        first_name = datasets.LANDING_FILES[0].format(day=RUN_DAY)
        # The trigger fires as soon as a name matches: a delivery lands under its final name in
        # one rename, never written in place.
        super().__init__(
            filepath=f"{lake.dataset(datasets.LANDING)}/{first_name}*", deferrable=True, poke_interval=30, **kwargs
        )

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
