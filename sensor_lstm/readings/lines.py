"""Landing lines -> readings: each line parsed as CSV, given a quarantine reason or none, and
duplicates marked. Pure DataFrame functions; sensor_lstm.readings.ingest runs them.

A row gets the first reason of REASONS that applies. Duplicates on (sensor_id, timestamp) keep one
row: the copy from the latest-named landing file, then the smallest raw line, so every rerun keeps
the same row whatever the partitioning.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from sensor_lstm.lake.datasets import LANDING_HEADER
from sensor_lstm.readings.landing import FILE_DAY
from sensor_lstm.settings import DEFAULTS

HEADER = LANDING_HEADER

# Sensor ids name plots, MLflow metrics and rows: a letter or digit, then letters, digits, _ . : -
SENSOR_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
# A comma outside double quotes: CSV writers may quote every field ("s1","2026-...","1.5").
UNQUOTED_COMMA = r',(?=(?:[^"]*"[^"]*")*[^"]*$)'
# What a decoder puts where bytes were not UTF-8.
REPLACEMENT_CHARACTER = "\ufffd"
BYTE_ORDER_MARK = "\ufeff"

# Checked in this order; a row gets the first reason that applies.
REASONS = (
    "invalid_encoding",
    "line_too_long",
    "unexpected_header",
    "missing_field",
    "extra_field",
    "invalid_sensor_id",
    "bad_timestamp",
    "non_numeric_reading",
    "non_finite_reading",
    "out_of_range",
    "outside_data_interval",
)
# The outcomes of a line that repeats HEADER (at the top of a file or mid-file) and of a blank
# line (an editor's or exporter's trailing newlines): neither a reading nor quarantined, only counted.
HEADER_LINE = "header"
BLANK_LINE = "blank"
NOT_ROWS = (HEADER_LINE, BLANK_LINE)
# A timestamp names a moment: a date alone (or a year) would cast to its midnight and merge a
# day's readings into one, so a time of day is required.
DATE_AND_TIME = r"^\d{4}-\d{1,2}-\d{1,2}[T ]\d{1,2}:\d{2}"


@dataclass(frozen=True)
class Rules:
    """What makes a line a valid reading beyond its format."""

    start: datetime
    end: datetime
    reading_min: float = DEFAULTS["reading_min"]
    reading_max: float = DEFAULTS["reading_max"]
    max_line_chars: int = DEFAULTS["max_line_chars"]


def csv_fields(text: Column) -> Column:
    """The line's fields: split at commas outside quotes, trimmed, and unquoted ("a""b" -> a"b)."""

    def unquote(raw: Column) -> Column:
        field = F.trim(raw)
        return F.when(
            field.rlike(r'^".*"$') & (F.length(field) >= 2),
            F.regexp_replace(F.regexp_extract(field, r'^"(.*)"$', 1), '""', '"'),
        ).otherwise(field)

    return F.transform(F.split(text, UNQUOTED_COMMA, -1), unquote)


def classify_lines(lines: DataFrame, rules: Rules) -> DataFrame:
    """Parse raw lines and give each a quarantine reason, ``header``, or null when it is a valid
    reading. ``lines`` has ``source_file`` and ``line_text`` (a leading byte order mark is ignored).
    The result adds ``sensor_id``, ``timestamp``, ``reading`` (null where unparseable) and ``reason``;
    a line longer than the rules allow is cut to that length and never parsed.
    """
    text = F.regexp_replace("line_text", f"^{BYTE_ORDER_MARK}", "")
    too_long = F.length(text) > rules.max_line_chars
    fields = csv_fields(F.when(~too_long, text))
    field_count = F.size(fields)

    def field(position: int) -> Column:
        return F.try_element_at(fields, F.lit(position))

    sensor_id, timestamp_text, reading_text = field(1), field(2), field(3)
    timestamp = timestamp_text.try_cast("timestamp")
    reading = reading_text.try_cast("double")
    names = F.transform(fields, F.lower)
    any_empty = (
        (F.coalesce(sensor_id, F.lit("")) == "")
        | (F.coalesce(timestamp_text, F.lit("")) == "")
        | (F.coalesce(reading_text, F.lit("")) == "")
    )
    reason = (
        F.when(text.rlike(r"^\s*$"), F.lit(BLANK_LINE))
        .when(F.instr(text, REPLACEMENT_CHARACTER) > 0, F.lit("invalid_encoding"))
        .when(too_long, F.lit("line_too_long"))
        .when(names == F.array(*(F.lit(name) for name in HEADER.split(","))), F.lit(HEADER_LINE))
        .when(F.array_contains(names, "sensor_id"), F.lit("unexpected_header"))
        .when((field_count < 3) | any_empty, F.lit("missing_field"))
        .when(field_count > 3, F.lit("extra_field"))
        .when(~sensor_id.rlike(SENSOR_ID_PATTERN), F.lit("invalid_sensor_id"))
        .when(timestamp.isNull() | ~timestamp_text.rlike(DATE_AND_TIME), F.lit("bad_timestamp"))
        .when(reading.isNull(), F.lit("non_numeric_reading"))
        .when(F.isnan(reading) | (F.abs(reading) == float("inf")), F.lit("non_finite_reading"))
        .when((reading < rules.reading_min) | (reading > rules.reading_max), F.lit("out_of_range"))
        .when(
            (timestamp < F.lit(rules.start).cast("timestamp")) | (timestamp >= F.lit(rules.end).cast("timestamp")),
            F.lit("outside_data_interval"),
        )
    )
    return lines.select(
        "source_file",
        F.when(too_long, F.substring(text, 1, rules.max_line_chars)).otherwise(text).alias("line_text"),
        sensor_id.alias("sensor_id"),
        timestamp.alias("timestamp"),
        reading.alias("reading"),
        reason.alias("reason"),
    )


def mark_duplicates(classified: DataFrame) -> DataFrame:
    """Add ``is_duplicate``: true for every valid row but one per (sensor_id, timestamp)."""
    # Rejected rows get a partition of their own, so they never outrank the valid copy.
    kept_copy_first = Window.partitionBy("sensor_id", "timestamp", F.col("reason").isNull()).orderBy(
        F.col("source_file").desc(), F.col("line_text").asc()
    )
    rank = F.when(F.col("reason").isNull(), F.row_number().over(kept_copy_first))
    return classified.withColumn("is_duplicate", F.coalesce(rank > 1, F.lit(False)))


def clean_readings(marked: DataFrame) -> DataFrame:
    return marked.where(F.col("reason").isNull() & ~F.col("is_duplicate")).select(
        "sensor_id", "timestamp", "reading", F.to_date("timestamp").alias("date")
    )


def file_day(source_file: Column | str) -> Column:
    return F.to_date(F.nullif(F.regexp_extract(source_file, FILE_DAY.pattern, 1), F.lit("")))


def quarantined_rows(marked: DataFrame) -> DataFrame:
    return marked.where(F.col("reason").isNotNull() & ~F.col("reason").isin(*NOT_ROWS)).select(
        "source_file", "line_text", "reason", file_day("source_file").alias("date")
    )
