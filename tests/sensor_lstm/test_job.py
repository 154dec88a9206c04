import os
import signal
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from sensor_lstm import errors, job
from tests.support.jobs import job_args

PROJECT_DIR = Path(__file__).resolve().parents[2]


class FakeSession:
    """What run_job asks of a Spark session, without starting one."""

    sparkContext = SimpleNamespace(applicationId="local-1", getConf=lambda: {})

    def stop(self):
        pass


@pytest.mark.parametrize(
    ("failure", "code"),
    [
        (errors.StageFailed("training diverged: loss nan at epoch 1 (learning rate 1e+30)"), errors.EXIT_STAGE_FAILED),
        (errors.JobInputError("no test windows for 2026-11-25"), errors.EXIT_INPUT_ERROR),
        (errors.LakeBusyError("/lake/_locks/x/date=2026-11-25.lock is held by another run"), errors.EXIT_BUSY),
    ],
)
def test_a_failure_is_one_line_on_stderr_and_its_exit_code(capsys, monkeypatch, tmp_path, failure, code):
    def run(spark, args):
        raise failure

    monkeypatch.setattr(job, "spark_session", lambda name: FakeSession())
    with pytest.raises(SystemExit) as exited:
        job.run_job("forecast", run, job_args("forecast", "--lake", str(tmp_path), "--run-date", "2026-11-25"))
    assert exited.value.code == code
    assert capsys.readouterr().err == f"forecast failed: {failure}\n"
    assert list((tmp_path / "_locks" / "forecast").iterdir()) == []  # released


SLOW_JOB = """
import sys, time
from sensor_lstm.job import run_job
from sensor_lstm.settings import job_parser

def run(spark, args):
    print("running", flush=True)
    time.sleep(600)

run_job("forecast", run, job_parser("forecast", "").parse_args(["--lake", sys.argv[1], "--run-date", "2026-11-25"]))
"""


def test_a_job_stopped_by_airflow_with_sigterm_releases_its_lock(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(PROJECT_DIR), "PYSPARK_SUBMIT_ARGS": "--master local[1] pyspark-shell"}
    job = subprocess.Popen(["python", "-c", SLOW_JOB, str(tmp_path)], stdout=subprocess.PIPE, text=True, env=env)
    assert job.stdout.readline() == "running\n"
    lock = tmp_path / "_locks" / "forecast" / "date=2026-11-25.lock"
    assert lock.exists()
    job.send_signal(signal.SIGTERM)
    assert job.wait(timeout=60) == 128 + signal.SIGTERM
    assert not lock.exists()


def test_a_jobs_log_says_where_its_spark_ui_is_once_it_has_ended():
    app = "app-20261125000000-0007"
    history = {
        "spark.eventLog.enabled": "true",
        "spark.eventLog.dir": "file:///data/lake/_spark_events",
        "spark.sensorLstm.historyUrl": "http://localhost:18080/",
    }
    assert job.spark_history_line(app, history) == (
        f"Spark application {app}: its Spark UI, once it has ended, on the history server: "
        f"http://localhost:18080/history/{app}/jobs/"
    )
    assert job.spark_history_line(app, {k: v for k, v in history.items() if "historyUrl" not in k}) == (
        f"Spark application {app}: its event log is in file:///data/lake/_spark_events, for a Spark history server"
    )
    assert job.spark_history_line(app, {}) == (
        f"Spark application {app}: no event log (spark.eventLog.enabled is off), so its Spark UI ends with it"
    )
