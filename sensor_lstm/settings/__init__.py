"""The pipeline's run settings, each declared once in ``table.SETTINGS``: the DAG's Params, the
arguments it renders for each job, each job's argparse parser and docs/settings.md all come from
that one entry. Stdlib only, so the DAG can import it."""

from sensor_lstm.settings.command_line import dag_arguments, job_parser, job_settings
from sensor_lstm.settings.model import DEFAULT_MODEL, DEFAULTS, FitSchedule, ModelConfig, model_config
from sensor_lstm.settings.setting import Bounds, Kind, Setting, Source
from sensor_lstm.settings.table import RUN_DAY, SETTINGS

BY_NAME = {setting.name: setting for setting in SETTINGS}
PARAMS = tuple(setting for setting in SETTINGS if setting.source is Source.PARAM)

__all__ = [
    "BY_NAME",
    "DEFAULTS",
    "DEFAULT_MODEL",
    "PARAMS",
    "RUN_DAY",
    "SETTINGS",
    "Bounds",
    "FitSchedule",
    "Kind",
    "ModelConfig",
    "Setting",
    "Source",
    "dag_arguments",
    "job_parser",
    "job_settings",
    "model_config",
]
