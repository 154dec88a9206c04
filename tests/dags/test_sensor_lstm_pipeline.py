import copy
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest

DAGS_DIR = Path(__file__).resolve().parents[2] / "dags"
DAG_FILES = sorted(DAGS_DIR.glob("*.py"))
CONNECTION = '{"conn_type": "spark", "host": "spark://spark-master:7077"}'


def parse_dags(**environment: str):
    from airflow.dag_processing.dagbag import DagBag

    # Deployment settings are read when the file is parsed: fix them so commands are literal.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SENSOR_LSTM_HOME", "/opt/sensor-lstm")
        patch.setenv("SENSOR_LSTM_LAKE", "/data/lake")
        for name in (
            "SENSOR_LSTM_TASK_RETRIES",
            "SENSOR_LSTM_TASK_RETRY_DELAY_SECONDS",
            "SENSOR_LSTM_SPARK_CORES",
            "SENSOR_LSTM_SPARK_JOB_CORES",
            "SENSOR_LSTM_CATCHUP",
            "SENSOR_LSTM_MLFLOW_EXPERIMENT",
            "SENSOR_LSTM_MODEL_NAME",
            "SENSOR_LSTM_SPARK_EVENT_LOG_DIR",
            "SENSOR_LSTM_SPARK_HISTORY_URL",
        ):
            patch.delenv(name, raising=False)
        patch.setenv("SENSOR_LSTM_HOROVOD_NICS", "eth0")
        for name, value in environment.items():
            patch.setenv(name, value)
        return DagBag(dag_folder=str(DAGS_DIR))


@pytest.fixture(scope="module")
def dagbag():
    return parse_dags()


@pytest.fixture
def dag(dagbag):
    return dagbag.dags["sensor_lstm_pipeline"]


@pytest.mark.parametrize("dag_file", DAG_FILES, ids=lambda path: path.name)
def test_dag_file_imports_without_errors(dagbag, dag_file):
    assert str(dag_file) not in dagbag.import_errors, dagbag.import_errors.get(str(dag_file))


@pytest.mark.parametrize("dag_file", DAG_FILES, ids=lambda path: path.name)
def test_dag_file_imports_no_heavy_library(dag_file):
    heavy = ("pyspark", "tensorflow", "horovod", "pandas", "mlflow")
    probe = (
        "import runpy, sys; runpy.run_path(sys.argv[1]);"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {heavy!r}))"
    )
    result = subprocess.run([sys.executable, "-c", probe, str(dag_file)], capture_output=True, text=True, check=True)
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_task_graph(dag):
    assert {task.task_id: sorted(task.downstream_task_ids) for task in dag.tasks} == {
        "check_params": ["wait_for_landing_file"],
        "wait_for_landing_file": ["ingest"],
        "ingest": ["prepare_sequences"],
        "prepare_sequences": ["train_baseline", "train_distributed"],
        "train_baseline": ["evaluate"],
        "train_distributed": ["evaluate"],
        "evaluate": ["forecast"],
        "forecast": [],
    }


def test_policy_schedule_retries_and_docs(dag):
    assert dag.catchup is True
    # Runs for different days go side by side; the trainings and the champion's choice take turns.
    assert dag.max_active_runs == 4
    assert {task.task_id for task in dag.tasks if task.max_active_tis_per_dag == 1} == {
        "train_baseline",
        "train_distributed",
        "evaluate",
    }
    assert set(dag.tags) == {"sensors", "spark", "lstm"}
    assert dag.doc_md and "sensor_lstm_pipeline" in dag.doc_md
    assert dag.timetable.summary == "0 0 * * *"
    for task in dag.tasks:
        assert task.retries == 2
        assert task.execution_timeout is not None


def test_params_have_defaults_the_trigger_form_can_edit(dag):
    assert {name: param.value for name, param in dag.params.items()} == {
        "day": None,
        "seq_len": 24,
        "horizon": 1,
        "sampling_interval_seconds": 60,
        "lookback_days": 3,
        "train_fraction": 0.7,
        "validation_fraction": 0.15,
        "seasonal_periods": None,
        "partitions": 4,
        "lstm_units": 32,
        "epochs": 200,
        "batch_size": 256,
        "learning_rate": 0.002,
        "patience": 10,
        "training_budget_minutes": 30,
        "champion_min_skill": 0.0,
        "num_proc": 2,
        "threads_per_rank": 1,
        "landing_file_timeout_minutes": 360,
        "allow_empty_input": False,
        "max_quarantined_fraction": 0.1,
        "reading_min": -1e12,
        "reading_max": 1e12,
        "promote_older_day": False,
        "forecast_steps": 12,
    }
    assert dag.params.get_param("seq_len").schema["type"] == "integer"


# Each Param that a job takes as an argument, and the argument's name in each job that takes it.
JOB_ARGUMENTS = {
    "max_quarantined_fraction": {"ingest": "max_quarantined_fraction"},
    "reading_min": {"ingest": "reading_min"},
    "reading_max": {"ingest": "reading_max"},
    "seq_len": {"prepare_sequences": "seq_len"},
    "horizon": {"prepare_sequences": "horizon"},
    "sampling_interval_seconds": {"prepare_sequences": "sampling_interval_seconds"},
    "lookback_days": {"prepare_sequences": "lookback_days"},
    "train_fraction": {"prepare_sequences": "train_fraction"},
    "validation_fraction": {"prepare_sequences": "validation_fraction"},
    "partitions": {"train_baseline": "partitions"},
    "lstm_units": {"train_baseline": "units", "train_distributed": "units"},
    "epochs": {"train_baseline": "epochs", "train_distributed": "epochs"},
    "batch_size": {"train_baseline": "batch_size", "train_distributed": "batch_size"},
    "learning_rate": {"train_baseline": "learning_rate", "train_distributed": "learning_rate"},
    "patience": {"train_baseline": "patience", "train_distributed": "patience"},
    "training_budget_minutes": {
        "train_baseline": "training_budget_minutes",
        "train_distributed": "training_budget_minutes",
    },
    "champion_min_skill": {"evaluate": "min_skill"},
    "promote_older_day": {"evaluate": "promote_older_day"},
    "num_proc": {"train_distributed": "num_proc"},
    "threads_per_rank": {"train_distributed": "threads_per_rank"},
    "forecast_steps": {"forecast": "steps"},
}


def test_params_default_to_the_jobs_own_defaults(dag):
    # The jobs run by hand or in benchmarks with their own defaults: they must be the DAG's.
    import importlib

    defaults = {}
    for job in ("ingest", "prepare_sequences", "train_baseline", "train_distributed", "evaluate", "forecast"):
        module = importlib.import_module(f"spark_jobs.{job}")
        defaults[job] = vars(module.parse_args(["--lake", "/lake", "--run-date", "2026-11-25"]))
    assert {
        (param, job): defaults[job][argument] for param, jobs in JOB_ARGUMENTS.items() for job, argument in jobs.items()
    } == {(param, job): dag.params[param] for param, jobs in JOB_ARGUMENTS.items() for job in jobs}


def rendered_command(
    dag, task_id, params_override=None, data_interval_start=datetime(2026, 11, 25, tzinfo=UTC), extra_context=None
):
    """The exact spark-submit command line the hook would run (by default for 2026-11-25)."""
    task = copy.deepcopy(dag.get_task(task_id))  # rendering replaces the templates in place
    params = {name: param.value for name, param in dag.params.items()} | (params_override or {})
    context = {
        "data_interval_start": data_interval_start,
        "dag_run": SimpleNamespace(run_after=datetime(2026, 11, 27, 9, 30, tzinfo=UTC)),
        "params": params,
        **dag.user_defined_macros,
        **(extra_context or {}),
    }
    task.render_template_fields(context)
    return task._get_hook()._build_spark_submit_command(task.application)


def test_ingest_command_line(dag, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_SPARK_DEFAULT", CONNECTION)
    command = rendered_command(dag, "ingest")
    assert command == [
        "spark-submit",
        "--master",
        "spark://spark-master:7077",
        "--conf",
        "spark.sql.session.timeZone=UTC",
        "--conf",
        "spark.executorEnv.PYTHONPATH=/opt/sensor-lstm",
        "--conf",
        "spark.log.level=WARN",
        # Every job's event log, in the lake, for the Spark history server.
        "--conf",
        "spark.eventLog.enabled=true",
        "--conf",
        "spark.eventLog.dir=file:///data/lake/_spark_events",
        "--name",
        "sensor_lstm_pipeline.ingest",
        "/opt/sensor-lstm/spark_jobs/ingest.py",
        "--lake",
        "/data/lake",
        "--run-date",
        "2026-11-25",
        "--no-allow-empty",
        "--max-quarantined-fraction",
        "0.1",
        "--reading-min",
        "-1000000000000.0",
        "--reading-max",
        "1000000000000.0",
    ]
    assert "--allow-empty" in rendered_command(dag, "ingest", {"allow_empty_input": True})


def test_run_day_comes_from_the_day_param_then_the_data_interval_then_the_trigger_time(dag, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_SPARK_DEFAULT", CONNECTION)
    for params, interval_start, expected in [
        ({"day": "2026-10-03"}, datetime(2026, 11, 25, tzinfo=UTC), "2026-10-03"),
        ({}, datetime(2026, 11, 25, tzinfo=UTC), "2026-11-25"),
        ({}, None, "2026-11-26"),
    ]:
        command = rendered_command(dag, "ingest", params, data_interval_start=interval_start)
        assert command[command.index("--run-date") + 1] == expected


def test_prepare_sequences_command_line_carries_the_params(dag, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_SPARK_DEFAULT", CONNECTION)
    command = rendered_command(dag, "prepare_sequences", {"seq_len": 48, "horizon": 5, "sampling_interval_seconds": 10})
    assert command[command.index("/opt/sensor-lstm/spark_jobs/prepare_sequences.py") + 1 :] == [
        "--lake",
        "/data/lake",
        "--run-date",
        "2026-11-25",
        "--lookback-days",
        "3",
        "--sampling-interval-seconds",
        "10",
        "--seq-len",
        "48",
        "--horizon",
        "5",
        "--train-fraction",
        "0.7",
        "--validation-fraction",
        "0.15",
        "--seasonal-periods",
        "day",
    ]
    seasons = [
        rendered_command(dag, "prepare_sequences", {"seasonal_periods": periods})[-1] for periods in ([24, 168], [])
    ]
    assert seasons == ["24,168", "none"]


def mlflow_args(task_id):
    return [
        "--experiment",
        "sensor_lstm_pipeline",
        "--tag",
        "dag_id=sensor_lstm_pipeline",
        "--tag",
        "airflow_run_id=manual__2026-11-26T10:00:00+00:00",
        "--tag",
        "logical_date=2026-11-25T00:00:00+00:00",
        "--tag",
        f"task={task_id}",
        "--tag",
        "try_number=2",
    ]


def run_context(task_id):
    return {
        "run_id": "manual__2026-11-26T10:00:00+00:00",
        "logical_date": datetime(2026, 11, 25, tzinfo=UTC),
        "ti": SimpleNamespace(task_id=task_id, try_number=2),
    }


def test_train_baseline_command_line_carries_model_params_and_mlflow_tags(dag, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_SPARK_DEFAULT", CONNECTION)
    command = rendered_command(
        dag, "train_baseline", {"partitions": 8, "epochs": 2}, extra_context=run_context("train_baseline")
    )
    assert "spark.cores.max=8" in command
    assert command[command.index("/opt/sensor-lstm/spark_jobs/train_baseline.py") + 1 :] == [
        "--lake",
        "/data/lake",
        "--run-date",
        "2026-11-25",
        "--partitions",
        "8",
        "--units",
        "32",
        "--epochs",
        "2",
        "--patience",
        "10",
        "--training-budget-minutes",
        "30",
        "--batch-size",
        "256",
        "--learning-rate",
        "0.002",
        *mlflow_args("train_baseline"),
    ]


@pytest.fixture(scope="module")
def cluster_dag():
    """The DAG as the compose stack parses it: a cluster of 4 cores, and its pool."""
    return parse_dags(SENSOR_LSTM_SPARK_CORES="4").dags["sensor_lstm_pipeline"]


SPARK_TASKS = ["ingest", "prepare_sequences", "train_baseline", "train_distributed", "evaluate", "forecast"]


def test_on_a_cluster_of_known_size_every_spark_task_takes_a_slot_per_core_of_the_spark_cores_pool(
    cluster_dag, monkeypatch
):
    monkeypatch.setenv("AIRFLOW_CONN_SPARK_DEFAULT", CONNECTION)
    # At the default Params: 2 ranks, and train_baseline's 4 partitions on the 2 cores they leave.
    assert {task.task_id: (task.pool, task.pool_slots) for task in cluster_dag.tasks} == {
        "check_params": ("default_pool", 1),
        "wait_for_landing_file": ("default_pool", 1),  # deferred, it holds no core and no worker slot
        **{task_id: ("spark_cores", 2) for task_id in SPARK_TASKS},
    }
    for task_id in SPARK_TASKS:
        command = rendered_command(cluster_dag, task_id, extra_context=run_context(task_id))
        assert "spark.cores.max=2" in command, task_id
    # The pool queues them: the trainings need not take turns across runs. The champion's choice does.
    assert {task.task_id for task in cluster_dag.tasks if task.max_active_tis_per_dag == 1} == {"evaluate"}


@pytest.mark.parametrize(
    ("params", "cores"),
    [
        ({}, 2),
        ({"partitions": 1}, 1),
        ({"num_proc": 1}, 3),
        ({"threads_per_rank": 2}, 1),  # the ranks take all 4: never zero, it waits in the pool
        ({"partitions": 16, "num_proc": 1, "threads_per_rank": 1}, 3),
    ],
)
def test_train_baseline_leaves_train_distributed_its_cores_on_a_cluster_of_known_size(
    cluster_dag, monkeypatch, params, cores
):
    monkeypatch.setenv("AIRFLOW_CONN_SPARK_DEFAULT", CONNECTION)
    command = rendered_command(cluster_dag, "train_baseline", params, extra_context=run_context("train_baseline"))
    assert f"spark.cores.max={cores}" in command


def test_each_run_s_spark_tasks_take_the_pool_slots_of_its_own_params(cluster_dag):
    # As the scheduler sees the DAG (serialized) and makes a run's task instances: Airflow applies
    # the cluster policy in plugins/airflow_local_settings.py, which scripts/env.sh's plugins folder loads.
    import uuid

    import airflow.settings
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.serialization.serialized_objects import DagSerialization

    assert airflow.settings.task_instance_mutation_hook.is_noop is False
    scheduled = DagSerialization.from_dict(DagSerialization.to_dict(cluster_dag))

    def slots(run_conf: dict) -> dict:
        run = DagRun(dag_id=scheduled.dag_id, run_id="manual__probe", conf=run_conf, run_type="manual")
        taken = {}
        for task in scheduled.tasks:
            instance = TaskInstance(task, run_id=run.run_id, dag_version_id=uuid.uuid4())
            instance.refresh_from_task(task, dag_run=run)
            taken[task.task_id] = (instance.pool, instance.pool_slots)
        return taken

    at_defaults = slots({})
    assert at_defaults == {task.task_id: (task.pool, task.pool_slots) for task in cluster_dag.tasks}
    assert slots({"num_proc": 3, "threads_per_rank": 1}) == at_defaults | {
        "train_distributed": ("spark_cores", 3),
        "train_baseline": ("spark_cores", 1),
    }
    assert slots({"num_proc": 1, "threads_per_rank": 2, "partitions": 1}) == at_defaults | {
        "train_distributed": ("spark_cores", 2),
        "train_baseline": ("spark_cores", 1),
    }


def test_where_the_cluster_size_is_unknown_no_pool_is_used_and_the_trainings_take_turns(dag, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_SPARK_DEFAULT", CONNECTION)
    assert {task.pool for task in dag.tasks} == {"default_pool"}
    assert "spark.cores.max=4" in rendered_command(dag, "train_baseline", extra_context=run_context("train_baseline"))
    assert not any("spark.cores.max" in part for part in rendered_command(dag, "ingest"))  # local[*]: all it has


def test_train_distributed_gives_each_rank_whole_cores(dag, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_SPARK_DEFAULT", CONNECTION)
    params = {"num_proc": 3, "threads_per_rank": 2, "epochs": 7, "training_budget_minutes": 12.5}
    command = rendered_command(dag, "train_distributed", params, extra_context=run_context("train_distributed"))
    assert "spark.task.cpus=2" in command and "spark.cores.max=6" in command
    assert "spark.task.maxFailures=1" in command  # a lost rank fails the attempt; the retry starts all
    assert command[command.index("/opt/sensor-lstm/spark_jobs/train_distributed.py") + 1 :] == [
        "--lake",
        "/data/lake",
        "--run-date",
        "2026-11-25",
        "--num-proc",
        "3",
        "--threads-per-rank",
        "2",
        "--nics",
        "eth0",  # SENSOR_LSTM_HOROVOD_NICS, a deployment setting
        "--units",
        "32",
        "--epochs",
        "7",
        "--patience",
        "10",
        "--training-budget-minutes",
        "12.5",
        "--batch-size",
        "256",
        "--learning-rate",
        "0.002",
        "--model-name",
        "sensor_lstm",
        *mlflow_args("train_distributed"),
    ]


@pytest.mark.parametrize("task_id", ["train_baseline", "train_distributed", "evaluate"])
def test_a_run_without_logical_date_renders_an_empty_tag(dag, monkeypatch, task_id):
    # What the UI's trigger form starts: the context has no logical_date key at all.
    monkeypatch.setenv("AIRFLOW_CONN_SPARK_DEFAULT", CONNECTION)
    context = {key: value for key, value in run_context(task_id).items() if key != "logical_date"}
    command = rendered_command(dag, task_id, {"day": "2026-11-24"}, data_interval_start=None, extra_context=context)
    assert command[command.index("--run-date") + 1] == "2026-11-24"
    assert "logical_date=" in command


def test_evaluate_command_line(dag, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_SPARK_DEFAULT", CONNECTION)
    command = rendered_command(dag, "evaluate", {"champion_min_skill": 0.05}, extra_context=run_context("evaluate"))
    assert command[command.index("/opt/sensor-lstm/spark_jobs/evaluate.py") + 1 :] == [
        "--lake",
        "/data/lake",
        "--run-date",
        "2026-11-25",
        "--min-skill",
        "0.05",
        "--no-promote-older-day",
        "--model-name",
        "sensor_lstm",
        *mlflow_args("evaluate"),
    ]
    command = rendered_command(dag, "evaluate", {"promote_older_day": True}, extra_context=run_context("evaluate"))
    assert "--promote-older-day" in command


def test_forecast_command_line(dag, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_SPARK_DEFAULT", CONNECTION)
    command = rendered_command(dag, "forecast", {"forecast_steps": 6})
    assert command[command.index("/opt/sensor-lstm/spark_jobs/forecast.py") + 1 :] == [
        "--lake",
        "/data/lake",
        "--run-date",
        "2026-11-25",
        "--steps",
        "6",
        "--model-name",
        "sensor_lstm",
    ]


def dag_module() -> dict:
    """The DAG file's globals, for its plain functions and classes."""
    import runpy

    return runpy.run_path(str(DAGS_DIR / "sensor_lstm_pipeline.py"))


def default_params(dag) -> dict:
    return {name: param.value for name, param in dag.params.items()}


def test_params_that_do_not_fit_together_are_refused_before_any_job(dag):
    param_problems = dag_module()["param_problems"]
    today = datetime(2026, 11, 27).date()
    assert param_problems(default_params(dag), today, cluster_cores=4) == []
    refused = default_params(dag) | {
        "day": "2026-11-28",
        "train_fraction": 0.8,
        "validation_fraction": 0.2,
        "seq_len": 4000,
        "horizon": 320,
        "seasonal_periods": [24, 4320],
        "reading_min": 5,
        "reading_max": 5,
        "num_proc": 3,
        "threads_per_rank": 2,
    }
    assert param_problems(refused, today, cluster_cores=4) == [
        "day 2026-11-28 is in the future (today is 2026-11-27 UTC)",
        "train_fraction + validation_fraction must be below 1, leaving test windows; got 0.8 + 0.2",
        "a window and its target (seq_len + horizon = 4320 readings, 259200 s) do not fit in the lookback (3 days)",
        "seasonal period 4320 readings is as long as the lookback or longer",
        "reading_min (5) must be below reading_max (5)",
        "train_distributed needs num_proc x threads_per_rank = 6 cores at once; the cluster has 4 "
        "(SENSOR_LSTM_SPARK_CORES)",
    ]
    assert param_problems(refused | {"num_proc": 64}, today, cluster_cores=0)[-1].startswith("reading_min")


@pytest.mark.parametrize(
    "name, value", [("num_proc", 65), ("partitions", 1025), ("batch_size", 65537), ("learning_rate", 1.5)]
)
def test_params_have_sane_maxima(dag, name, value):
    from airflow.sdk.definitions.param import ParamValidationError

    with pytest.raises(ParamValidationError):
        dag.params.get_param(name).resolve(value)


@pytest.mark.parametrize("exit_code, retried", [(2, False), (1, True)])
def test_a_jobs_input_error_exit_code_2_is_not_retried(dag, monkeypatch, tmp_path, exit_code, retried):
    from airflow.sdk.exceptions import AirflowException, AirflowFailException

    SparkJobOperator = dag_module()["SparkJobOperator"]
    monkeypatch.setenv("AIRFLOW_CONN_SPARK_DEFAULT", '{"conn_type": "spark", "host": "local[1]"}')
    job = tmp_path / "job.py"
    job.write_text(f"import sys\nprint('job failed: why')\nsys.exit({exit_code})\n")
    operator = SparkJobOperator(task_id="job", conn_id="spark_default", application=str(job))
    with pytest.raises(AirflowException) as raised:
        operator.execute({})
    assert isinstance(raised.value, AirflowFailException) is not retried


def test_each_job_that_writes_a_dataset_declares_it_as_an_asset(dag):
    assert {
        task.task_id: [(outlet.name, outlet.uri) for outlet in task.outlets] for task in dag.tasks if task.outlets
    } == {
        "ingest": [("sensor_lstm.readings", "file:///data/lake/readings")],
        "prepare_sequences": [("sensor_lstm.sequences", "file:///data/lake/sequences")],
        "evaluate": [("sensor_lstm.champion", "models:/sensor_lstm@champion")],
        "forecast": [("sensor_lstm.forecasts", "file:///data/lake/forecasts")],
    }


def test_a_jobs_asset_event_carries_the_counts_of_its_report_for_the_run_day(monkeypatch, tmp_path):
    from airflow.sdk import Asset
    from airflow.sdk.execution_time.context import OutletEventAccessors

    monkeypatch.setenv("SENSOR_LSTM_LAKE", str(tmp_path))
    monkeypatch.setenv("AIRFLOW_CONN_SPARK_DEFAULT", '{"conn_type": "spark", "host": "local[1]"}')
    module = dag_module()
    report = tmp_path / "reports" / "ingest" / "date=2026-11-25" / "report.json"
    report.parent.mkdir(parents=True)
    report.write_text('{"status": "ok", "rows_written": 48, "files": ["sensor_readings_2026-11-25.csv"]}')
    job = tmp_path / "job.py"
    job.write_text("print('job done')\n")
    readings = Asset(name="readings", uri=f"file://{tmp_path}/readings")
    operator = module["SparkJobOperator"](
        task_id="ingest",
        conn_id="spark_default",
        application=str(job),
        application_args=["--lake", str(tmp_path), "--run-date", "2026-11-25"],
        outlets=[readings],
        extra_fields=("status", "rows_written", "rows_quarantined"),
    )
    events = OutletEventAccessors()
    operator.execute({"outlet_events": events})
    assert events[readings].extra == {"run_date": "2026-11-25", "status": "ok", "rows_written": 48}
    assert module["local_lake_path"]("hdfs://namenode/lake") is None
    assert module["local_lake_path"]("file:///data/lake") == "/data/lake"


def test_a_jobs_task_log_links_its_spark_ui_on_the_history_server_and_its_event_log_lands_in_the_lake(
    monkeypatch, tmp_path, capfd
):
    monkeypatch.setenv("SENSOR_LSTM_LAKE", str(tmp_path))
    monkeypatch.setenv("SENSOR_LSTM_SPARK_HISTORY_URL", "http://history.example:18080")
    monkeypatch.delenv("SENSOR_LSTM_SPARK_EVENT_LOG_DIR", raising=False)
    monkeypatch.setenv("AIRFLOW_CONN_SPARK_DEFAULT", '{"conn_type": "spark", "host": "local[1]"}')
    module = dag_module()
    job = tmp_path / "probe.py"
    job.write_text(
        "import argparse, sys\nfrom spark_jobs.job import run_job\nfrom spark_jobs.lake import add_lake_arguments\n"
        "parser = argparse.ArgumentParser()\nadd_lake_arguments(parser)\n"
        "run_job('probe', parser.parse_args, lambda spark, args: None, sys.argv[1:])\n"
    )
    operator = module["SparkJobOperator"](
        task_id="probe",
        conn_id="spark_default",
        application=str(job),
        conf=module["SPARK_CONF"],
        env_vars=module["SPARK_ENV"],
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


def test_failure_alerts_by_mail_are_off_unless_recipients_are_set(monkeypatch):
    from airflow.providers.smtp.notifications.smtp import SmtpNotifier

    monkeypatch.delenv("SENSOR_LSTM_ALERT_EMAILS", raising=False)
    assert dag_module()["default_args"]["on_failure_callback"] is None
    monkeypatch.setenv("SENSOR_LSTM_ALERT_EMAILS", "ops@example.com, data@example.com")
    alert = dag_module()["default_args"]["on_failure_callback"]
    assert isinstance(alert, SmtpNotifier)
    assert (alert.to, alert.smtp_conn_id, alert.from_email) == (
        ["ops@example.com", "data@example.com"],
        "smtp_default",
        "sensor-lstm@localhost",
    )


def landing_sensor(dag, params: dict):
    """The wait_for_landing_file task as the worker runs it, for 2026-11-25, on SENSOR_LSTM_LAKE."""
    sensor = dag_module()["LandingFileSensor"](task_id="wait_for_landing_file")
    context = {
        "params": default_params(dag) | params,
        "data_interval_start": datetime(2026, 11, 25, tzinfo=UTC),
        "dag_run": None,
        **dag.user_defined_macros,
    }
    sensor.render_template_fields(context)
    return sensor, context


def test_the_run_waits_for_its_landing_file_deferred_for_the_timeout_param(dag, monkeypatch, tmp_path):
    from airflow.sdk.exceptions import TaskDeferred

    monkeypatch.setenv("SENSOR_LSTM_LAKE", str(tmp_path))
    sensor, context = landing_sensor(dag, {"landing_file_timeout_minutes": 90})
    assert sensor.filepath == f"{tmp_path}/landing/sensor_readings_2026-11-25.csv*"
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute(context)
    assert deferred.value.timeout.total_seconds() == 90 * 60
    assert deferred.value.trigger.filepath == sensor.filepath
    assert deferred.value.trigger.__class__.__name__ == "FileTrigger"  # the standard provider's: the triggerer runs it

    (tmp_path / "landing").mkdir()
    (tmp_path / "landing" / "sensor_readings_2026-11-25.csv.gz").write_bytes(b"")
    assert sensor.execute(context) is None  # there: no wait


def test_with_allow_empty_input_a_missing_file_is_left_to_ingest(dag, monkeypatch, tmp_path):
    monkeypatch.setenv("SENSOR_LSTM_LAKE", str(tmp_path))
    sensor, context = landing_sensor(dag, {"allow_empty_input": True})
    assert sensor.execute(context) is None


def test_no_landing_file_within_the_timeout_fails_once_saying_what_is_missing(dag, monkeypatch, tmp_path):
    from airflow.sdk.exceptions import AirflowSensorTimeout

    monkeypatch.setenv("SENSOR_LSTM_LAKE", str(tmp_path))
    sensor, context = landing_sensor(dag, {"landing_file_timeout_minutes": 45})
    # What the worker runs once the scheduler finds the deferral timed out.
    with pytest.raises(
        AirflowSensorTimeout,
        match=(
            rf"^no landing file {tmp_path}/landing/sensor_readings_2026-11-25.csv\* after waiting 45 minutes "
            r"\(landing_file_timeout_minutes\); not retried: deliver the file and clear this task$"
        ),
    ):
        sensor.resume_execution("__fail__", {"error": "Trigger timeout"}, context)  # the scheduler's words
