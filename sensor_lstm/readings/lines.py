"""Landing lines -> readings: each line parsed as CSV, given a quarantine reason or none, and
duplicates marked. Pure DataFrame functions; sensor_lstm.readings.ingest runs them.

A row gets the first reason of REASONS that applies. Valid rows that share a sensor and timestamp
are exact repeats when their readings are equal: one is kept. When they differ they conflict, and
``duplicate_conflicts`` decides: keep the later delivery (the later file day, then the later line
in it), the others superseded; or quarantine them all as ``conflicting_duplicate``. The sort order
of the raw text never decides, and every rerun keeps the same row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from sensor_lstm.lake.datasets import LANDING_HEADER
from sensor_lstm.readings.landing import FILE_DAY
from sensor_lstm.settings import DEFAULTS
from sensor_lstm.settings.table import DUPLICATE_CONFLICT_RULES

# A sensor catalog's columns as classify_lines joins them (sensor_lstm.readings.catalog).
CATALOG_COLUMNS = (
    "sensor_id string, catalog_reading_min double, catalog_reading_max double, catalog_sentinels array<double>"
)

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
    "ambiguous_local_time",  # a zone-less time a DST change makes happen twice in timestamp_zone
    "nonexistent_local_time",  # a zone-less time a DST change skips in timestamp_zone
    "non_numeric_reading",
    "non_finite_reading",
    "missing_value",
    "out_of_range",
    "outside_data_interval",
    "conflicting_duplicate",  # given by resolve_duplicates, after the others
)
KEEP_LATER_DELIVERY, QUARANTINE_CONFLICTS = DUPLICATE_CONFLICT_RULES
# What became of a valid row that shares its sensor and timestamp with another and is not kept:
# an exact repeat is dropped; a superseded reading (it lost a conflict to a later delivery) goes
# to the quarantine dataset with SUPERSEDED_REASON, so the losing reading is never lost.
EXACT_REPEAT, SUPERSEDED = "exact_repeat", "superseded"
SUPERSEDED_REASON = "superseded_by_later_delivery"
# The outcomes of a line that repeats HEADER (at the top of a file or mid-file) and of a blank
# line (an editor's or exporter's trailing newlines): neither a reading nor quarantined, only counted.
HEADER_LINE = "header"
BLANK_LINE = "blank"
NOT_ROWS = (HEADER_LINE, BLANK_LINE)
# A timestamp names a moment: a date alone (or a year) would cast to its midnight and merge a
# day's readings into one, so a time of day is required.
DATE_AND_TIME = r"^\d{4}-\d{1,2}-\d{1,2}[T ]\d{1,2}:\d{2}"
# A timestamp's own zone: Z, an offset such as +01:00 or -0530, UTC, or a region such as
# Europe/Berlin. Without one it is read in the
# Param timestamp_zone.
ZONE_SUFFIX = r"([Zz]|[+-]\d{2}(:?\d{2})?|\s*(UTC|GMT)|\s*[A-Za-z]+/[A-Za-z_]+)$"
# The sizes of the DST changes in the zone database (Lord Howe's is 30 minutes, Troll's 2 hours).
DST_SHIFTS_MINUTES = (30, 60, 120)


@dataclass(frozen=True)
class Rules:
    """What makes a line a valid reading beyond its format."""

    start: datetime
    end: datetime
    reading_min: float = DEFAULTS["reading_min"]
    reading_max: float = DEFAULTS["reading_max"]
    max_line_chars: int = DEFAULTS["max_line_chars"]
    missing_value_sentinels: tuple[float, ...] = tuple(DEFAULTS["missing_value_sentinels"])
    late_start: datetime | None = None  # rows from here to ``start`` are late: they land in their own day
    timestamp_zone: str = DEFAULTS["timestamp_zone"]


def unquoted(field: Column) -> Column:
    """A CSV field's value: what is inside its double quotes when it has them ("a""b" -> a"b)."""
    return F.when(
        field.rlike(r'^".*"$') & (F.length(field) >= 2),
        F.regexp_replace(F.regexp_extract(field, r'^"(.*)"$', 1), '""', '"'),
    ).otherwise(field)


def csv_fields(text: Column) -> Column:
    """The line's fields, split at commas outside quotes, trimmed and unquoted; except the sensor id,
    which is taken exactly as written (unquoted): " s1" is not s1, and must not merge into it."""
    fields = F.split(text, UNQUOTED_COMMA, -1)
    return F.transform(fields, lambda raw, index: F.when(index == 0, unquoted(raw)).otherwise(unquoted(F.trim(raw))))


def read_timestamp(text: Column, zone: str) -> tuple[Column, Column, Column]:
    """The instant a timestamp's text names; whether it had no zone of its own (then it is a wall
    clock time in ``zone``); and, for such a time that a DST change makes happen twice or never,
    the reason it names no single instant (else null)."""
    parsed = text.try_cast("timestamp")  # the session is in UTC: a zone-less text is read as UTC
    zoneless = ~text.rlike(ZONE_SUFFIX)
    if zone == "UTC":
        return parsed, zoneless, F.lit(None).cast("string")
    instant = F.to_utc_timestamp(parsed, zone)

    def wall_clock(moment: Column) -> Column:
        return F.from_utc_timestamp(moment, zone)

    skipped = wall_clock(instant) != parsed
    twice = F.lit(False)
    for minutes in DST_SHIFTS_MINUTES:
        shift = F.expr(f"INTERVAL {minutes} MINUTES")
        twice = twice | (wall_clock(instant + shift) == parsed) | (wall_clock(instant - shift) == parsed)
    problem = F.when(zoneless & skipped, F.lit("nonexistent_local_time")).when(
        zoneless & twice, F.lit("ambiguous_local_time")
    )
    return F.when(zoneless, instant).otherwise(parsed), zoneless, problem


def parse_lines(lines: DataFrame, rules: Rules) -> DataFrame:
    """Each line's fields, parsed: what classify_lines judges. A line longer than the rules allow
    is cut to that length and never parsed."""
    text = F.regexp_replace("line_text", f"^{BYTE_ORDER_MARK}", "")
    too_long = F.length(text) > rules.max_line_chars
    fields = csv_fields(F.when(~too_long, text))

    def field(position: int) -> Column:
        return F.try_element_at(fields, F.lit(position))

    timestamp, zoneless, local_time_problem = read_timestamp(field(2), rules.timestamp_zone)
    return lines.select(
        "source_file",
        "line_position",
        F.when(too_long, F.substring(text, 1, rules.max_line_chars)).otherwise(text).alias("line_text"),
        too_long.alias("too_long"),
        F.size(fields).alias("field_count"),
        F.transform(fields, lambda name: F.lower(F.trim(name))).alias("names"),
        field(1).alias("sensor_id"),
        field(2).alias("timestamp_text"),
        field(3).alias("reading_text"),
        timestamp.alias("timestamp"),
        F.coalesce(zoneless, F.lit(False)).alias("zoneless"),
        local_time_problem.alias("local_time_problem"),
        field(3).try_cast("double").alias("reading"),
    )


def with_sensor_limits(parsed: DataFrame, rules: Rules, catalog: DataFrame | None) -> DataFrame:
    """Add each row's ``reading_min``, ``reading_max`` and ``sentinels``: its sensor's in the
    catalog (sensor_lstm.readings.catalog) where it has them, else the run's."""
    if catalog is None:
        catalog = parsed.sparkSession.createDataFrame([], CATALOG_COLUMNS)
    joined = parsed.join(F.broadcast(catalog), "sensor_id", "left")
    run_sentinels = F.array(*(F.lit(float(value)) for value in rules.missing_value_sentinels)).cast("array<double>")
    return joined.select(
        *parsed.columns,
        F.coalesce("catalog_reading_min", F.lit(float(rules.reading_min))).alias("reading_min"),
        F.coalesce("catalog_reading_max", F.lit(float(rules.reading_max))).alias("reading_max"),
        F.coalesce("catalog_sentinels", run_sentinels).alias("sentinels"),
    )


def classify_lines(lines: DataFrame, rules: Rules, catalog: DataFrame | None = None) -> DataFrame:
    """Parse raw lines and give each a quarantine reason, ``header``, or null when it is a valid
    reading. ``lines`` has ``source_file`` and ``line_text`` (a leading byte order mark is ignored).
    The result adds ``sensor_id``, ``timestamp``, ``reading`` (null where unparseable) and ``reason``.
    """
    rows = with_sensor_limits(parse_lines(lines, rules), rules, catalog)
    sensor_id, timestamp, reading, text = F.col("sensor_id"), F.col("timestamp"), F.col("reading"), F.col("line_text")
    any_empty = (
        (F.coalesce(F.trim(sensor_id), F.lit("")) == "")
        | (F.coalesce("timestamp_text", F.lit("")) == "")
        | (F.coalesce("reading_text", F.lit("")) == "")
    )
    reason = (
        F.when(text.rlike(r"^\s*$"), F.lit(BLANK_LINE))
        .when(F.instr(text, REPLACEMENT_CHARACTER) > 0, F.lit("invalid_encoding"))
        .when(F.col("too_long"), F.lit("line_too_long"))
        .when(F.col("names") == F.array(*(F.lit(name) for name in HEADER.split(","))), F.lit(HEADER_LINE))
        .when(F.array_contains("names", "sensor_id"), F.lit("unexpected_header"))
        .when((F.col("field_count") < 3) | any_empty, F.lit("missing_field"))
        .when(F.col("field_count") > 3, F.lit("extra_field"))
        .when(~sensor_id.rlike(SENSOR_ID_PATTERN), F.lit("invalid_sensor_id"))
        .when(timestamp.isNull() | ~F.col("timestamp_text").rlike(DATE_AND_TIME), F.lit("bad_timestamp"))
        .when(F.col("local_time_problem").isNotNull(), F.col("local_time_problem"))
        .when(reading.isNull(), F.lit("non_numeric_reading"))
        .when(F.isnan(reading) | (F.abs(reading) == float("inf")), F.lit("non_finite_reading"))
        .when(F.array_contains("sentinels", reading), F.lit("missing_value"))
        .when((reading < F.col("reading_min")) | (reading > F.col("reading_max")), F.lit("out_of_range"))
        .when(
            (timestamp < F.lit(rules.late_start or rules.start).cast("timestamp"))
            | (timestamp >= F.lit(rules.end).cast("timestamp")),
            F.lit("outside_data_interval"),
        )
    )
    return rows.select(
        "source_file",
        "line_position",
        "line_text",
        "sensor_id",
        "timestamp",
        "reading",
        reason.alias("reason"),
        "zoneless",
    )


def resolve_duplicates(classified: DataFrame, conflicts: str) -> DataFrame:
    """Add ``repeat``: EXACT_REPEAT or SUPERSEDED for a valid row another row of its sensor and
    timestamp is kept over, else null. With ``conflicts`` QUARANTINE_CONFLICTS, rows whose readings
    differ get the reason ``conflicting_duplicate`` instead."""
    valid = F.col("reason").isNull()
    # Rejected rows get a partition of their own, so they never count in a valid row's key.
    key = Window.partitionBy("sensor_id", "timestamp", valid)
    later_first = key.orderBy(
        file_day("source_file").desc(), F.col("source_file").desc(), F.col("line_position").desc()
    )
    conflict = valid & (F.size(F.collect_set("reading").over(key)) > 1)
    if conflicts == QUARANTINE_CONFLICTS:
        rank = F.row_number().over(later_first)
        return classified.select(
            *(column for column in classified.columns if column != "reason"),
            F.when(conflict, F.lit("conflicting_duplicate")).otherwise(F.col("reason")).alias("reason"),
            F.when(valid & ~conflict & (rank > 1), F.lit(EXACT_REPEAT)).alias("repeat"),
        )
    if conflicts != KEEP_LATER_DELIVERY:
        raise ValueError(f"duplicate_conflicts {conflicts!r} is none of {', '.join(DUPLICATE_CONFLICT_RULES)}")
    kept = F.first("reading").over(later_first)
    repeat = F.when(F.col("reading") == kept, F.lit(EXACT_REPEAT)).otherwise(F.lit(SUPERSEDED))
    return classified.withColumn("repeat", F.when(valid & (F.row_number().over(later_first) > 1), repeat))


def clean_readings(marked: DataFrame) -> DataFrame:
    """The readings to write: each with its UTC ``date`` and its ``delivery``, its file's day."""
    return marked.where(F.col("reason").isNull() & F.col("repeat").isNull()).select(
        "sensor_id",
        "timestamp",
        "reading",
        F.to_date("timestamp").alias("date"),
        file_day("source_file").alias("delivery"),
    )


def file_day(source_file: Column | str) -> Column:
    return F.to_date(F.nullif(F.regexp_extract(source_file, FILE_DAY.pattern, 1), F.lit("")))


def quarantined_rows(marked: DataFrame) -> DataFrame:
    """The rows the quarantine dataset keeps: every rejected row, and every superseded reading."""
    rejected = F.col("reason").isNotNull() & ~F.col("reason").isin(*NOT_ROWS)
    superseded = F.coalesce(F.col("repeat") == SUPERSEDED, F.lit(False))
    return marked.where(rejected | superseded).select(
        "source_file",
        "line_text",
        F.coalesce("reason", F.lit(SUPERSEDED_REASON)).alias("reason"),
        file_day("source_file").alias("date"),
    )
