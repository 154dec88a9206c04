"""What a setting is: its value's kind and bounds, where its value comes from, and which jobs take it.

Stdlib only: the DAG, the jobs and the docs' generator all read the declarations built from it.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from enum import Enum


class Source(Enum):
    """Where a job's value for a setting comes from when the DAG runs it."""

    PARAM = "Param"  # the trigger form (or a run's conf): rendered as {{ params.<name> }}
    DEPLOYMENT = "deployment"  # an environment variable the DAG reads when it is parsed
    RUN = "run"  # the Airflow run itself (its day, the tags naming it), through templates
    JOB_OPTION = "job option"  # only on a job's own command line (tests, benchmarks, a job run by hand)


class Kind(Enum):
    """The kind of value: how a job parses it and how a Param's JSON schema types it."""

    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    TEXT = "text"
    DAY = "day"  # YYYY-MM-DD
    INTEGERS = "integers"  # comma-separated on the command line, a list in a Param
    NUMBERS = "numbers"  # the same, of numbers
    NAMES = "names"  # comma-separated words, e.g. network interfaces
    TAG = "tag"  # KEY=VALUE, repeated
    PATH = "path"


@dataclass(frozen=True)
class Bounds:
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: float | None = None
    exclusive_maximum: float | None = None

    def schema(self) -> dict:
        """The bounds as JSON schema keywords."""
        keywords = {
            "minimum": self.minimum,
            "maximum": self.maximum,
            "exclusiveMinimum": self.exclusive_minimum,
            "exclusiveMaximum": self.exclusive_maximum,
        }
        return {keyword: value for keyword, value in keywords.items() if value is not None}

    def problem(self, value: float) -> str | None:
        """Why ``value`` is out of bounds, or None."""
        if not math.isfinite(value):
            return f"must be a finite number, got {value}"
        if self.minimum is not None and value < self.minimum:
            return f"must be at least {self.minimum}, got {value}"
        if self.exclusive_minimum is not None and value <= self.exclusive_minimum:
            return f"must be above {self.exclusive_minimum}, got {value}"
        if self.maximum is not None and value > self.maximum:
            return f"must be at most {self.maximum}, got {value}"
        if self.exclusive_maximum is not None and value >= self.exclusive_maximum:
            return f"must be below {self.exclusive_maximum}, got {value}"
        return None

    def text(self) -> str:
        """As the settings reference writes them, e.g. ``1 to 64`` or ``> 0, < 1``."""
        low = f"{self.minimum:g}" if self.minimum is not None else None
        high = f"{self.maximum:g}" if self.maximum is not None else None
        if low is not None and high is not None:
            return f"{low} to {high}"
        parts = [
            *([f">= {low}"] if low is not None else []),
            *([f"> {self.exclusive_minimum:g}"] if self.exclusive_minimum is not None else []),
            *([f"<= {high}"] if high is not None else []),
            *([f"< {self.exclusive_maximum:g}"] if self.exclusive_maximum is not None else []),
        ]
        return ", ".join(parts)


@dataclass(frozen=True)
class Setting:
    """One run setting, declared once: the DAG's Param (when it is one), the argument of each job
    that takes it, and its line in the settings reference all come from here.

    ``jobs``: the jobs (sensor_lstm.names) that take it as ``--<name with dashes>``.
    ``section``: the trigger form's section of a Param.
    ``env``: the environment variable of a deployment setting.
    ``templates``: what the DAG renders for a setting of the run, one argument each; for a Param,
    a rule of its own that replaces the plain ``{{ params.<name> }}``.
    ``none_means`` / ``empty_means``: a nullable list's spelling on the command line for None and [].
    ``choices``: the only values a text setting takes.
    ``words``: values a number setting also takes, spelled out (``auto``).
    """

    name: str
    kind: Kind
    default: object
    help: str
    source: Source
    jobs: tuple[str, ...] = ()
    section: str | None = None
    bounds: Bounds = field(default_factory=Bounds)
    env: str | None = None
    templates: tuple[str, ...] = ()
    required: bool = False
    parse_value: Callable[[str], object] | None = None  # for a kind the setting spells its own way
    none_means: str | None = None
    empty_means: str | None = None
    choices: tuple[str, ...] = ()
    words: tuple[str, ...] = ()

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def nullable(self) -> bool:
        return self.default is None and not self.required

    def parse(self, text: str) -> object:
        """A job's value from its command line, checked against the bounds; argparse turns the
        ArgumentTypeError into one line and exit code 2."""
        if self.parse_value is not None:
            return self.parse_value(text)
        if self.kind in (Kind.INTEGERS, Kind.NUMBERS):
            return self.parse_list(text)
        if self.kind is Kind.NAMES:
            return self.parse_name_list(text)
        if text in self.words:
            return text
        try:
            value = PARSERS[self.kind](text)
        except ValueError:
            spelled = "".join(f" or {word}" for word in self.words)
            raise argparse.ArgumentTypeError(f"not {ARTICLES[self.kind]}{spelled}: {text!r}") from None
        if self.kind in (Kind.INTEGER, Kind.NUMBER) and (problem := self.bounds.problem(value)):
            raise argparse.ArgumentTypeError(problem)
        if self.choices and value not in self.choices:
            raise argparse.ArgumentTypeError(f"must be one of {', '.join(self.choices)}, got {text!r}")
        return value

    def parse_name_list(self, text: str) -> list[str]:
        if self.empty_means is not None and text == self.empty_means:
            return []
        names = parse_names(text)
        unknown = [name for name in names if self.choices and name not in self.choices]
        if unknown:
            raise argparse.ArgumentTypeError(f"each must be one of {', '.join(self.choices)}, got {text!r}")
        return names

    def limits_text(self) -> str:
        """Its bounds or choices, as the settings reference writes them."""
        if self.choices:
            return " or ".join(self.choices)
        return " or ".join(part for part in (self.bounds.text(), *self.words) if part)

    def parse_list(self, text: str) -> list[float] | None:
        if self.none_means is not None and text == self.none_means:
            return None
        if self.empty_means is not None and text == self.empty_means:
            return []
        item, example = (
            (int, "integers like 24,168") if self.kind is Kind.INTEGERS else (float, "numbers like -999,-9999")
        )
        try:
            values = [item(part) for part in text.split(",")]
        except ValueError:
            spellings = " or ".join(repr(s) for s in (self.none_means, self.empty_means) if s is not None)
            raise argparse.ArgumentTypeError(
                f"{example}{f' or {spellings}' if spellings else ''}, got {text!r}"
            ) from None
        for value in values:
            if problem := self.bounds.problem(value):
                raise argparse.ArgumentTypeError(f"each {problem}")
        return values

    def cli_text(self, value: object) -> str:
        """``value`` as this setting's argument on a command line (the inverse of ``parse``)."""
        if self.kind in (Kind.INTEGERS, Kind.NUMBERS):
            if value is None:
                return self.none_means
            return ",".join(str(item) for item in value) or self.empty_means
        if self.kind is Kind.NAMES:
            return ",".join(value) or self.empty_means or ""
        return str(value)


def parse_tag(text: str) -> tuple[str, str]:
    key, separator, value = text.partition("=")
    if not separator or not key:
        raise ValueError(text)
    return key, value


def parse_names(text: str) -> list[str]:
    return [name for name in text.split(",") if name]


PARSERS: dict[Kind, Callable[[str], object]] = {
    Kind.INTEGER: int,
    Kind.NUMBER: float,
    Kind.TEXT: str,
    Kind.PATH: str,
    Kind.DAY: date.fromisoformat,
    Kind.NAMES: parse_names,
    Kind.TAG: parse_tag,
}
ARTICLES = {
    Kind.INTEGER: "an integer",
    Kind.NUMBER: "a number",
    Kind.TEXT: "text",
    Kind.PATH: "a path",
    Kind.DAY: "a day YYYY-MM-DD",
    Kind.NAMES: "comma-separated names",
    Kind.TAG: "a tag KEY=VALUE",
}
