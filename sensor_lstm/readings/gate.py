"""Ingest's quality gate: a day's delivery replaces the day only when it has readings, its header is
the one expected, and at most ``max_quarantined_fraction`` of its rows are quarantined."""

from __future__ import annotations

import math

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from sensor_lstm.errors import JobInputError
from sensor_lstm.readings.landing import FILE_DAY
from sensor_lstm.readings.lines import (
    BLANK_LINE,
    EXACT_REPEAT,
    HEADER,
    HEADER_LINE,
    NOT_ROWS,
    REASONS,
    SUPERSEDED,
    file_day,
)

# Not an outcome: of a day's rows, those whose timestamp had no zone (read in timestamp_zone).
ZONELESS = "without_zone"


class NoInputError(JobInputError):
    """No landing file, or no reading in them, for the data interval."""


class RejectedInputError(JobInputError):
    """A day's delivery fails the data-quality gate; the day's existing partitions stay."""


def count_outcomes(marked: DataFrame) -> dict[str, dict[str, int]]:
    """Lines per file day (ISO date) and outcome: ``valid``, ``exact_repeat``, ``superseded``,
    ``header``, ``blank`` or a reason; and under ZONELESS, the rows whose timestamp had no zone.
    One aggregation."""
    outcome = F.coalesce("reason", "repeat", F.lit("valid"))
    rows = marked.groupBy(file_day("source_file").cast("string").alias("day"), outcome.alias("outcome")).agg(
        F.count("*").alias("count"), F.count(F.when(F.col("zoneless"), 1)).alias("zoneless")
    )
    by_day: dict[str, dict[str, int]] = {}
    for row in rows.collect():
        counts = by_day.setdefault(row["day"], {})
        counts[row["outcome"]] = row["count"]
        if row["outcome"] not in NOT_ROWS:
            counts[ZONELESS] = counts.get(ZONELESS, 0) + row["zoneless"]
    return by_day


def summarize(by_outcome: dict[str, int]) -> dict:
    """The report's counts; rows_read = rows_written + rows_quarantined + exact_repeats_dropped +
    conflicts_superseded."""
    quarantined = {reason: by_outcome.get(reason, 0) for reason in REASONS}
    return {
        "rows_read": sum(count for outcome, count in by_outcome.items() if outcome not in (*NOT_ROWS, ZONELESS)),
        "rows_without_zone": by_outcome.get(ZONELESS, 0),
        "header_lines": by_outcome.get(HEADER_LINE, 0),
        "blank_lines": by_outcome.get(BLANK_LINE, 0),
        "rows_written": by_outcome.get("valid", 0),
        "exact_repeats_dropped": by_outcome.get(EXACT_REPEAT, 0),
        "conflicts_superseded": by_outcome.get(SUPERSEDED, 0),
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
    if not read:
        return None
    top = max(REASONS, key=lambda reason: by_reason[reason])
    mostly = f"mostly {top} ({by_reason[top]})"
    if counts["rows_written"] == 0:
        return f"{quarantined} of {read} rows quarantined, none of them a reading, {mostly}"
    allowed = rows_allowed(read, max_quarantined_fraction)
    if quarantined > allowed:
        return (
            f"{quarantined} of {read} rows quarantined, more than the {allowed} that max_quarantined_fraction "
            f"{max_quarantined_fraction:g} allows, {mostly}"
        )
    return None


def rows_allowed(read: int, max_quarantined_fraction: float) -> int:
    """The most quarantined rows of ``read`` whose share is at most the fraction, exactly: the
    message states counts, so it never rounds a share past the limit it reports."""
    allowed = math.floor(read * max_quarantined_fraction)
    while allowed < read and (allowed + 1) / read <= max_quarantined_fraction:
        allowed += 1
    while allowed > 0 and allowed / read > max_quarantined_fraction:
        allowed -= 1
    return allowed


def example_line(marked: DataFrame, day: str, reasons: dict[str, int]) -> str:
    """A line of the day's most frequent quarantine reason, to show in the error."""
    top = max(reasons, key=reasons.get)
    row = marked.where((file_day("source_file") == F.lit(day)) & (F.col("reason") == top)).first()
    text = row["line_text"] if len(row["line_text"]) <= 80 else row["line_text"][:77] + "..."
    return f"{row['source_file']}: {text!r}"


def check_deliveries(
    marked: DataFrame, files: list[str], allow_empty: bool, max_quarantined_fraction: float
) -> tuple[list, list, dict]:
    """The delivered days, those without a reading, and the counts; raises when a day's delivery
    must not replace what the lake has for it."""
    by_day = count_outcomes(marked)
    delivered_days = sorted({FILE_DAY.search(path).group(1) for path in files})
    day_counts = {day: summarize(by_day.get(day, {})) for day in delivered_days}
    empty_days = [day for day in delivered_days if day_counts[day]["rows_read"] == 0]
    if empty_days and not allow_empty:
        raise NoInputError(
            f"no readings in the landing files for {', '.join(empty_days)} (empty, or a header only); "
            "the days' existing partitions are kept"
        )
    rejected = {
        day: failure for day in delivered_days if (failure := gate_failure(day_counts[day], max_quarantined_fraction))
    }
    if rejected:
        day, failure = next(iter(rejected.items()))
        reasons = {reason: n for reason, n in day_counts[day]["quarantined_by_reason"].items() if n}
        raise RejectedInputError(
            f"the delivery for {day} is rejected: {failure}, e.g. {example_line(marked, day, reasons)}; "
            f"{len(rejected)} of {len(delivered_days)} days rejected, their existing partitions kept"
        )
    return delivered_days, empty_days, summarize(add_up(list(by_day.values())))
