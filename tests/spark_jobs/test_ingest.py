import json
from datetime import date, datetime

import pytest
from pyspark.testing import assertDataFrameEqual

from spark_jobs import ingest
from tests.conftest import utc

START, END = utc(2026, 11, 25), utc(2026, 11, 26)
FILE = "sensor_readings_2026-11-25.csv"


def lines_frame(spark, *rows):
    return spark.createDataFrame(list(rows), "source_file string, line_text string")


def classified_rows(spark, *texts):
    frame = ingest.classify_lines(lines_frame(spark, *[(FILE, text) for text in texts]), START, END)
    return [(row.line_text, row.reason) for row in frame.collect()]


def test_each_bad_row_kind_gets_its_reason(spark):
    assert classified_rows(
        spark,
        "s1,2026-11-25T00:00:00Z,1.5",
        "s1,2026-11-25T00:01:00Z",
        "s1,2026-11-25T00:02:00Z,",
        ",2026-11-25T00:03:00Z,1.0",
        "",
        "s1,2026-11-25T00:04:00Z,1.0,extra",
        "s1,not-a-time,1.0",
        "s1,2026-13-45T99:00:00Z,1.0",
        "s1,2026-11-25T00:05:00Z,abc",
        "s1,2026-11-25T00:06:00Z,NaN",
        "s1,2026-11-25T00:07:00Z,inf",
        "s1,2026-11-25T00:08:00Z,-Infinity",
        "s1,2026-11-24T23:59:59Z,1.0",
        "s1,2026-11-26T00:00:00Z,1.0",
    ) == [
        ("s1,2026-11-25T00:00:00Z,1.5", None),
        ("s1,2026-11-25T00:01:00Z", "missing_field"),
        ("s1,2026-11-25T00:02:00Z,", "missing_field"),
        (",2026-11-25T00:03:00Z,1.0", "missing_field"),
        ("", "missing_field"),
        ("s1,2026-11-25T00:04:00Z,1.0,extra", "extra_field"),
        ("s1,not-a-time,1.0", "bad_timestamp"),
        ("s1,2026-13-45T99:00:00Z,1.0", "bad_timestamp"),
        ("s1,2026-11-25T00:05:00Z,abc", "non_numeric_reading"),
        ("s1,2026-11-25T00:06:00Z,NaN", "non_finite_reading"),
        ("s1,2026-11-25T00:07:00Z,inf", "non_finite_reading"),
        ("s1,2026-11-25T00:08:00Z,-Infinity", "non_finite_reading"),
        ("s1,2026-11-24T23:59:59Z,1.0", "outside_data_interval"),
        ("s1,2026-11-26T00:00:00Z,1.0", "outside_data_interval"),
    ]


def test_timestamps_become_utc_and_readings_doubles(spark):
    frame = ingest.classify_lines(
        lines_frame(spark, (FILE, " s1 , 2026-11-25T01:30:00+01:00 , 2.25 "), (FILE, "s2,2026-11-25 00:00:05,-3")),
        START,
        END,
    )
    assert [(row.sensor_id, row.timestamp, row.reading, row.reason) for row in frame.collect()] == [
        ("s1", datetime(2026, 11, 25, 0, 30), 2.25, None),
        ("s2", datetime(2026, 11, 25, 0, 0, 5), -3.0, None),
    ]


def test_duplicates_keep_the_copy_from_the_latest_file_then_the_smallest_line(spark):
    later_file = "sensor_readings_2026-11-25.v2.csv"
    lines = lines_frame(
        spark,
        (FILE, "s1,2026-11-25T00:00:00Z,1.0"),
        (later_file, "s1,2026-11-25T00:00:00Z,9.0"),
        (FILE, "s1,2026-11-25T00:01:00Z,5.0"),
        (FILE, "s1,2026-11-25T00:01:00Z,4.0"),
        (FILE, "s1,2026-11-25T00:01:00Z,4.0"),
        (FILE, "s2,2026-11-25T00:01:00Z,7.0"),
        (FILE, "s1,2026-11-25T00:01:00Z,oops"),
        (FILE, "s1,2026-11-25T00:01:00Z,-inf"),  # rejected, and sorts before the kept copy
    )
    marked = ingest.mark_duplicates(ingest.classify_lines(lines, START, END))
    assertDataFrameEqual(
        ingest.clean_readings(marked),
        [
            ("s1", datetime(2026, 11, 25, 0, 0), 9.0, date(2026, 11, 25)),
            ("s1", datetime(2026, 11, 25, 0, 1), 4.0, date(2026, 11, 25)),
            ("s2", datetime(2026, 11, 25, 0, 1), 7.0, date(2026, 11, 25)),
        ],
    )
    assert ingest.count_outcomes(marked) == {
        "rows_read": 8,
        "rows_written": 3,
        "duplicates_dropped": 3,
        "rows_quarantined": 2,
        "quarantined_by_reason": {
            "missing_field": 0,
            "extra_field": 0,
            "bad_timestamp": 0,
            "non_numeric_reading": 1,
            "non_finite_reading": 1,
            "outside_data_interval": 0,
        },
    }


def test_quarantine_rows_keep_the_raw_line_and_the_file_day(spark):
    marked = ingest.mark_duplicates(ingest.classify_lines(lines_frame(spark, (FILE, "s1,x,1")), START, END))
    assert [tuple(row) for row in ingest.quarantined_rows(marked).collect()] == [
        (FILE, "s1,x,1", "bad_timestamp", date(2026, 11, 25))
    ]


def write_landing(lake_dir, day, *lines):
    landing = lake_dir / "landing"
    landing.mkdir(parents=True, exist_ok=True)
    (landing / f"sensor_readings_{day}.csv").write_text("\n".join([ingest.HEADER, *lines]) + "\n")


def run_ingest(spark, lake_dir, day, *extra):
    args = ingest.parse_args(["--lake", str(lake_dir), "--run-date", day, *extra])
    return ingest.run(spark, args)


def readings_of(spark, lake_dir):
    frame = spark.read.parquet(str(lake_dir / "readings"))
    return sorted((row.sensor_id, row.timestamp.isoformat(), row.reading, row.date.isoformat()) for row in frame.collect())


def test_rerun_replaces_only_its_own_partition(spark, tmp_path):
    write_landing(tmp_path, "2026-11-24", "s1,2026-11-24T00:00:00Z,1.0")
    write_landing(tmp_path, "2026-11-25", "s1,2026-11-25T00:00:00Z,2.0", "s1,2026-11-25T00:00:00Z,2.0", "s1,bad,3")
    run_ingest(spark, tmp_path, "2026-11-24")
    first = run_ingest(spark, tmp_path, "2026-11-25")
    again = run_ingest(spark, tmp_path, "2026-11-25")
    assert first == again
    assert (first["rows_read"], first["rows_written"], first["rows_quarantined"], first["duplicates_dropped"]) == (
        3,
        1,
        1,
        1,
    )
    assert readings_of(spark, tmp_path) == [
        ("s1", "2026-11-24T00:00:00", 1.0, "2026-11-24"),
        ("s1", "2026-11-25T00:00:00", 2.0, "2026-11-25"),
    ]

    # The day's file is corrected and the day re-run: its partition is replaced, the other kept.
    write_landing(tmp_path, "2026-11-25", "s1,2026-11-25T00:05:00Z,5.0")
    run_ingest(spark, tmp_path, "2026-11-25")
    assert readings_of(spark, tmp_path) == [
        ("s1", "2026-11-24T00:00:00", 1.0, "2026-11-24"),
        ("s1", "2026-11-25T00:05:00", 5.0, "2026-11-25"),
    ]
    assert not (tmp_path / "quarantine" / "ingest" / "date=2026-11-25").exists()
    report = json.loads((tmp_path / "reports" / "ingest" / "date=2026-11-25" / "report.json").read_text())
    assert (report["rows_read"], report["rows_written"]) == (1, 1)
    assert [path.name for path in (tmp_path / "readings" / "_staging").iterdir()] == []


def test_failed_attempt_leaves_nothing_visible_and_is_cleaned_by_the_retry(spark, tmp_path):
    write_landing(tmp_path, "2026-11-25", "s1,2026-11-25T00:00:00Z,2.0")
    leftover = tmp_path / "readings" / "_staging" / "2026-11-25-deadbeef" / "date=2026-11-25"
    leftover.mkdir(parents=True)
    (leftover / "part-0.parquet").write_bytes(b"half written")
    run_ingest(spark, tmp_path, "2026-11-25")
    assert not leftover.parent.exists()
    assert readings_of(spark, tmp_path) == [("s1", "2026-11-25T00:00:00", 2.0, "2026-11-25")]


def test_no_input_is_an_error_unless_allowed(spark, tmp_path):
    with pytest.raises(ingest.NoInputError, match="no landing files .* for 2026-11-25T00:00:00"):
        run_ingest(spark, tmp_path, "2026-11-25")
    assert run_ingest(spark, tmp_path, "2026-11-25", "--allow-empty")["status"] == "no_data"
    assert not (tmp_path / "readings").exists()
