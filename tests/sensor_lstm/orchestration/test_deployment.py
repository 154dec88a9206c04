from datetime import date

import pytest

from sensor_lstm.errors import JobInputError
from sensor_lstm.orchestration.deployment import PROJECT_ROOT, Deployment
from sensor_lstm.orchestration.tasks import SparkTasks


def test_a_bare_environment_is_the_local_deployment():
    deployment = Deployment.from_environ({})
    assert (deployment.project_dir, deployment.lake.root) == (PROJECT_ROOT, f"{PROJECT_ROOT}/var/lake")
    assert (deployment.start_date, deployment.catchup, deployment.max_active_runs) == (date(2026, 11, 1), True, 4)
    assert (deployment.task_retries, deployment.retry_delay_seconds) == (2, 120)
    assert (deployment.spark_cores, deployment.data_job_cores) == (0, 2)
    assert deployment.event_log_dir == f"file://{PROJECT_ROOT}/var/lake/_spark_events"
    assert (deployment.history_url, deployment.alert_emails) == ("", [])
    assert deployment.driver_java_options == ""
    assert "spark.driver.extraJavaOptions" not in SparkTasks(deployment).spark_conf()  # the JVM's own
    assert deployment.job_settings == {
        "lake": f"{PROJECT_ROOT}/var/lake",
        "nics": "",
        "model_name": "sensor_lstm",
        "experiment": "sensor_lstm_pipeline",
    }


def test_the_environment_overrides_each_setting():
    deployment = Deployment.from_environ(
        {
            "SENSOR_LSTM_HOME": "/opt/sensor-lstm",
            "SENSOR_LSTM_LAKE": "file:///data/lake/",
            "SENSOR_LSTM_START_DATE": "",
            "SENSOR_LSTM_CATCHUP": "False",
            "SENSOR_LSTM_SPARK_CORES": "4",
            "SENSOR_LSTM_SPARK_EVENT_LOG_DIR": "",
            "SENSOR_LSTM_ALERT_EMAILS": "ops@example.com, data@example.com,",
            "SENSOR_LSTM_HOROVOD_NICS": "eth0",
            "SENSOR_LSTM_MODEL_NAME": "plant_lstm",
            "SENSOR_LSTM_SPARK_DRIVER_JAVA_OPTIONS": " -XX:+UseSerialGC -XX:TieredStopAtLevel=1 ",
        }
    )
    assert (deployment.project_dir, deployment.lake.root, deployment.lake_uri) == (
        "/opt/sensor-lstm",
        "/data/lake",
        "file:///data/lake",
    )
    assert (deployment.start_date, deployment.catchup, deployment.spark_cores) == (date(2026, 11, 1), False, 4)
    assert deployment.event_log_dir == ""  # set empty: no event logs
    assert deployment.alert_emails == ["ops@example.com", "data@example.com"]
    spark_conf = SparkTasks(deployment).spark_conf()
    assert spark_conf["spark.driver.extraJavaOptions"] == "-XX:+UseSerialGC -XX:TieredStopAtLevel=1"
    assert deployment.job_settings | {"lake": ""} == {
        "lake": "",
        "nics": "eth0",
        "model_name": "plant_lstm",
        "experiment": "sensor_lstm_pipeline",
    }


def test_a_lake_on_another_file_system_fails_the_dags_import_with_the_reason():
    with pytest.raises(JobInputError, match="only a folder every node sees at the same path"):
        Deployment.from_environ({"SENSOR_LSTM_LAKE": "s3a://bucket/lake"})
