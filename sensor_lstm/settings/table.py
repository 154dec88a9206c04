"""Every setting of a run, declared once.

Adding a setting is one entry here plus the code that uses it: the DAG's trigger form gets a Param
(sources PARAM), each job in ``jobs`` an argument ``--<name with dashes>`` that the DAG renders,
and docs/settings.md a line (``python -m sensor_lstm.tools.settings_reference``). Entries are in
the trigger form's order; a job's command line follows it too.
"""

from __future__ import annotations

from argparse import ArgumentTypeError
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sensor_lstm.lake import SECONDS_PER_DAY, lake_argument
from sensor_lstm.lake.datasets import LANDING_HEADER
from sensor_lstm.names import (
    CHAMPION_ALIAS,
    DAG_ID,
    EVALUATE,
    EXPERIMENT,
    FIT_STATISTICAL,
    FORECAST,
    INGEST,
    JOBS,
    MODEL_NAME,
    PREPARE_SEQUENCES,
    TRAIN_BASELINE,
    TRAIN_DISTRIBUTED,
    TRAININGS,
)
from sensor_lstm.settings.setting import Bounds, Kind, Setting, Source
from sensor_lstm.training.rank_count import AUTO

# The trigger form's sections, in order.
RUN, INPUT, WINDOWS, MODEL = "Run", "Input data", "Windows", "Model and training"
STATISTICAL, CHAMPION = "Statistical models", "Champion and forecasts"
# The day a run processes: the `day` Param, else its data interval's (sensor_lstm.orchestration.run_day).
RUN_DAY = "{{ run_day(params, data_interval_start, dag_run) }}"
# Every MLflow run says which Airflow run and task made it (a retry's run carries its try number).
# A run triggered from the UI without a logical date has none in its context, not even None.
RUN_TAGS = (
    f"dag_id={DAG_ID}",
    "airflow_run_id={{ run_id }}",
    "logical_date={{ logical_date.isoformat() if logical_date is defined and logical_date else '' }}",
    "task={{ ti.task_id }}",
    "try_number={{ ti.try_number }}",
)
MLFLOW_STAGES = (*TRAININGS, FIT_STATISTICAL, EVALUATE)
# statsforecast's models that fit_statistical fits per sensor (sensor_lstm.statistical.candidates).
STATISTICAL_MODELS = ("auto_ets", "auto_arima", "mstl")


# What ingest does with valid rows of one sensor and timestamp whose readings differ (sensor_lstm.readings.lines).
DUPLICATE_CONFLICT_RULES = ("keep_later_delivery", "quarantine")
# How the readings sharing a grid point become one (sensor_lstm.readings.grid).
GRID_AGGREGATES = ("mean", "nearest", "last")
# Training windows per Horovod rank under num_proc auto. Measured on 2 cores (benchmarks/README.md,
# time to quality): 2 ranks took 0.62x the time of 1 rank with both cores at 1.3 million windows,
# 1.49x at 110 thousand and 1.60x at 5.7 thousand; so 2 ranks from 1.2 million on.
AUTO_WINDOWS_PER_RANK = 600_000
# Normalized inputs and targets are clipped to +- this many standard deviations (sensor_lstm.windows.statistics).
NORMALIZED_BOUND = 10.0


def zone_name(text: str) -> str:
    """An IANA time zone's name, checked against the zone database."""
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ArgumentTypeError(f"not a time zone of the IANA database (e.g. UTC, Europe/Berlin): {text!r}") from None
    return text


def positive_integer(maximum: int) -> Bounds:
    return Bounds(minimum=1, maximum=maximum)


SETTINGS = (
    # --- what every job is given -------------------------------------------------------------
    Setting(
        "lake",
        Kind.PATH,
        None,
        "Root of the data lake: a folder path or file:// URI that every node sees at the same path.",
        Source.DEPLOYMENT,
        jobs=JOBS,
        env="SENSOR_LSTM_LAKE",
        required=True,
        parse_value=lake_argument,
    ),
    Setting(
        "run_date",
        Kind.DAY,
        None,
        "The run's UTC day: the Param `day`, else the day of the run's data interval, else the last "
        "complete day before a manual run was triggered.",
        Source.RUN,
        jobs=JOBS,
        templates=(RUN_DAY,),
        required=True,
    ),
    # --- the trigger form ----------------------------------------------------------------------
    Setting(
        "day",
        Kind.DAY,
        None,
        "UTC day to process, YYYY-MM-DD; empty: the run's data interval.",
        Source.PARAM,
        section=RUN,
    ),
    Setting(
        "landing_file_timeout_minutes",
        Kind.NUMBER,
        360,
        "How long the run waits for its day's landing file before it fails, once.",
        Source.PARAM,
        section=RUN,
        bounds=Bounds(exclusive_minimum=0, maximum=24 * 60),
    ),
    Setting(
        "allow_empty_input",
        Kind.BOOLEAN,
        False,
        "Succeed with a logged 'no data' when the day has no landing file, or one without readings.",
        Source.PARAM,
        jobs=(INGEST,),
        section=RUN,
    ),
    Setting(
        "sampling_interval_seconds",
        Kind.INTEGER,
        60,
        "The step of the sampling grid (multiples of it from 00:00 UTC): each reading moves to its nearest grid "
        "point; a point without readings is a gap, where windows break.",
        Source.PARAM,
        jobs=(PREPARE_SEQUENCES,),
        section=INPUT,
        bounds=positive_integer(SECONDS_PER_DAY),
    ),
    Setting(
        "grid_aggregate",
        Kind.TEXT,
        "mean",
        "How the readings of a sensor that share a grid point become one: their mean, the nearest to the point "
        "(the earlier on a tie), or the last.",
        Source.PARAM,
        jobs=(PREPARE_SEQUENCES,),
        section=INPUT,
        choices=GRID_AGGREGATES,
    ),
    Setting(
        "reading_min",
        Kind.NUMBER,
        -1e12,
        "Smallest valid reading; smaller ones are quarantined as out_of_range (set your sensors' physical range).",
        Source.PARAM,
        jobs=(INGEST,),
        section=INPUT,
    ),
    Setting(
        "reading_max",
        Kind.NUMBER,
        1e12,
        "Largest valid reading; larger ones are quarantined as out_of_range.",
        Source.PARAM,
        jobs=(INGEST,),
        section=INPUT,
    ),
    Setting(
        "timestamp_zone",
        Kind.TEXT,
        "UTC",
        "The zone of timestamps written without one (an IANA name such as Europe/Berlin): each is read as that "
        "zone's wall clock, and counted; a local time a DST change skips or repeats is quarantined.",
        Source.PARAM,
        jobs=(INGEST,),
        section=INPUT,
        parse_value=zone_name,
    ),
    Setting(
        "max_late_days",
        Kind.INTEGER,
        7,
        "Rows of up to this many days before the run's day are late data: they land in their own day's readings "
        "(and both days' reports count them). Older rows, and rows after the run's day, are quarantined as "
        "outside_data_interval.",
        Source.PARAM,
        jobs=(INGEST,),
        section=INPUT,
        bounds=Bounds(minimum=0, maximum=366),
    ),
    Setting(
        "missing_value_sentinels",
        Kind.NUMBERS,
        [-999, -9999],
        "Readings that mean 'no value' to your loggers: quarantined as missing_value, never trained on; [] for none.",
        Source.PARAM,
        jobs=(INGEST,),
        section=INPUT,
        templates=("{{ params.missing_value_sentinels | join(',') or 'none' }}",),
        empty_means="none",
    ),
    Setting(
        "duplicate_conflicts",
        Kind.TEXT,
        "keep_later_delivery",
        "Rows of one sensor and timestamp whose readings differ: keep the later delivery's (the later file day, "
        "then the later line; the others go to quarantine as superseded_by_later_delivery), or quarantine them "
        "all as conflicting_duplicate. Equal readings are exact repeats: one is kept.",
        Source.PARAM,
        jobs=(INGEST,),
        section=INPUT,
        choices=DUPLICATE_CONFLICT_RULES,
    ),
    Setting(
        "max_quarantined_fraction",
        Kind.NUMBER,
        0.1,
        "Quality gate of ingest: a day's delivery with a larger share of quarantined rows fails and the day "
        "keeps the readings it had.",
        Source.PARAM,
        jobs=(INGEST,),
        section=INPUT,
        bounds=Bounds(minimum=0, exclusive_maximum=1),
    ),
    Setting(
        "lookback_days",
        Kind.INTEGER,
        3,
        "Days of readings, ending with the run's day, that the windows are cut from.",
        Source.PARAM,
        jobs=(PREPARE_SEQUENCES,),
        section=WINDOWS,
        bounds=positive_integer(366),
    ),
    Setting(
        "seq_len",
        Kind.INTEGER,
        24,
        "Readings per input window.",
        Source.PARAM,
        jobs=(PREPARE_SEQUENCES,),
        section=WINDOWS,
        bounds=positive_integer(10000),
    ),
    Setting(
        "horizon",
        Kind.INTEGER,
        1,
        "Steps from the last input to the target.",
        Source.PARAM,
        jobs=(PREPARE_SEQUENCES,),
        section=WINDOWS,
        bounds=positive_integer(10000),
    ),
    Setting(
        "train_fraction",
        Kind.NUMBER,
        0.65,
        "Share of the lookback for training.",
        Source.PARAM,
        jobs=(PREPARE_SEQUENCES,),
        section=WINDOWS,
        bounds=Bounds(exclusive_minimum=0, exclusive_maximum=1),
    ),
    Setting(
        "validation_fraction",
        Kind.NUMBER,
        0.1,
        "Share of the lookback for validation (early stopping, the learning-rate schedule, each sensor's choice of "
        "forecasting method).",
        Source.PARAM,
        jobs=(PREPARE_SEQUENCES,),
        section=WINDOWS,
        bounds=Bounds(exclusive_minimum=0, exclusive_maximum=1),
    ),
    Setting(
        "calibration_fraction",
        Kind.NUMBER,
        0.1,
        "Share of the lookback, after validation, whose forecasts calibrate the prediction intervals and nothing "
        "else; test gets the rest.",
        Source.PARAM,
        jobs=(PREPARE_SEQUENCES,),
        section=WINDOWS,
        bounds=Bounds(exclusive_minimum=0, exclusive_maximum=1),
    ),
    Setting(
        "std_floor_absolute",
        Kind.NUMBER,
        1e-6,
        "A sensor is normalized by max(std, floor), the floor being max(std_floor_absolute, std_floor_relative "
        "x |mean|), in the readings' units: a sensor that barely moves cannot blow up. Normalized values are "
        f"clipped to +-{NORMALIZED_BOUND:g}.",
        Source.PARAM,
        jobs=(PREPARE_SEQUENCES,),
        section=WINDOWS,
        bounds=Bounds(exclusive_minimum=0),
    ),
    Setting(
        "std_floor_relative",
        Kind.NUMBER,
        1e-3,
        "The floor's share of the sensor's |mean| (see std_floor_absolute).",
        Source.PARAM,
        jobs=(PREPARE_SEQUENCES,),
        section=WINDOWS,
        bounds=Bounds(minimum=0, maximum=1),
    ),
    Setting(
        "seasonal_periods",
        Kind.INTEGERS,
        None,
        "Seasons of the seasonal naive forecasts, in readings (e.g. [24, 168] for hourly data); empty: one day at "
        "the sampling interval; [] for none.",
        Source.PARAM,
        jobs=(PREPARE_SEQUENCES,),
        section=WINDOWS,
        bounds=Bounds(minimum=1),
        templates=(
            "{{ 'day' if params.seasonal_periods is none else (params.seasonal_periods | join(',') or 'none') }}",
        ),
        none_means="day",
        empty_means="none",
    ),
    Setting(
        "lstm_units",
        Kind.INTEGER,
        32,
        "LSTM units of each model.",
        Source.PARAM,
        jobs=TRAININGS,
        section=MODEL,
        bounds=positive_integer(1024),
    ),
    Setting(
        "lstm_learns_change",
        Kind.BOOLEAN,
        True,
        "The LSTM forecasts the change from the window's last reading (persistence, where its "
        "output starts at zero, plus what it learns), and each sensor's windows weigh in its loss by "
        "the inverse square of persistence's training RMSE on it, so that every sensor counts by how "
        "much it beats persistence, not by how much it moves. Off: the plain LSTM, every window alike.",
        Source.PARAM,
        jobs=TRAININGS,
        section=MODEL,
    ),
    Setting(
        "epochs",
        Kind.INTEGER,
        200,
        "Training epochs at most; early stopping ends sooner.",
        Source.PARAM,
        jobs=TRAININGS,
        section=MODEL,
        bounds=positive_integer(10000),
    ),
    Setting(
        "batch_size",
        Kind.INTEGER,
        256,
        "Largest training batch (per rank); smaller on small data, so that an epoch takes at least "
        "min_steps_per_epoch steps.",
        Source.PARAM,
        jobs=TRAININGS,
        section=MODEL,
        bounds=positive_integer(65536),
    ),
    Setting(
        "learning_rate",
        Kind.NUMBER,
        0.002,
        "Initial Adam learning rate, for the batch one process takes (Horovod scales it by the global batch); "
        "halved after lr_patience epochs without improvement.",
        Source.PARAM,
        jobs=TRAININGS,
        section=MODEL,
        bounds=Bounds(exclusive_minimum=0, maximum=1),
    ),
    Setting(
        "patience",
        Kind.INTEGER,
        10,
        "Training stops after this many epochs without a better validation loss.",
        Source.PARAM,
        jobs=TRAININGS,
        section=MODEL,
        bounds=positive_integer(1000),
    ),
    Setting(
        "training_budget_minutes",
        Kind.NUMBER,
        30,
        "Wall-clock limit of each fit; it stops with the best weights so far, and says so.",
        Source.PARAM,
        jobs=TRAININGS,
        section=MODEL,
        bounds=Bounds(exclusive_minimum=0, maximum=24 * 60),
    ),
    Setting(
        "partitions",
        Kind.INTEGER,
        4,
        "Partitions of sensors for train_baseline, one model each.",
        Source.PARAM,
        jobs=(TRAIN_BASELINE,),
        section=MODEL,
        bounds=positive_integer(1024),
    ),
    Setting(
        "min_train_windows",
        Kind.INTEGER,
        100,
        "A partition of train_baseline with fewer training windows is skipped, with its reason; when every "
        "one is, the task fails saying so.",
        Source.PARAM,
        jobs=(TRAIN_BASELINE,),
        section=MODEL,
        bounds=positive_integer(1_000_000),
    ),
    Setting(
        "num_proc",
        Kind.INTEGER,
        AUTO,
        "Horovod ranks of train_distributed, one Spark task each; auto: one per auto_windows_per_rank training "
        "windows, at most auto_max_ranks, sharing the cores reserved for auto_max_ranks ranks.",
        Source.PARAM,
        jobs=(TRAIN_DISTRIBUTED,),
        section=MODEL,
        bounds=positive_integer(64),
        words=(AUTO,),
    ),
    Setting(
        "auto_max_ranks",
        Kind.INTEGER,
        2,
        "With num_proc auto: the most ranks; train_distributed reserves auto_max_ranks x threads_per_rank cores.",
        Source.PARAM,
        jobs=(TRAIN_DISTRIBUTED,),
        section=MODEL,
        bounds=positive_integer(64),
    ),
    Setting(
        "auto_windows_per_rank",
        Kind.INTEGER,
        AUTO_WINDOWS_PER_RANK,
        "With num_proc auto: training windows each rank needs, below which a rank costs more time in "
        "allreduces than it saves (measured in benchmarks/README.md).",
        Source.PARAM,
        jobs=(TRAIN_DISTRIBUTED,),
        section=MODEL,
        bounds=positive_integer(1_000_000_000),
    ),
    Setting(
        "threads_per_rank",
        Kind.INTEGER,
        1,
        "Cores (spark.task.cpus) and TensorFlow threads of each rank.",
        Source.PARAM,
        jobs=(TRAIN_DISTRIBUTED,),
        section=MODEL,
        bounds=positive_integer(64),
    ),
    Setting(
        "statistical_models",
        Kind.NAMES,
        list(STATISTICAL_MODELS),
        "statsforecast models fit_statistical fits per sensor, each scored one step ahead beside the LSTM: "
        "AutoETS and AutoARIMA on the first season up to 24 readings, MSTL on every season plus a weekly one "
        "where two cycles fit in the history; [] for none.",
        Source.PARAM,
        jobs=(FIT_STATISTICAL,),
        section=STATISTICAL,
        templates=("{{ params.statistical_models | join(',') or 'none' }}",),
        empty_means="none",
        choices=STATISTICAL_MODELS,
    ),
    Setting(
        "statistical_targets",
        Kind.INTEGER,
        100,
        "Targets per sensor, evenly spaced, that the statistical models forecast one step ahead in each of the "
        "validation and test periods; evaluate scores every forecaster on the same test targets.",
        Source.PARAM,
        jobs=(FIT_STATISTICAL,),
        section=STATISTICAL,
        bounds=positive_integer(100_000),
    ),
    Setting(
        "statistical_fit_days",
        Kind.NUMBER,
        28,
        "Days of readings, at most, that a statistical model is fitted on (before the train cut) and forecasts "
        "each target from.",
        Source.PARAM,
        jobs=(FIT_STATISTICAL,),
        section=STATISTICAL,
        bounds=Bounds(exclusive_minimum=0, maximum=366),
    ),
    Setting(
        "statistical_sensor_seconds",
        Kind.NUMBER,
        60,
        "Time budget of each sensor's statistical models, run cheapest first: a model whose forecasts would pass "
        "it is left out, saying why. The stage takes about sensors x this / executor cores at most.",
        Source.PARAM,
        jobs=(FIT_STATISTICAL,),
        section=STATISTICAL,
        bounds=Bounds(exclusive_minimum=0, maximum=24 * 3600),
    ),
    Setting(
        "champion_min_skill",
        Kind.NUMBER,
        0.0,
        "Quality gate: a new version becomes champion only with a unit-free skill (1 - its median MASE over the "
        "sensors / the best naive forecast's) above this.",
        Source.PARAM,
        jobs=(EVALUATE,),
        section=CHAMPION,
        bounds=Bounds(minimum=0, exclusive_maximum=1),
    ),
    Setting(
        "champion_min_share",
        Kind.NUMBER,
        0.5,
        "Quality gate: a new version becomes champion only when its test RMSE beats the sensor's best naive "
        "forecast on at least this share of the sensors (those that move).",
        Source.PARAM,
        jobs=(EVALUATE,),
        section=CHAMPION,
        bounds=Bounds(minimum=0, maximum=1),
    ),
    Setting(
        "promote_older_day",
        Kind.BOOLEAN,
        False,
        "Let a run for an earlier day than the champion's (a backfill) take the champion alias when it scores "
        "better; off, a backfill never replaces a champion trained on newer data.",
        Source.PARAM,
        jobs=(EVALUATE,),
        section=CHAMPION,
    ),
    Setting(
        "forecast_steps",
        Kind.INTEGER,
        12,
        "Forecasts per sensor, one sampling interval apart, from its last reading of the run day (recursive past "
        "the model's horizon): the steps evaluate calibrates the forecaster's intervals for.",
        Source.PARAM,
        jobs=(EVALUATE,),
        section=CHAMPION,
        bounds=positive_integer(10000),
    ),
    # --- a job's own options: fixed for DAG runs, for tests, benchmarks and runs by hand ------
    Setting(
        "landing_dir",
        Kind.PATH,
        None,
        "Where the landing files are; empty: <lake>/landing.",
        Source.JOB_OPTION,
        jobs=(INGEST,),
    ),
    Setting(
        "days",
        Kind.INTEGER,
        1,
        "UTC days to ingest, from the run date on.",
        Source.JOB_OPTION,
        jobs=(INGEST,),
        bounds=positive_integer(366),
    ),
    Setting(
        "max_line_chars",
        Kind.INTEGER,
        1024,
        "Longer lines are quarantined as line_too_long, unparsed.",
        Source.JOB_OPTION,
        jobs=(INGEST,),
        bounds=Bounds(minimum=len(LANDING_HEADER)),  # the header must fit
    ),
    Setting(
        "lr_patience",
        Kind.INTEGER,
        4,
        "Epochs without a better validation loss before the learning rate halves.",
        Source.JOB_OPTION,
        jobs=TRAININGS,
        bounds=positive_integer(1000),
    ),
    Setting(
        "min_steps_per_epoch",
        Kind.INTEGER,
        128,
        "The batch shrinks below batch_size where an epoch would take fewer steps.",
        Source.JOB_OPTION,
        jobs=TRAININGS,
        bounds=positive_integer(1_000_000),
    ),
    Setting(
        "threads_per_task",
        Kind.INTEGER,
        1,
        "TensorFlow threads of each partition's task.",
        Source.JOB_OPTION,
        jobs=(TRAIN_BASELINE,),
        bounds=positive_integer(64),
    ),
    Setting(
        "bind_cores",
        Kind.BOOLEAN,
        False,
        "Pin each rank to its own threads_per_rank cores (for hosts the ranks have to themselves).",
        Source.JOB_OPTION,
        jobs=(TRAIN_DISTRIBUTED,),
    ),
    Setting(
        "plot_sensors",
        Kind.INTEGER,
        3,
        "Sensors in the forecast-vs-actual plot.",
        Source.JOB_OPTION,
        jobs=(TRAIN_DISTRIBUTED,),
        bounds=positive_integer(100),
    ),
    Setting(
        "start_timeout",
        Kind.INTEGER,
        300,
        "Seconds to wait for the ranks' Spark tasks to start.",
        Source.JOB_OPTION,
        jobs=(TRAIN_DISTRIBUTED,),
        bounds=Bounds(minimum=1),
    ),
    Setting(
        "stall_timeout_seconds",
        Kind.INTEGER,
        300,
        "Ranks still running this long after another finished are cancelled, and so are ranks still running this "
        "long past start_timeout + training_budget_minutes: the job fails, never hangs.",
        Source.JOB_OPTION,
        jobs=(TRAIN_DISTRIBUTED,),
        bounds=Bounds(minimum=1),
    ),
    Setting(
        "alias",
        Kind.TEXT,
        CHAMPION_ALIAS,
        "The registry alias of the version that forecasts.",
        Source.JOB_OPTION,
        jobs=(EVALUATE, FORECAST),
    ),
    # --- the deployment's, read from the environment where the DAG is parsed -------------------
    Setting(
        "nics",
        Kind.NAMES,
        [],
        "Network interfaces of the ranks' traffic and the driver's rendezvous, comma-separated (e.g. eth0); "
        "empty: those the ranks and the driver share, which include loopback when every rank runs on one host, "
        "so on a cluster name the one that reaches across machines.",
        Source.DEPLOYMENT,
        jobs=(TRAIN_DISTRIBUTED,),
        env="SENSOR_LSTM_HOROVOD_NICS",
    ),
    Setting(
        "model_name",
        Kind.TEXT,
        MODEL_NAME,
        "The registered model that gets a version per run day, and whose champion forecasts.",
        Source.DEPLOYMENT,
        jobs=(TRAIN_DISTRIBUTED, EVALUATE, FORECAST),
        env="SENSOR_LSTM_MODEL_NAME",
    ),
    Setting(
        "experiment",
        Kind.TEXT,
        EXPERIMENT,
        "The MLflow experiment of every stage's run.",
        Source.DEPLOYMENT,
        jobs=MLFLOW_STAGES,
        env="SENSOR_LSTM_MLFLOW_EXPERIMENT",
    ),
    Setting(
        "tag",
        Kind.TAG,
        [],
        "An MLflow run tag KEY=VALUE, repeated: the DAG tags each run with its DAG, Airflow run, logical date, "
        "task and try number.",
        Source.RUN,
        jobs=MLFLOW_STAGES,
        templates=RUN_TAGS,
    ),
)
