"""A run's Params: the trigger form made from the settings table, the day a run processes, and the
checks of Params taken together that run before any job (check_params)."""

from __future__ import annotations

from argparse import ArgumentTypeError
from datetime import UTC, date, datetime, timedelta

from sensor_lstm.lake import SECONDS_PER_DAY
from sensor_lstm.settings import BY_NAME, PARAMS, Kind, Setting
from sensor_lstm.training.rank_count import AUTO, reserved_ranks

LANDING_WAIT_MAX_MINUTES = 24 * 60

# A Param's JSON schema type, by the kind of its setting.
SCHEMA_TYPES = {
    Kind.INTEGER: {"type": "integer"},
    Kind.NUMBER: {"type": "number"},
    Kind.BOOLEAN: {"type": "boolean"},
    Kind.TEXT: {"type": "string"},
    Kind.DAY: {"type": "string", "format": "date"},
    Kind.INTEGERS: {"type": "array", "items": {"type": "integer"}},
    Kind.NUMBERS: {"type": "array", "items": {"type": "number"}},
    Kind.NAMES: {"type": "array", "items": {"type": "string"}},
}


def param_schema(setting: Setting) -> dict:
    """The JSON schema of a setting's Param: its type (nullable when its default is None), bounds,
    trigger form section and description."""
    schema = dict(SCHEMA_TYPES[setting.kind])
    if setting.kind in (Kind.INTEGERS, Kind.NUMBERS):
        schema["items"] = {**schema["items"], **setting.bounds.schema()}
    else:
        schema |= setting.bounds.schema()
    if setting.choices and setting.kind is Kind.NAMES:
        schema["items"] = {**schema["items"], "enum": list(setting.choices)}
    elif setting.choices:
        schema["enum"] = list(setting.choices)
    if setting.words:
        # A form's text box hands numbers over as text too: the jobs and check_params parse both.
        schema["type"] = [schema["type"], "string"]
        schema["pattern"] = f"^({'|'.join(setting.words)}|[0-9]+)$"
    if setting.nullable:
        schema["type"] = ["null", schema["type"]]
    return {**schema, "section": setting.section, "description": setting.help}


def trigger_form() -> dict:
    """The DAG's Params, in the table's order, grouped in the form's sections."""
    from airflow.sdk import Param

    return {setting.name: Param(setting.default, **param_schema(setting)) for setting in PARAMS}


def run_day(params: dict, data_interval_start: datetime | None, dag_run) -> str:
    """The UTC day (YYYY-MM-DD) a run processes: the ``day`` Param, else the day of its data
    interval, else the last complete day before a manual run was triggered. The DAG's macro."""
    if params.get("day"):
        return date.fromisoformat(params["day"]).isoformat()
    if data_interval_start is not None:
        return data_interval_start.astimezone(UTC).date().isoformat()
    return (dag_run.run_after.astimezone(UTC) - timedelta(days=1)).date().isoformat()


def param_problems(params: dict, today: date, cluster_cores: int) -> list[str]:
    """What is wrong with a run's Params taken together; the form checks each one alone."""
    problems = []
    if params.get("day") and date.fromisoformat(params["day"]) > today:
        problems.append(f"day {params['day']} is in the future (today is {today.isoformat()} UTC)")
    fractions = ("train_fraction", "validation_fraction", "calibration_fraction")
    if sum(params[name] for name in fractions) >= 1:
        problems.append(
            f"{' + '.join(fractions)} must be below 1, leaving test windows; got "
            f"{' + '.join(str(params[name]) for name in fractions)}"
        )
    lookback_seconds = params["lookback_days"] * SECONDS_PER_DAY
    window_seconds = (params["seq_len"] + params["horizon"]) * params["sampling_interval_seconds"]
    if window_seconds >= lookback_seconds:
        problems.append(
            f"a window and its target (seq_len + horizon = {params['seq_len'] + params['horizon']} readings, "
            f"{window_seconds} s) do not fit in the lookback ({params['lookback_days']} days)"
        )
    for season in params.get("seasonal_periods") or []:
        if season * params["sampling_interval_seconds"] >= lookback_seconds:
            problems.append(f"seasonal period {season} readings is as long as the lookback or longer")
    if params["reading_min"] >= params["reading_max"]:
        problems.append(f"reading_min ({params['reading_min']}) must be below reading_max ({params['reading_max']})")
    return problems + rank_problems(params, cluster_cores)


def rank_problems(params: dict, cluster_cores: int) -> list[str]:
    """num_proc (a number or auto; a form may hand a number over as text) and the cores it reserves."""
    try:
        BY_NAME["num_proc"].parse(str(params["num_proc"]))
    except ArgumentTypeError as error:
        return [f"num_proc {error}"]
    ranks = reserved_ranks(params["num_proc"], params["auto_max_ranks"])
    rank_cores = ranks * params["threads_per_rank"]
    if cluster_cores > 0 and rank_cores > cluster_cores:
        asked = "auto_max_ranks" if params["num_proc"] == AUTO else "num_proc"
        return [
            f"train_distributed needs {asked} x threads_per_rank = {rank_cores} cores at once; the cluster has "
            f"{cluster_cores} (SENSOR_LSTM_SPARK_CORES)"
        ]
    return []
