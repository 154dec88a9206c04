"""A job's command line, both ways, from the settings table: the argparse parser a job parses its
arguments with, and the templated arguments the DAG gives it. Both come from the same entries,
so they agree by construction."""

from __future__ import annotations

import argparse
import copy
from collections.abc import Mapping

from sensor_lstm.settings.setting import Kind, Setting, Source
from sensor_lstm.settings.table import SETTINGS


def job_settings(job: str) -> list[Setting]:
    """The settings ``job`` takes, in the table's order."""
    return [setting for setting in SETTINGS if job in setting.jobs]


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """The description as written (a job's docstring: its example, inputs, outputs), each argument with its default."""


def job_parser(job: str, description: str) -> argparse.ArgumentParser:
    """The job's parser: one argument per setting it takes, typed, bounded and documented by its entry."""
    parser = argparse.ArgumentParser(prog=f"{job}.py", description=description, formatter_class=HelpFormatter)
    for setting in job_settings(job):
        add_argument(parser, setting)
    return parser


def add_argument(parser: argparse.ArgumentParser, setting: Setting) -> None:
    help_text = setting.help.replace("%", "%%")
    if setting.kind is Kind.BOOLEAN:
        parser.add_argument(
            setting.flag, action=argparse.BooleanOptionalAction, default=setting.default, help=help_text
        )
    elif setting.kind is Kind.TAG:
        parser.add_argument(setting.flag, type=setting.parse, action="append", default=[], help=help_text)
    elif setting.required:
        parser.add_argument(setting.flag, type=setting.parse, required=True, help=help_text)
    else:
        parser.add_argument(setting.flag, type=setting.parse, default=copy.copy(setting.default), help=help_text)


def param_template(setting: Setting) -> list[str]:
    if setting.templates and setting.kind is Kind.NUMBERS:
        # One argument: argparse would take a value like -999,-9999 for an option of its own.
        return [f"{setting.flag}={template}" for template in setting.templates]
    if setting.templates:
        return [setting.flag, *setting.templates]
    if setting.kind is Kind.BOOLEAN:
        negative = "--no-" + setting.flag.removeprefix("--")
        return [f"{{{{ '{setting.flag}' if params.{setting.name} else '{negative}' }}}}"]
    return [setting.flag, f"{{{{ params.{setting.name} }}}}"]


def dag_arguments(job: str, deployment: Mapping[str, str]) -> list[str]:
    """What the DAG gives ``job``: a template over the run's Params and context for each of its
    Params and run settings, and each deployment setting's value from ``deployment`` (by setting
    name, as the DAG resolved it from its environment; an empty one is left to the job's default).
    Job options are never given."""
    arguments: list[str] = []
    for setting in job_settings(job):
        if setting.source is Source.PARAM:
            arguments += param_template(setting)
        elif setting.source is Source.RUN:
            arguments += [part for template in setting.templates for part in (setting.flag, template)]
        elif setting.source is Source.DEPLOYMENT and deployment.get(setting.name):
            arguments += [setting.flag, deployment[setting.name]]
    return arguments
