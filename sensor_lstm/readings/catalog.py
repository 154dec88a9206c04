"""The optional sensor catalog: ``<lake>/catalog/sensors.csv``, one line per sensor that needs more
than the run's Params say of every sensor.

    sensor_id,unit,reading_min,reading_max,missing_value_sentinels
    boiler_temp,degC,-40,150,-999;-9999
    door_count,count,0,,

``unit`` names the reading's unit (the reports carry it); ``reading_min`` and ``reading_max``
replace the Params of those names for the sensor; ``missing_value_sentinels`` (numbers separated
by ``;``, or ``none``) replace the Param's sentinels for it. An empty cell leaves the run's value. Without the
file every sensor follows the Params. A catalog that cannot be read is an error naming its line,
never a silent default.
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession

from sensor_lstm.errors import JobInputError
from sensor_lstm.lake import Lake, datasets
from sensor_lstm.readings.lines import CATALOG_COLUMNS, SENSOR_ID_PATTERN

HEADER = ["sensor_id", "unit", "reading_min", "reading_max", "missing_value_sentinels"]


@dataclass(frozen=True)
class SensorEntry:
    sensor_id: str
    unit: str | None
    reading_min: float | None
    reading_max: float | None
    sentinels: tuple[float, ...] | None


def number(text: str, what: str, where: str) -> float | None:
    if not text.strip():
        return None
    try:
        value = float(text)
    except ValueError:
        raise JobInputError(f"{where}: {what} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise JobInputError(f"{where}: {what} {text!r} is not a finite number")
    return value


def own_sentinels(text: str, where: str) -> tuple[float, ...] | None:
    """A sensor's sentinels: None (an empty cell) leaves the run's, ``none`` means it has none."""
    if not text.strip():
        return None
    if text.strip().lower() == "none":
        return ()
    return tuple(number(part, "a sentinel", where) for part in text.split(";") if part.strip())


def parse_entry(row: list[str], where: str) -> SensorEntry:
    if len(row) != len(HEADER):
        raise JobInputError(f"{where}: {len(row)} fields, not the {len(HEADER)} of its header")
    sensor_id, unit, low, high, sentinels = row
    if not re.match(SENSOR_ID_PATTERN, sensor_id):
        raise JobInputError(f"{where}: {sensor_id!r} is not a valid sensor id")
    entry = SensorEntry(
        sensor_id,
        unit.strip() or None,
        number(low, "reading_min", where),
        number(high, "reading_max", where),
        own_sentinels(sentinels, where),
    )
    if entry.reading_min is not None and entry.reading_max is not None and entry.reading_min >= entry.reading_max:
        raise JobInputError(
            f"{where}: reading_min {entry.reading_min:g} is not below reading_max {entry.reading_max:g}"
        )
    return entry


def parse_catalog(text: str, path: str) -> dict[str, SensorEntry]:
    """The catalog's entries by sensor id; a JobInputError naming the line that is wrong."""
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    if not rows or [name.strip() for name in rows[0]] != HEADER:
        raise JobInputError(f"{path}: its header is not {','.join(HEADER)!r}")
    entries: dict[str, SensorEntry] = {}
    for number_, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        entry = parse_entry(row, f"{path} line {number_}")
        if entry.sensor_id in entries:
            raise JobInputError(f"{path} line {number_}: sensor {entry.sensor_id} is in the catalog twice")
        entries[entry.sensor_id] = entry
    return entries


def read_catalog(lake: Lake) -> dict[str, SensorEntry]:
    """The lake's sensor catalog; empty when it has none."""
    path = lake.dataset(datasets.SENSOR_CATALOG)
    return parse_catalog(lake.read_text(path), path) if lake.exists(path) else {}


def catalog_frame(spark: SparkSession, entries: dict[str, SensorEntry]) -> DataFrame | None:
    """The entries as classify_lines joins them; None without a catalog."""
    if not entries:
        return None
    rows = [
        (
            entry.sensor_id,
            entry.reading_min,
            entry.reading_max,
            None if entry.sentinels is None else list(entry.sentinels),
        )
        for entry in entries.values()
    ]
    return spark.createDataFrame(rows, CATALOG_COLUMNS)


def units(entries: dict[str, SensorEntry]) -> dict[str, str]:
    return {sensor: entry.unit for sensor, entry in sorted(entries.items()) if entry.unit}
