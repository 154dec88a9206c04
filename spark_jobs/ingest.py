"""Ingest: raw landing CSV files of some UTC days -> typed, de-duplicated readings.

Example:
    spark-submit spark_jobs/ingest.py --lake var/lake --run-date 2026-11-25 [--days 1]

Inputs:
    <landing-dir>/sensor_readings_<YYYY-MM-DD>.csv (or .csv.gz), one file per UTC day of the run,
    with the header ``sensor_id,timestamp,reading`` (default landing dir: <lake>/landing). Fields
    may be quoted; a byte order mark, CRLF line ends and headers repeated mid-file are accepted.
Outputs (each partition replaced atomically, so reruns and backfills are idempotent):
    <lake>/readings/date=<day>/        sensor_id string, timestamp timestamp (UTC), reading double
    <lake>/quarantine/ingest/date=<day>/  source_file, line_text, reason: every rejected row
    <lake>/reports/ingest/date=<run-date>/report.json  counts; rows_read = rows_written +
                                       rows_quarantined + duplicates_dropped, checked before writing

A day's delivery replaces the day only when it passes the quality gate: it has readings, its
header is the one above, and at most ``--max-quarantined-fraction`` of its rows are quarantined.
Otherwise the job fails with the day's main reason and an example line, and the lake keeps what it
had for the day (an empty delivery under ``--allow-empty`` is "no data" and keeps it too).

Duplicates on (sensor_id, timestamp) keep one row: the copy from the latest-named landing file,
then the smallest raw line, so every rerun keeps the same row whatever the partitioning.
"""

from __future__ import annotations

import argparse
import logging
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from spark_jobs.job import JobInputError, run_job
from spark_jobs.lake import Lake, add_lake_arguments, day_of_partition, partition_name, utc_day_start

log = logging.getLogger("ingest")

HEADER = "sensor_id,timestamp,reading"
# The datasets ingest writes, by the names of its outputs.
DATASETS = {"readings": "readings", "quarantine": "quarantine/ingest"}
LANDING_FILE_PATTERNS = ("sensor_readings_{day}.csv", "sensor_readings_{day}.csv.gz")
FILE_DAY = re.compile(r"sensor_readings_(\d{4}-\d{2}-\d{2})\.csv(\.gz)?$")
GZIP_MAGIC = b"\x1f\x8b"
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
# The outcome of a line that repeats HEADER (at the top of a file or mid-file): neither a reading
# nor quarantined, only counted.
HEADER_LINE = "header"


class NoInputError(JobInputError):
    """No landing file, or no reading in them, for the data interval."""


class RejectedInputError(JobInputError):
    """A day's delivery fails the data-quality gate; the day's existing partitions stay."""


@dataclass(frozen=True)
class Rules:
    """What makes a line a valid reading beyond its format."""

    start: datetime
    end: datetime
    reading_min: float = -1e12
    reading_max: float = 1e12
    max_line_chars: int = 1024


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
        F.when(F.instr(text, REPLACEMENT_CHARACTER) > 0, F.lit("invalid_encoding"))
        .when(too_long, F.lit("line_too_long"))
        .when(names == F.array(*(F.lit(name) for name in HEADER.split(","))), F.lit(HEADER_LINE))
        .when(F.array_contains(names, "sensor_id"), F.lit("unexpected_header"))
        .when((field_count < 3) | any_empty, F.lit("missing_field"))
        .when(field_count > 3, F.lit("extra_field"))
        .when(~sensor_id.rlike(SENSOR_ID_PATTERN), F.lit("invalid_sensor_id"))
        .when(timestamp.isNull(), F.lit("bad_timestamp"))
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
    return marked.where(F.col("reason").isNotNull() & (F.col("reason") != HEADER_LINE)).select(
        "source_file", "line_text", "reason", file_day("source_file").alias("date")
    )


def count_outcomes(marked: DataFrame) -> dict[str, dict[str, int]]:
    """Lines per file day (ISO date) and outcome: ``valid``, ``duplicate``, ``header`` or a reason.
    One aggregation."""
    outcome = F.coalesce("reason", F.when(F.col("is_duplicate"), "duplicate").otherwise("valid"))
    rows = marked.groupBy(file_day("source_file").cast("string").alias("day"), outcome.alias("outcome")).count()
    by_day: dict[str, dict[str, int]] = {}
    for row in rows.collect():
        by_day.setdefault(row["day"], {})[row["outcome"]] = row["count"]
    return by_day


def summarize(by_outcome: dict[str, int]) -> dict:
    """The report's counts; rows_read = rows_written + rows_quarantined + duplicates_dropped."""
    quarantined = {reason: by_outcome.get(reason, 0) for reason in REASONS}
    return {
        "rows_read": sum(count for outcome, count in by_outcome.items() if outcome != HEADER_LINE),
        "header_lines": by_outcome.get(HEADER_LINE, 0),
        "rows_written": by_outcome.get("valid", 0),
        "duplicates_dropped": by_outcome.get("duplicate", 0),
        "rows_quarantined": sum(quarantined.values()),
        "quarantined_by_reason": quarantined,
    }


def add_up(outcomes: list[dict[str, int]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for by_outcome in outcomes:
        for outcome, count in by_outcome.items():
            total[outcome] = total.get(outcome, 0) + count
    return total


def gate_failure(counts: dict, max_quarantined_fraction: float) -> str | None:
    """Why a day's delivery must not replace the day's partitions, or None when it may: a header
    the job does not know, no valid reading, or more quarantined rows than allowed."""
    by_reason = counts["quarantined_by_reason"]
    if by_reason["unexpected_header"]:
        return f"its header is not {HEADER!r} (a new column, or another order)"
    read, quarantined = counts["rows_read"], counts["rows_quarantined"]
    if read and (counts["rows_written"] == 0 or quarantined / read > max_quarantined_fraction):
        top = max(REASONS, key=lambda reason: by_reason[reason])
        return (
            f"{quarantined} of {read} rows quarantined ({quarantined / read:.0%}; at most "
            f"{max_quarantined_fraction:.0%} allowed), mostly {top} ({by_reason[top]})"
        )
    return None


def example_line(marked: DataFrame, day: str, reasons: dict[str, int]) -> str:
    """A line of the day's most frequent quarantine reason, to show in the error."""
    top = max(reasons, key=reasons.get)
    row = marked.where((file_day("source_file") == F.lit(day)) & (F.col("reason") == top)).first()
    text = row["line_text"] if len(row["line_text"]) <= 80 else row["line_text"][:77] + "..."
    return f"{row['source_file']}: {text!r}"


def read_landing_lines(spark: SparkSession, files: list[str]) -> DataFrame:
    """Every line of the files, headers included; ``.csv.gz`` files are decompressed."""
    return spark.read.text(files).select(
        F.col("_metadata.file_name").alias("source_file"), F.col("value").alias("line_text")
    )


def landing_files(lake: Lake, landing_dir: str, days: list[date]) -> list[str]:
    found = []
    for day in days:
        for pattern in LANDING_FILE_PATTERNS:
            found.extend(lake.glob(f"{landing_dir}/{pattern.format(day=day.isoformat())}"))
    return found


def check_not_compressed(lake: Lake, files: list[str]) -> None:
    for path in files:
        if not path.endswith(".gz") and lake.read_head(path, len(GZIP_MAGIC)) == GZIP_MAGIC:
            raise JobInputError(f"{path} is gzip-compressed: name it .csv.gz, or deliver plain text")


def check_deliveries(marked: DataFrame, files: list[str], args: argparse.Namespace) -> tuple[list, list, dict]:
    """The delivered days, those without a reading, and the counts; raises when a day's delivery
    must not replace what the lake has for it."""
    by_day = count_outcomes(marked)
    delivered_days = sorted({FILE_DAY.search(path).group(1) for path in files})
    day_counts = {day: summarize(by_day.get(day, {})) for day in delivered_days}
    empty_days = [day for day in delivered_days if day_counts[day]["rows_read"] == 0]
    if empty_days and not args.allow_empty:
        raise NoInputError(
            f"no readings in the landing files for {', '.join(empty_days)} (empty, or a header only); "
            "the days' existing partitions are kept"
        )
    rejected = {
        day: failure
        for day in delivered_days
        if (failure := gate_failure(day_counts[day], args.max_quarantined_fraction))
    }
    if rejected:
        day, failure = next(iter(rejected.items()))
        reasons = {reason: n for reason, n in day_counts[day]["quarantined_by_reason"].items() if n}
        raise RejectedInputError(
            f"the delivery for {day} is rejected: {failure}, e.g. {example_line(marked, day, reasons)}; "
            f"{len(rejected)} of {len(delivered_days)} days rejected, their existing partitions kept"
        )
    return delivered_days, empty_days, summarize(add_up(list(by_day.values())))


def replace_partitions(
    spark: SparkSession,
    lake: Lake,
    marked: DataFrame,
    run_key: str,
    counts: dict,
    delivered_days: set[date],
) -> list[str]:
    """Stage both datasets, check them against the counts, swap in the delivered partitions and
    any other the staged rows fall in; returns the partitions replaced."""
    outputs = {
        "readings": (clean_readings(marked), ["sensor_id", "timestamp"]),
        "quarantine": (quarantined_rows(marked), ["source_file"]),
    }
    staged = {}
    for name, (frame, sort_columns) in outputs.items():
        lake.clear_stale_staging(DATASETS[name], run_key)
        staged[name] = lake.new_staging_path(DATASETS[name], run_key)
        frame.repartition("date").sortWithinPartitions(*sort_columns).write.partitionBy("date").parquet(staged[name])

    # Count what really reached storage (with the schema given, since an empty write has no file).
    written, quarantined = (
        spark.read.schema(outputs[name][0].schema).parquet(staged[name]).count() for name in ("readings", "quarantine")
    )
    if (written, quarantined) != (counts["rows_written"], counts["rows_quarantined"]):
        raise RuntimeError(f"staged output does not match the counts: {written=}, {quarantined=}, {counts=}")
    if counts["rows_read"] != written + quarantined + counts["duplicates_dropped"]:
        raise RuntimeError(f"rows do not add up: {counts}")

    days = set(delivered_days)
    for name in outputs:
        days |= {day_of_partition(path.rsplit("/", 1)[-1]) for path in lake.glob(f"{staged[name]}/date=*")}
    with lake.readings_locked(days):
        for name in outputs:
            lake.swap_in_partitions(staged[name], DATASETS[name], sorted(days))
    return [partition_name(day) for day in sorted(days)]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Ingest raw sensor CSV files into partitioned Parquet.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_lake_arguments(parser, run_date_help="first UTC day to ingest")
    parser.add_argument("--landing-dir", help="where the raw files land; default <lake>/landing")
    parser.add_argument("--days", type=int, default=1, help="number of UTC days from the run date")
    parser.add_argument(
        "--allow-empty",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="succeed, logging 'no data', when a day has no landing file or no reading in it (default: fail)",
    )
    parser.add_argument(
        "--max-quarantined-fraction",
        type=float,
        default=0.1,
        help="quality gate: a day whose share of quarantined rows is higher fails, keeping its existing partitions",
    )
    parser.add_argument("--reading-min", type=float, default=Rules.reading_min, help="smallest valid reading")
    parser.add_argument("--reading-max", type=float, default=Rules.reading_max, help="largest valid reading")
    parser.add_argument(
        "--max-line-chars", type=int, default=Rules.max_line_chars, help="longer lines are quarantined unparsed"
    )
    return parser.parse_args(argv)


def check_arguments(args: argparse.Namespace) -> None:
    problems = []
    if args.days < 1:
        problems.append(f"--days must be at least 1, got {args.days}")
    if not 0 <= args.max_quarantined_fraction < 1:
        problems.append(f"--max-quarantined-fraction must be in [0, 1), got {args.max_quarantined_fraction}")
    if not args.reading_min < args.reading_max:
        problems.append(f"--reading-min ({args.reading_min}) must be below --reading-max ({args.reading_max})")
    if args.max_line_chars < len(HEADER):
        problems.append(f"--max-line-chars must be at least {len(HEADER)}, got {args.max_line_chars}")
    if problems:
        raise JobInputError("; ".join(problems))


def run(spark: SparkSession, args: argparse.Namespace) -> dict:
    check_arguments(args)
    run_day = args.run_date
    days = [run_day + timedelta(days=offset) for offset in range(args.days)]
    start, end = utc_day_start(days[0]), utc_day_start(days[-1] + timedelta(days=1))
    rules = Rules(start, end, args.reading_min, args.reading_max, args.max_line_chars)
    lake: Lake = args.lake
    landing_dir = args.landing_dir or lake.dataset("landing")
    for dataset in DATASETS.values():
        lake.restore_interrupted_swaps(dataset, days)
    files = landing_files(lake, landing_dir, days)
    interval = f"{start.isoformat()} to {end.isoformat()}"
    if not files:
        if not args.allow_empty:
            raise NoInputError(f"no landing files in {landing_dir} for {interval}")
        log.warning("no data: no landing files in %s for %s; nothing written", landing_dir, interval)
        report = {"status": "no_data", "data_interval": interval, "files": []}
        lake.write_report("ingest", run_day, report)
        return report
    check_not_compressed(lake, files)

    marked = mark_duplicates(classify_lines(read_landing_lines(spark, files), rules)).persist()
    try:
        delivered_days, empty_days, counts = check_deliveries(marked, files, args)
        # A day is replaced when its file had readings, or when another day's file had rows for it;
        # a day without either keeps what it has.
        partitions = replace_partitions(
            spark,
            lake,
            marked,
            run_day.isoformat(),
            counts,
            {date.fromisoformat(day) for day in delivered_days if day not in empty_days},
        )
    finally:
        marked.unpersist()

    report = {
        "status": "no_data" if len(empty_days) == len(delivered_days) else "ok",
        "data_interval": interval,
        "files": [path.rsplit("/", 1)[-1] for path in files],
        "partitions": partitions,
        "days_without_readings": empty_days,
        **counts,
    }
    report_path = lake.write_report("ingest", run_day, report)
    if empty_days:
        log.warning(
            "no data: the landing files for %s have no readings; their partitions are kept", ", ".join(empty_days)
        )
    log.info(
        "ingest %s: read %d, written %d, quarantined %d %s, duplicates dropped %d; report %s",
        interval,
        counts["rows_read"],
        counts["rows_written"],
        counts["rows_quarantined"],
        {reason: n for reason, n in counts["quarantined_by_reason"].items() if n},
        counts["duplicates_dropped"],
        report_path,
    )
    return report


def main(argv: list[str] | None = None) -> None:
    run_job("ingest", parse_args, run, argv)


if __name__ == "__main__":
    main()
