from datetime import UTC, datetime

import pytest
from airflow.sdk import Asset
from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSensorTimeout, TaskDeferred
from airflow.sdk.execution_time.context import OutletEventAccessors

from sensor_lstm.lake import Lake
from sensor_lstm.lake.reports import IngestReport
from sensor_lstm.orchestration.deployment import Deployment
from sensor_lstm.orchestration.operators import LandingFileSensor, SparkJobOperator, local_lake_path
from sensor_lstm.orchestration.params import run_day
from sensor_lstm.orchestration.tasks import SparkTasks
from sensor_lstm.settings import PARAMS

LOCAL_SPARK = '{"conn_type": "spark", "host": "local[1]"}'


@pytest.mark.parametrize("exit_code, retried", [(2, False), (1, True)])
def test_a_jobs_input_error_exit_code_2_is_not_retried(monkeypatch, tmp_path, exit_code, retried):
    monkeypatch.setenv("AIRFLOW_CONN_SPARK_DEFAULT", LOCAL_SPARK)
    job = tmp_path / "job.py"
    job.write_text(f"import sys\nprint('job failed: why')\nsys.exit({exit_code})\n")
    operator = SparkJobOperator(task_id="job", conn_id="spark_default", application=str(job))
    with pytest.raises(AirflowException) as raised:
        operator.execute({})
    assert isinstance(raised.value, AirflowFailException) is not retried


def test_a_jobs_asset_event_carries_the_asset_fields_of_its_report_for_the_run_day(monkeypatch, tmp_path):
    monkeypatch.setenv("AIRFLOW_CONN_SPARK_DEFAULT", LOCAL_SPARK)
    lake = Lake(str(tmp_path))
    IngestReport(status="ok", data_interval="", files=["sensor_readings_2026-11-25.csv"], rows_written=48).write(
        lake, datetime(2026, 11, 25).date()
    )
    job = tmp_path / "job.py"
    job.write_text("print('job done')\n")
    readings, days = Asset(name="readings", uri=f"file://{tmp_path}/readings"), {}

    def job_for(day: str) -> SparkJobOperator:
        days[day] = OutletEventAccessors()
        return SparkJobOperator(
            task_id="ingest",
            conn_id="spark_default",
            application=str(job),
            application_args=["--lake", str(tmp_path), "--run-date", day],
            outlets=[readings],
            lake=lake,
            report=IngestReport,
        )

    job_for("2026-11-25").execute({"outlet_events": days["2026-11-25"]})
    assert days["2026-11-25"][readings].extra == {
        "run_date": "2026-11-25",
        "status": "ok",
        "rows_read": 0,
        "rows_written": 48,
        "rows_quarantined": 0,
        "exact_repeats_dropped": 0,
        "conflicts_superseded": 0,
    }
    job_for("2026-11-26").execute({"outlet_events": days["2026-11-26"]})  # no report: the day alone
    assert days["2026-11-26"][readings].extra == {"run_date": "2026-11-26"}
    assert local_lake_path("hdfs://namenode/lake") is None
    assert local_lake_path("file:///data/lake") == "/data/lake"


def test_a_jobs_task_log_links_its_spark_ui_on_the_history_server_and_its_event_log_lands_in_the_lake(
    monkeypatch, tmp_path, capfd
):
    monkeypatch.setenv("AIRFLOW_CONN_SPARK_DEFAULT", LOCAL_SPARK)
    deployment = Deployment.from_environ(
        {"SENSOR_LSTM_LAKE": str(tmp_path), "SENSOR_LSTM_SPARK_HISTORY_URL": "http://history.example:18080"}
    )
    job = tmp_path / "probe.py"
    job.write_text(
        "import sys\nfrom sensor_lstm.job import run_job\nfrom sensor_lstm.settings import job_parser\n"
        "run_job('forecast', lambda spark, args: None, job_parser('forecast', 'a probe').parse_args(sys.argv[1:]))\n"
    )
    tasks = SparkTasks(deployment)
    operator = SparkJobOperator(
        task_id="probe",
        conn_id="spark_default",
        application=str(job),
        conf=tasks.spark_conf(),
        env_vars={"PYTHONPATH": deployment.project_dir},
        event_log_dir=deployment.event_log_dir,
        application_args=["--lake", str(tmp_path), "--run-date", "2026-11-25"],
    )
    operator.execute({})
    task_log = "".join(capfd.readouterr())  # the hook logs each line of spark-submit's output
    (event_log,) = (tmp_path / "_spark_events").iterdir()  # the folder made for it, as Spark needs
    application = event_log.name.removeprefix("eventlog_v2_")  # Spark 4's rolling event log: a folder
    assert application.startswith("local-")
    assert (
        f"Spark application {application}: its Spark UI, once it has ended, on the history server: "
        f"http://history.example:18080/history/{application}/jobs/"
    ) in task_log


def landing_sensor(tmp_path, params: dict):
    """The wait_for_landing_file task as the worker runs it, for 2026-11-25, on a lake at tmp_path."""
    sensor = LandingFileSensor(task_id="wait_for_landing_file", lake=Lake(str(tmp_path)))
    context = {
        "params": {setting.name: setting.default for setting in PARAMS} | params,
        "data_interval_start": datetime(2026, 11, 25, tzinfo=UTC),
        "dag_run": None,
        "run_day": run_day,
    }
    sensor.render_template_fields(context)
    return sensor, context


def test_the_run_waits_for_its_landing_file_deferred_for_the_timeout_param(tmp_path):
    sensor, context = landing_sensor(tmp_path, {"landing_file_timeout_minutes": 90})
    assert sensor.filepath == f"{tmp_path}/landing/sensor_readings_2026-11-25.csv*"
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute(context)
    assert deferred.value.timeout.total_seconds() == 90 * 60
    assert deferred.value.trigger.filepath == sensor.filepath
    assert deferred.value.trigger.__class__.__name__ == "FileTrigger"  # the standard provider's: the triggerer runs it

    (tmp_path / "landing").mkdir()
    (tmp_path / "landing" / "sensor_readings_2026-11-25.csv.gz").write_bytes(b"")
    assert sensor.execute(context) is None  # there: no wait


def test_with_allow_empty_input_a_missing_file_is_left_to_ingest(tmp_path):
    sensor, context = landing_sensor(tmp_path, {"allow_empty_input": True})
    assert sensor.execute(context) is None


def test_no_landing_file_within_the_timeout_fails_once_saying_what_is_missing(tmp_path):
    sensor, context = landing_sensor(tmp_path, {"landing_file_timeout_minutes": 45})
    # What the worker runs once the scheduler finds the deferral timed out.
    with pytest.raises(
        AirflowSensorTimeout,
        match=(
            rf"^no landing file {tmp_path}/landing/sensor_readings_2026-11-25.csv\* after waiting 45 minutes "
            r"\(landing_file_timeout_minutes\); not retried: deliver the file and clear this task$"
        ),
    ):
        sensor.resume_execution("__fail__", {"error": "Trigger timeout"}, context)  # the scheduler's words
