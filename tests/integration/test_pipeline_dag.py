"""`airflow dags test`, what `make demo` runs, with real spark-submit on local Spark: a day without
input, and a day of a real measured series at the DAG's default model Params. The whole DAG
through the scheduler, the API and a Spark cluster: tests/stack."""

from __future__ import annotations

import email
import json
import os
import socketserver
import subprocess
import threading
from datetime import timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from sensor_lstm.tools import real_series

pytestmark = pytest.mark.integration

DAG_ID = "sensor_lstm_pipeline"
PROJECT_DIR = Path(__file__).resolve().parents[2]
HISTORY_ONLY = [
    "--mark-success-pattern",
    "prepare_sequences|train_baseline|train_distributed|fit_statistical|evaluate|forecast",
]
# `airflow dags test` runs a deferred trigger in line without its timeout: a day with no file would
# wait for good. Past the wait, ingest must still say the file is missing itself (a lake it cannot
# watch, a file gone since): these runs skip the wait to show it.
NO_WAIT_HISTORY_ONLY = ["--mark-success-pattern", "wait_for_landing_file|" + HISTORY_ONLY[1]]


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    root = tmp_path_factory.mktemp("pipeline")
    env = os.environ | {
        "SENSOR_LSTM_VAR": str(root),
        "SENSOR_LSTM_LAKE": str(root / "lake"),
        "AIRFLOW_HOME": str(root / "airflow"),
        "AIRFLOW_CONN_SPARK_DEFAULT": '{"conn_type": "spark", "host": "local[2]"}',
        # A failing task should fail the test run now, not after minutes of retry delays.
        "SENSOR_LSTM_TASK_RETRIES": "0",
        "MLFLOW_TRACKING_URI": f"sqlite:///{root}/mlflow.db",
        "SENSOR_LSTM_MLFLOW_ARTIFACTS": str(root / "mlflow-artifacts"),
    }
    subprocess.run(["airflow", "db", "migrate"], env=env, check=True, capture_output=True)
    (root / "lake" / "landing").mkdir(parents=True)
    return env, root / "lake"


def dags_test(env, day, *extra, timeout=600, **conf):
    return subprocess.run(
        ["airflow", "dags", "test", DAG_ID, "-c", json.dumps({"day": day, **conf}), *extra],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def report(lake: Path, job: str, day: str) -> dict:
    return json.loads((lake / "reports" / job / f"date={day}" / "report.json").read_text())


class SmtpSink(socketserver.ThreadingTCPServer):
    """Just enough of an SMTP server on a free loopback port to take mail: each message's
    envelope recipients and text, in ``messages``."""

    daemon_threads = True

    def __init__(self):
        self.messages: list[dict] = []
        super().__init__(("127.0.0.1", 0), SmtpSession)


class SmtpSession(socketserver.StreamRequestHandler):
    def reply(self, line: str) -> None:
        self.wfile.write(f"{line}\r\n".encode())

    def handle(self) -> None:
        self.reply("220 sink ESMTP")
        recipients = []
        while line := self.rfile.readline():
            command = line.decode().strip()
            verb = command.split(" ", 1)[0].upper()
            if verb == "DATA":
                self.reply("354 end with <CRLF>.<CRLF>")
                text = b"".join(iter(self.rfile.readline, b".\r\n")).decode()
                self.server.messages.append({"to": recipients, "message": email.message_from_string(text)})
                recipients = []
                self.reply("250 OK")
            elif verb == "RCPT":
                recipients.append(command.split(":", 1)[1].strip(" <>"))
                self.reply("250 OK")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:  # EHLO, HELO, MAIL, RSET, NOOP
                self.reply("250 OK")


def test_a_day_without_input_fails_in_one_line_mails_the_alert_recipients_or_succeeds_when_allowed(pipeline):
    env, lake = pipeline
    sink = SmtpSink()
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    try:
        alerting = env | {
            "SENSOR_LSTM_ALERT_EMAILS": "ops@example.com,data@example.com",
            "AIRFLOW_CONN_SMTP_DEFAULT": json.dumps(
                {
                    "conn_type": "smtp",
                    "host": "127.0.0.1",
                    "port": sink.server_address[1],
                    "extra": {"disable_tls": True, "disable_ssl": True},
                }
            ),
        }
        failed = dags_test(alerting, "2026-10-01", *NO_WAIT_HISTORY_ONLY)
    finally:
        sink.shutdown()
        sink.server_close()
    assert failed.returncode != 0
    log = failed.stdout + failed.stderr
    assert "ingest failed: no landing files in" in log and "for 2026-10-01T00:00:00+00:00" in log
    assert "Traceback" not in log.split("ingest failed:")[0].rsplit("Spark-Submit cmd", 1)[-1]
    (sent,) = sink.messages  # one mail: only ingest failed, and for good (no retries here)
    assert sorted(sent["to"]) == ["data@example.com", "ops@example.com"]
    message = sent["message"]
    assert message["From"] == "sensor-lstm@localhost"
    assert message["Subject"].startswith("[sensor-lstm] sensor_lstm_pipeline.ingest failed (run manual__")
    body = next(part for part in message.walk() if part.get_content_type() == "text/html").get_payload(decode=True)
    assert "ingest: bad input or arguments, not retried" in body.decode()

    allowed = dags_test(env, "2026-10-01", *HISTORY_ONLY, allow_empty_input=True)
    assert allowed.returncode == 0, allowed.stdout[-3000:]
    assert report(lake, "ingest", "2026-10-01")["status"] == "no_data"


@pytest.mark.timeout(1500)
def test_on_a_real_series_at_default_model_params_the_model_beats_every_naive_forecast(pipeline):
    env, lake = pipeline
    manifest = real_series.write_landing(real_series.SERIES["greensboro_temperature"], lake / "landing")
    day, history_days = manifest["last_day"], manifest["days"] - 1
    # The days before the run day, in one ingest, as a backfill would have; the DAG ingests its own.
    subprocess.run(
        [
            "spark-submit",
            "--master",
            "local[2]",
            str(PROJECT_DIR / "spark_jobs" / "ingest.py"),
            "--lake",
            str(lake),
            "--run-date",
            manifest["first_day"],
            "--days",
            str(history_days),
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    # Only the data's settings: every model Param keeps its default.
    run = dags_test(env, day, timeout=1400, lookback_days=manifest["days"], sampling_interval_seconds=3600)
    assert run.returncode == 0, (run.stdout + run.stderr)[-5000:]

    windows = report(lake, "prepare_sequences", day)["windows"]
    assert windows == {"train": 5680, "validation": 854, "calibration": 855, "test": 1275}
    evaluation = report(lake, "evaluate", day)
    table = pq.read_table(evaluation["evaluation_path"]).to_pandas()
    rows = table[table.scored_on == "test_windows"].set_index("forecaster")
    naive = {name: rows.rmse[name] for name in ("persistence", "seasonal_naive_24", "training_mean")}
    assert evaluation["test_windows_left_out"] == 0 and rows.windows["distributed"] == 1275
    assert rows.rmse["distributed"] < min(naive.values()), (rows.loc["distributed"], naive)
    assert rows.mase["distributed"] < rows.mase["persistence"] and rows.skill["distributed"] > 0
    assert evaluation["champion_promoted"] and evaluation["champion_decision"].startswith("no champion yet: version")
    log = run.stdout + run.stderr
    assert f"champion: version {evaluation['candidate_version']} promoted: no champion yet" in log
    # statsforecast's models, on 100 evenly spaced test windows that every forecaster scores.
    sample = table[table.scored_on == "statistical_sample"].set_index("forecaster")
    assert set(sample.index) >= {"distributed", "persistence", "auto_ets", "auto_arima", "mstl"}
    assert set(sample.windows) == {100}
    print(evaluation["statistical_comparison_table"])
    # The intervals on the 1,288 test windows of a real series: within 3 points of the nominal
    # coverage, which the binomial interval over the non-overlapping windows contains.
    coverage = evaluation["interval_coverage"]["overall"]
    assert coverage["windows"] == 1288
    for level in (0.8, 0.95):
        observed, (low, high) = (
            coverage[f"coverage_{round(level * 100)}"],
            coverage[f"coverage_{round(level * 100)}_interval"],
        )
        assert abs(observed - level) <= 0.03 and low <= level <= high, coverage

    # The champion forecasts every sensor from its last reading of the day, 12 hourly steps ahead.
    forecast = report(lake, "forecast", day)
    sensors = report(lake, "prepare_sequences", day)["sensors"]
    assert (forecast["model_version"], forecast["sensors_not_forecast"]) == (evaluation["candidate_version"], {})
    assert (forecast["sensors_forecast"], forecast["forecasts"]) == (sensors, 12 * sensors)
    rows = pq.read_table(forecast["forecasts_path"]).to_pylist()
    readings = pq.read_table(lake / "readings" / f"date={day}").to_pandas()
    last_reading = readings["timestamp"].max()  # the UTC day ends at 05:00 local (America/New_York's winter)
    assert sorted((row["step"], row["issued_at"], row["target_time"] - row["issued_at"]) for row in rows) == sorted(
        (step, last_reading, timedelta(hours=step)) for step in range(1, 13) for _ in range(sensors)
    )
    # Within the day's range, give or take 10 degrees: an unnormalized forecast would be far off.
    assert all(readings["reading"].min() - 10 < row["forecast"] < readings["reading"].max() + 10 for row in rows)
