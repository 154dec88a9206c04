import copy
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest

from sensor_lstm.settings.table import AUTO_WINDOWS_PER_RANK

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
        "prepare_sequences": ["fit_statistical", "train_baseline", "train_distributed"],
        "train_baseline": ["evaluate"],
        "train_distributed": ["evaluate"],
        "fit_statistical": ["evaluate"],
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
        "train_fraction": 0.65,
        "validation_fraction": 0.1,
        "calibration_fraction": 0.1,
        "seasonal_periods": None,
        "partitions": 4,
        "min_train_windows": 100,
        "lstm_units": 32,
        "lstm_learns_change": True,
        "epochs": 200,
        "batch_size": 256,
        "learning_rate": 0.002,
        "patience": 10,
        "training_budget_minutes": 30,
        "champion_min_skill": 0.0,
        "champion_min_share": 0.5,
        "num_proc": "auto",
        "auto_max_ranks": 2,
        "auto_windows_per_rank": AUTO_WINDOWS_PER_RANK,
        "threads_per_rank": 1,
        "statistical_models": ["auto_ets", "auto_arima", "mstl"],
        "statistical_targets": 100,
        "statistical_fit_days": 28,
        "statistical_sensor_seconds": 60,
        "landing_file_timeout_minutes": 360,
        "allow_empty_input": False,
        "max_quarantined_fraction": 0.1,
        "reading_min": -1e12,
        "reading_max": 1e12,
        "promote_older_day": False,
        "forecast_steps": 12,
        "grid_aggregate": "mean",
        "timestamp_zone": "UTC",
        "max_late_days": 7,
        "missing_value_sentinels": [-999, -9999],
        "duplicate_conflicts": "keep_later_delivery",
        "std_floor_absolute": 1e-6,
        "std_floor_relative": 0.001,
    }
    assert dag.params.get_param("seq_len").schema["type"] == "integer"
    assert dag.params.get_param("grid_aggregate").schema["enum"] == ["mean", "nearest", "last"]
    assert dag.params.get_param("statistical_models").schema["items"] == {
        "type": "string",
        "enum": ["auto_ets", "auto_arima", "mstl"],
    }


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


SPARK_TASKS = [
    "ingest",
    "prepare_sequences",
    "train_baseline",
    "train_distributed",
    "fit_statistical",
    "evaluate",
    "forecast",
]


@pytest.mark.parametrize("job", SPARK_TASKS)
def test_each_jobs_parser_takes_exactly_the_arguments_the_dag_renders_with_the_params_values(dag, monkeypatch, job):
    from sensor_lstm.settings import BY_NAME, Source, job_parser

    monkeypatch.setenv("AIRFLOW_CONN_SPARK_DEFAULT", CONNECTION)
    params = {"day": "2026-11-24", "seasonal_periods": [24, 168], "allow_empty_input": True, "num_proc": 3}
    command = rendered_command(dag, job, params, extra_context=run_context(job))
    arguments = command[command.index(f"/opt/sensor-lstm/spark_jobs/{job}.py") + 1 :]
    parser = job_parser(job, job)
    parsed = vars(parser.parse_args(arguments))
    rendered = {
        argument.removeprefix("--no-").removeprefix("--").partition("=")[0]
        for argument in arguments
        if argument[:2] == "--"
    }
    taken = {
        action.dest.replace("_", "-")
        for action in parser._actions
        if action.dest in BY_NAME and BY_NAME[action.dest].source is not Source.JOB_OPTION
    }
    assert rendered == taken
    run_params = {name: param.value for name, param in dag.params.items()} | params
    assert {name: parsed[name] for name in parsed if name in run_params} == {
        name: run_params[name] for name in parsed if name in run_params
    }
    assert str(parsed["run_date"]) == "2026-11-24" and str(parsed["lake"]) == "/data/lake"


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
        "--no-allow-empty-input",
        "--reading-min",
        "-1000000000000.0",
        "--reading-max",
        "1000000000000.0",
        "--timestamp-zone",
        "UTC",
        "--max-late-days",
        "7",
        "--missing-value-sentinels=-999,-9999",
        "--duplicate-conflicts",
        "keep_later_delivery",
        "--max-quarantined-fraction",
        "0.1",
    ]
    assert "--allow-empty-input" in rendered_command(dag, "ingest", {"allow_empty_input": True})
    sentinels = [rendered_command(dag, "ingest", {"missing_value_sentinels": values}) for values in ([-99.5], [])]
    assert [next(a for a in command if a.startswith("--missing-value-sentinels=")) for command in sentinels] == [
        "--missing-value-sentinels=-99.5",
        "--missing-value-sentinels=none",
    ]


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
    command = rendered_command(
        dag,
        "prepare_sequences",
        {"seq_len": 48, "horizon": 5, "sampling_interval_seconds": 10, "grid_aggregate": "last"},
    )
    assert command[command.index("/opt/sensor-lstm/spark_jobs/prepare_sequences.py") + 1 :] == [
        "--lake",
        "/data/lake",
        "--run-date",
        "2026-11-25",
        "--sampling-interval-seconds",
        "10",
        "--grid-aggregate",
        "last",
        "--lookback-days",
        "3",
        "--seq-len",
        "48",
        "--horizon",
        "5",
        "--train-fraction",
        "0.65",
        "--validation-fraction",
        "0.1",
        "--calibration-fraction",
        "0.1",
        "--std-floor-absolute",
        "1e-06",
        "--std-floor-relative",
        "0.001",
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
        "--lstm-units",
        "32",
        "--lstm-learns-change",
        "--epochs",
        "2",
        "--batch-size",
        "256",
        "--learning-rate",
        "0.002",
        "--patience",
        "10",
        "--training-budget-minutes",
        "30",
        "--partitions",
        "8",
        "--min-train-windows",
        "100",
        *mlflow_args("train_baseline"),
    ]


@pytest.fixture(scope="module")
def cluster_dag():
    """The DAG as the compose stack parses it: a cluster of 4 cores, and its pool."""
    return parse_dags(SENSOR_LSTM_SPARK_CORES="4").dags["sensor_lstm_pipeline"]


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
        "--lstm-units",
        "32",
        "--lstm-learns-change",
        "--epochs",
        "7",
        "--batch-size",
        "256",
        "--learning-rate",
        "0.002",
        "--patience",
        "10",
        "--training-budget-minutes",
        "12.5",
        "--num-proc",
        "3",
        "--auto-max-ranks",
        "2",
        "--auto-windows-per-rank",
        str(AUTO_WINDOWS_PER_RANK),
        "--threads-per-rank",
        "2",
        "--nics",
        "eth0",  # SENSOR_LSTM_HOROVOD_NICS, a deployment setting
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
        "--champion-min-skill",
        "0.05",
        "--champion-min-share",
        "0.5",
        "--no-promote-older-day",
        "--forecast-steps",
        "12",
        "--model-name",
        "sensor_lstm",
        *mlflow_args("evaluate"),
    ]
    command = rendered_command(dag, "evaluate", {"promote_older_day": True}, extra_context=run_context("evaluate"))
    assert "--promote-older-day" in command


def test_fit_statistical_command_line_spells_no_models_as_none(dag, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_SPARK_DEFAULT", CONNECTION)
    params = {"statistical_models": ["auto_ets", "mstl"], "statistical_targets": 50}
    command = rendered_command(dag, "fit_statistical", params, extra_context=run_context("fit_statistical"))
    assert command[command.index("/opt/sensor-lstm/spark_jobs/fit_statistical.py") + 1 :] == [
        "--lake",
        "/data/lake",
        "--run-date",
        "2026-11-25",
        "--statistical-models",
        "auto_ets,mstl",
        "--statistical-targets",
        "50",
        "--statistical-fit-days",
        "28",
        "--statistical-sensor-seconds",
        "60",
        *mlflow_args("fit_statistical"),
    ]
    command = rendered_command(dag, "fit_statistical", {"statistical_models": []}, extra_context=run_context("x"))
    assert command[command.index("--statistical-models") + 1] == "none"


def test_forecast_command_line(dag, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_SPARK_DEFAULT", CONNECTION)
    command = rendered_command(dag, "forecast", {})
    assert command[command.index("/opt/sensor-lstm/spark_jobs/forecast.py") + 1 :] == [
        "--lake",
        "/data/lake",
        "--run-date",
        "2026-11-25",
        "--model-name",
        "sensor_lstm",
    ]


@pytest.mark.parametrize(
    "name, value",
    [
        ("num_proc", 65),
        ("num_proc", "three"),
        ("num_proc", 0),
        ("partitions", 1025),
        ("batch_size", 65537),
        ("learning_rate", 1.5),
    ],
)
def test_params_have_sane_maxima(dag, name, value):
    from airflow.sdk.definitions.param import ParamValidationError

    with pytest.raises(ParamValidationError):
        dag.params.get_param(name).resolve(value)


def test_each_job_that_writes_a_dataset_declares_it_as_an_asset(dag):
    assert {
        task.task_id: [(outlet.name, outlet.uri) for outlet in task.outlets] for task in dag.tasks if task.outlets
    } == {
        "ingest": [("sensor_lstm.readings", "file:///data/lake/readings")],
        "prepare_sequences": [("sensor_lstm.sequences", "file:///data/lake/sequences")],
        "evaluate": [("sensor_lstm.champion", "models:/sensor_lstm@champion")],
        "forecast": [("sensor_lstm.forecasts", "file:///data/lake/forecasts")],
    }
