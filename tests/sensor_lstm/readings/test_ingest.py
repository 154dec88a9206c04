import dataclasses
import gzip
import json
from datetime import date

import pytest

from sensor_lstm.errors import JobInputError
from sensor_lstm.lake import Lake
from sensor_lstm.lake.reports import IngestReport
from sensor_lstm.readings import gate, lines
from sensor_lstm.readings.deliveries import read_readings
from sensor_lstm.windows import prepare
from tests.support.landing import GOOD_DAY, GOOD_READINGS, readings_of, run_ingest, write_landing


def test_rerun_replaces_only_its_own_partition(spark, tmp_path):
    write_landing(tmp_path, "2026-11-24", "s1,2026-11-24T00:00:00Z,1.0")
    write_landing(tmp_path, "2026-11-25", "s1,2026-11-25T00:00:00Z,2.0", "s1,2026-11-25T00:00:00Z,2.0", "s1,bad,3")
    run_ingest(spark, tmp_path, "2026-11-24")
    first = run_ingest(spark, tmp_path, "2026-11-25", "--max-quarantined-fraction", "0.5")
    again = run_ingest(spark, tmp_path, "2026-11-25", "--max-quarantined-fraction", "0.5")
    # The same report, but for the names of the files the rerun wrote.
    assert dataclasses.replace(first, partition_digests={}) == dataclasses.replace(again, partition_digests={})
    assert (first.rows_read, first.rows_written, first.rows_quarantined, first.exact_repeats_dropped) == (
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


def quarantine_of(spark, lake_dir) -> list[tuple]:
    frame = spark.read.parquet(str(lake_dir / "quarantine" / "ingest"))
    return sorted((row.line_text, row.reason) for row in frame.collect())


@pytest.mark.parametrize(
    ("rule", "kept", "quarantined", "counts"),
    [
        (
            "keep_later_delivery",
            [("s1", "2026-11-25T00:00:00", 22.5, "2026-11-25"), ("s1", "2026-11-25T00:01:00", 5.0, "2026-11-25")],
            [
                ("s1,2026-11-25T00:00:00Z,-999.0", "missing_value"),
                ("s1,2026-11-25T00:01:00Z,4.0", "superseded_by_later_delivery"),
            ],
            (5, 2, 1, 1, 1),
        ),
        (
            "quarantine",
            [("s1", "2026-11-25T00:00:00", 22.5, "2026-11-25")],
            [
                ("s1,2026-11-25T00:00:00Z,-999.0", "missing_value"),
                ("s1,2026-11-25T00:01:00Z,4.0", "conflicting_duplicate"),
                ("s1,2026-11-25T00:01:00Z,5.0", "conflicting_duplicate"),
                ("s1,2026-11-25T00:01:00Z,5.0", "conflicting_duplicate"),  # every row of a conflict
            ],
            (5, 1, 4, 0, 0),
        ),
    ],
)
def test_conflicting_readings_follow_the_param_and_exact_repeats_and_sentinels_are_counted_apart(
    spark, tmp_path, rule, kept, quarantined, counts
):
    write_landing(
        tmp_path,
        "2026-11-25",
        "s1,2026-11-25T00:00:00Z,22.5",
        "s1,2026-11-25T00:00:00Z,-999.0",
        "s1,2026-11-25T00:01:00Z,4.0",
        "s1,2026-11-25T00:01:00Z,5.0",
        "s1,2026-11-25T00:01:00Z,5.0",
    )
    report = run_ingest(
        spark, tmp_path, "2026-11-25", "--duplicate-conflicts", rule, "--max-quarantined-fraction", "0.9"
    )
    assert readings_of(spark, tmp_path) == kept
    assert quarantine_of(spark, tmp_path) == quarantined
    assert (
        report.rows_read,
        report.rows_written,
        report.rows_quarantined,
        report.exact_repeats_dropped,
        report.conflicts_superseded,
    ) == counts


def test_failed_attempt_leaves_nothing_visible_and_is_cleaned_by_the_retry(spark, tmp_path):
    write_landing(tmp_path, "2026-11-25", "s1,2026-11-25T00:00:00Z,2.0")
    leftover = tmp_path / "readings" / "_staging" / "2026-11-25-deadbeef" / "date=2026-11-25"
    leftover.mkdir(parents=True)
    (leftover / "part-0.parquet").write_bytes(b"half written")
    run_ingest(spark, tmp_path, "2026-11-25")
    assert not leftover.parent.exists()
    assert readings_of(spark, tmp_path) == [("s1", "2026-11-25T00:00:00", 2.0, "2026-11-25")]


def test_no_input_is_an_error_unless_allowed(spark, tmp_path):
    with pytest.raises(gate.NoInputError, match=r"no landing files .* for 2026-11-25T00:00:00"):
        run_ingest(spark, tmp_path, "2026-11-25")
    assert run_ingest(spark, tmp_path, "2026-11-25", "--allow-empty-input").status == "no_data"
    assert not (tmp_path / "readings").exists()


def landing_path(lake_dir, day="2026-11-25", suffix=".csv"):
    return lake_dir / "landing" / f"sensor_readings_{day}{suffix}"


def lake_state(lake_dir):
    """Every file under the readings, quarantine and report folders, with its bytes."""
    return {
        str(path.relative_to(lake_dir)): path.read_bytes()
        for folder in ("readings", "quarantine", "reports")
        for path in sorted((lake_dir / folder).rglob("*"))
        if path.is_file()
    }


BAD_REDELIVERIES = {
    "empty": (b"", gate.NoInputError, r"no readings in the landing files for 2026-11-25 \(empty, or a header only\)"),
    "header_only": (b"sensor_id,timestamp,reading\n", gate.NoInputError, "empty, or a header only"),
    "new_fourth_column": (
        b"sensor_id,timestamp,reading,unit\ns1,2026-11-25T00:00:00Z,1.0,C\ns1,2026-11-25T00:01:00Z,2.0,C\n",
        gate.RejectedInputError,
        "the delivery for 2026-11-25 is rejected: its header is not 'sensor_id,timestamp,reading'",
    ),
    "another_column_order": (
        b"timestamp,sensor_id,reading\n2026-11-25T00:00:00Z,s1,1.0\n",
        gate.RejectedInputError,
        "its header is not 'sensor_id,timestamp,reading'",
    ),
    "every_row_quarantined": (
        b"sensor_id;timestamp;reading\ns1;2026-11-25T00:00:00Z;1.0\ns1;2026-11-25T00:01:00Z;2.0\n",
        gate.RejectedInputError,
        r"3 of 3 rows quarantined, none of them a reading, mostly missing_field \(3\), "
        r"e.g. sensor_readings_2026-11-25.csv: 's1;2026-11-25T00:00:00Z;1.0'",
    ),
    "gzip_bytes_in_a_csv": (
        gzip.compress(b"sensor_id,timestamp,reading\ns1,2026-11-25T00:00:00Z,1.0\n"),
        JobInputError,
        "sensor_readings_2026-11-25.csv is gzip-compressed: name it .csv.gz",
    ),
    "utf16_text": (
        "sensor_id,timestamp,reading\ns1,2026-11-25T00:00:00Z,1.0\n".encode("utf-16"),
        JobInputError,
        r"sensor_readings_2026-11-25.csv is UTF-16LE text: deliver it as UTF-8 \(for example `iconv -f UTF-16LE",
    ),
}


@pytest.mark.parametrize("kind", BAD_REDELIVERIES)
def test_a_bad_redelivery_fails_clearly_and_keeps_the_good_day(spark, tmp_path, kind):
    content, error, message = BAD_REDELIVERIES[kind]
    write_landing(tmp_path, "2026-11-25", *GOOD_DAY)
    run_ingest(spark, tmp_path, "2026-11-25")
    good = lake_state(tmp_path)
    landing_path(tmp_path).write_bytes(content)
    with pytest.raises(error, match=message):
        run_ingest(spark, tmp_path, "2026-11-25")
    assert lake_state(tmp_path) == good
    assert readings_of(spark, tmp_path) == GOOD_READINGS


def test_a_redelivery_with_too_many_bad_rows_is_rejected_at_the_gate_param(spark, tmp_path):
    write_landing(tmp_path, "2026-11-25", *GOOD_DAY)
    run_ingest(spark, tmp_path, "2026-11-25")
    write_landing(tmp_path, "2026-11-25", *GOOD_DAY, "s1,2026-11-25T00:09:00Z,abc")
    with pytest.raises(
        gate.RejectedInputError,
        match=r"1 of 4 rows quarantined, more than the 0 that max_quarantined_fraction 0.2 allows",
    ):
        run_ingest(spark, tmp_path, "2026-11-25", "--max-quarantined-fraction", "0.2")
    assert run_ingest(spark, tmp_path, "2026-11-25", "--max-quarantined-fraction", "0.3").rows_quarantined == 1


def test_an_empty_redelivery_allowed_to_be_empty_is_no_data_and_keeps_the_day(spark, tmp_path):
    write_landing(tmp_path, "2026-11-25", *GOOD_DAY)
    run_ingest(spark, tmp_path, "2026-11-25")
    landing_path(tmp_path).write_text(lines.HEADER + "\n")
    report = run_ingest(spark, tmp_path, "2026-11-25", "--allow-empty-input")
    assert (report.status, report.days_without_readings, report.partitions) == ("no_data", ["2026-11-25"], [])
    assert readings_of(spark, tmp_path) == GOOD_READINGS


def test_a_fully_quoted_redelivery_is_the_same_day(spark, tmp_path):
    write_landing(tmp_path, "2026-11-25", *GOOD_DAY)
    run_ingest(spark, tmp_path, "2026-11-25")
    quoted = ['"sensor_id","timestamp","reading"'] + [
        ",".join(f'"{field}"' for field in line.split(",")) for line in GOOD_DAY
    ]
    landing_path(tmp_path).write_text("\n".join(quoted) + "\n")
    report = run_ingest(spark, tmp_path, "2026-11-25")
    assert (report.rows_read, report.rows_written, report.header_lines) == (3, 3, 1)
    assert readings_of(spark, tmp_path) == GOOD_READINGS


def test_blank_lines_at_the_end_of_a_good_file_are_counted_not_rows_and_the_day_passes_the_gate(spark, tmp_path):
    write_landing(tmp_path, "2026-11-25", *GOOD_DAY, *[""] * 500)
    report = run_ingest(spark, tmp_path, "2026-11-25")
    assert (report.rows_read, report.rows_written, report.rows_quarantined, report.blank_lines) == (3, 3, 0, 500)
    assert readings_of(spark, tmp_path) == GOOD_READINGS


def test_real_world_csv_bom_quotes_crlf_bad_bytes_long_lines_repeated_headers_and_offsets(spark, tmp_path):
    lines = [
        b"\xef\xbb\xbfsensor_id,timestamp,reading",
        b'"s1",2026-11-25T00:00:00Z,"1.5"',
        b"s1,2026-11-25T00:01:00Z,2.5",
        b"s\xff1,2026-11-25T00:02:00Z,3.5",
        b"s1,2026-11-25T00:03:00Z," + b"9" * 2000,
        b"sensor_id,timestamp,reading",
        b"s2,2026-11-25T08:30:00+09:00,4.5",
        b"s2,2026-11-25T00:30:00-01:00,5.5",
        b"s2,2026-11-25T00:30:00+01:00,6.5",
    ]
    landing_path(tmp_path).parent.mkdir(parents=True)
    landing_path(tmp_path).write_bytes(b"\r\n".join(lines) + b"\r\n")
    report = run_ingest(spark, tmp_path, "2026-11-25", "--max-quarantined-fraction", "0.6")
    # 08:30+09:00 and 00:30+01:00 are both 23:30 UTC the day before: late rows, landing in their
    # day, where the later line's reading wins.
    assert readings_of(spark, tmp_path) == [
        ("s1", "2026-11-25T00:00:00", 1.5, "2026-11-25"),
        ("s1", "2026-11-25T00:01:00", 2.5, "2026-11-25"),
        ("s2", "2026-11-24T23:30:00", 6.5, "2026-11-24"),
        ("s2", "2026-11-25T01:30:00", 5.5, "2026-11-25"),
    ]
    quarantine = spark.read.parquet(str(tmp_path / "quarantine" / "ingest"))
    assert sorted((row.reason, len(row.line_text)) for row in quarantine.collect()) == [
        ("invalid_encoding", 28),
        ("line_too_long", 1024),
        ("superseded_by_later_delivery", 32),
    ]
    assert (
        report.rows_read,
        report.header_lines,
        report.rows_written,
        report.rows_quarantined,
        report.conflicts_superseded,
        report.late_rows,
    ) == (7, 2, 4, 2, 1, {"2026-11-24": 1})


def test_gzip_landing_files_are_read(spark, tmp_path):
    landing_path(tmp_path).parent.mkdir(parents=True)
    landing_path(tmp_path, suffix=".csv.gz").write_bytes(gzip.compress("\n".join([lines.HEADER, *GOOD_DAY]).encode()))
    report = run_ingest(spark, tmp_path, "2026-11-25")
    assert report.files == ["sensor_readings_2026-11-25.csv.gz"]
    assert readings_of(spark, tmp_path) == GOOD_READINGS


def test_an_ingest_killed_between_its_swap_and_its_report_is_named_by_the_next_reader(
    spark, tmp_path, monkeypatch, caplog
):
    lake = Lake(str(tmp_path))
    write_landing(tmp_path, "2026-11-25", *GOOD_DAY)
    first = run_ingest(spark, tmp_path, "2026-11-25")
    assert sorted(first.partition_digests) == ["quarantine/ingest/date=2026-11-25", "readings/date=2026-11-25"]
    assert IngestReport.read(lake, date(2026, 11, 25)).stale_partitions(lake) == []

    # A corrected delivery, and the run dies after its swap, before its report (SIGKILL, say).
    write_landing(tmp_path, "2026-11-25", *GOOD_DAY, "s3,2026-11-25T00:02:00Z,4.0")
    monkeypatch.setattr(IngestReport, "write", lambda self, lake, day: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        run_ingest(spark, tmp_path, "2026-11-25")
    monkeypatch.undo()
    assert len(readings_of(spark, tmp_path)) == len(GOOD_DAY) + 1  # the new delivery is in
    assert IngestReport.read(lake, date(2026, 11, 25)) == first  # its report is the old one's
    assert IngestReport.read(lake, date(2026, 11, 25)).stale_partitions(lake) == ["readings/date=2026-11-25"]
    assert prepare.stale_ingest_reports(lake, [date(2026, 11, 25)]) == ["2026-11-25"]
    assert (
        "the ingest report for 2026-11-25 does not describe what readings/date=2026-11-25 now hold: an ingest "
        "run stopped between replacing them and writing its report; rerun ingest for 2026-11-25"
    ) in caplog.text

    # The retry (Airflow's) writes the report of what is there.
    run_ingest(spark, tmp_path, "2026-11-25")
    assert IngestReport.read(lake, date(2026, 11, 25)).stale_partitions(lake) == []


def resolved_readings(spark, lake_dir, *days) -> list[tuple]:
    """The readings as every reader sees them: per sensor and timestamp, the latest delivery's."""
    frame = read_readings(spark, Lake(str(lake_dir)), [date.fromisoformat(day) for day in days])
    return sorted(
        (row.sensor_id, row.timestamp.isoformat(), row.reading, row.delivery.isoformat()) for row in frame.collect()
    )


def test_late_rows_land_in_their_day_both_reports_count_them_and_a_rerun_of_either_day_keeps_them(spark, tmp_path):
    lake = Lake(str(tmp_path))
    write_landing(tmp_path, "2026-11-24", "s1,2026-11-24T00:00:00Z,1.0", "s1,2026-11-24T23:00:00Z,2.0")
    run_ingest(spark, tmp_path, "2026-11-24")
    late_delivery = [
        "s1,2026-11-25T00:00:00Z,3.0",
        "s1,2026-11-24T23:00:00Z,2.0",  # already in the lake: read once
        "s1,2026-11-24T23:30:00Z,2.5",  # new to the day
        "s1,2026-11-24T00:00:00Z,9.0",  # a later delivery's reading: it wins
        "s1,2026-11-10T00:00:00Z,4.0",  # beyond max_late_days: outside_data_interval
    ]
    write_landing(tmp_path, "2026-11-25", *late_delivery)
    report = run_ingest(spark, tmp_path, "2026-11-25", "--max-quarantined-fraction", "0.5")
    assert (
        report.late_rows,
        report.rows_already_in_the_lake,
        report.quarantined_by_reason["outside_data_interval"],
    ) == (
        {"2026-11-24": 3},
        1,
        1,
    )
    with_late_rows = [
        ("s1", "2026-11-24T00:00:00", 9.0, "2026-11-25"),
        ("s1", "2026-11-24T23:00:00", 2.0, "2026-11-25"),
        ("s1", "2026-11-24T23:30:00", 2.5, "2026-11-25"),
        ("s1", "2026-11-25T00:00:00", 3.0, "2026-11-25"),
    ]
    assert resolved_readings(spark, tmp_path, "2026-11-24", "2026-11-25") == with_late_rows
    earlier = IngestReport.read(lake, date(2026, 11, 24))
    assert (earlier.late_rows_received, earlier.stale_partitions(lake)) == ({"2026-11-25": 3}, [])

    # A rerun of the earlier day replaces its own delivery's rows and keeps the late ones.
    run_ingest(spark, tmp_path, "2026-11-24")
    assert resolved_readings(spark, tmp_path, "2026-11-24", "2026-11-25") == with_late_rows
    assert IngestReport.read(lake, date(2026, 11, 24)).late_rows_received == {"2026-11-25": 3}

    # A redelivery of the later day without the late rows takes them back out.
    write_landing(tmp_path, "2026-11-25", late_delivery[0])
    assert run_ingest(spark, tmp_path, "2026-11-25").late_rows == {}
    assert resolved_readings(spark, tmp_path, "2026-11-24", "2026-11-25") == [
        ("s1", "2026-11-24T00:00:00", 1.0, "2026-11-24"),
        ("s1", "2026-11-24T23:00:00", 2.0, "2026-11-24"),
        ("s1", "2026-11-25T00:00:00", 3.0, "2026-11-25"),
    ]
    earlier = IngestReport.read(lake, date(2026, 11, 24))
    assert (earlier.late_rows_received, earlier.stale_partitions(lake)) == ({}, [])


def test_a_file_that_repeats_the_last_hours_of_the_day_before_passes_the_gate(spark, tmp_path):
    yesterday = [
        f"s1,2026-11-24T{hour:02d}:{minute:02d}:00Z,{hour + minute / 60:.4f}"
        for hour in range(24)
        for minute in range(60)
    ]
    write_landing(tmp_path, "2026-11-24", *yesterday)
    run_ingest(spark, tmp_path, "2026-11-24")
    today = [line.replace("2026-11-24", "2026-11-25") for line in yesterday[:600]]
    write_landing(tmp_path, "2026-11-25", *yesterday[-180:], *today)  # 3 hours of yesterday first
    report = run_ingest(spark, tmp_path, "2026-11-25")
    assert (report.rows_read, report.rows_written, report.rows_quarantined, report.rows_already_in_the_lake) == (
        780,
        780,
        0,
        180,
    )
    assert len(resolved_readings(spark, tmp_path, "2026-11-24")) == 24 * 60


def test_the_sensor_catalog_gives_a_sensor_its_own_range_and_sentinels_and_the_report_its_unit(spark, tmp_path):
    (tmp_path / "catalog").mkdir()
    (tmp_path / "catalog" / "sensors.csv").write_text(
        "sensor_id,unit,reading_min,reading_max,missing_value_sentinels\ns1,degC,0,50,-1\ns2,,,,none\n"
    )
    write_landing(
        tmp_path,
        "2026-11-25",
        "s1,2026-11-25T00:00:00Z,60",  # above its own reading_max
        "s1,2026-11-25T00:01:00Z,-1",  # its own sentinel
        "s1,2026-11-25T00:02:00Z,-999",  # not its sentinel, and below its reading_min
        "s1,2026-11-25T00:03:00Z,20",
        "s2,2026-11-25T00:00:00Z,-999",  # it has no sentinels: a reading
        "s3,2026-11-25T00:00:00Z,-999",  # not in the catalog: the Params' sentinels
        "s3,2026-11-25T00:01:00Z,60",
    )
    report = run_ingest(spark, tmp_path, "2026-11-25", "--max-quarantined-fraction", "0.9")
    assert readings_of(spark, tmp_path) == [
        ("s1", "2026-11-25T00:03:00", 20.0, "2026-11-25"),
        ("s2", "2026-11-25T00:00:00", -999.0, "2026-11-25"),
        ("s3", "2026-11-25T00:01:00", 60.0, "2026-11-25"),
    ]
    assert quarantine_of(spark, tmp_path) == [
        ("s1,2026-11-25T00:00:00Z,60", "out_of_range"),
        ("s1,2026-11-25T00:01:00Z,-1", "missing_value"),
        ("s1,2026-11-25T00:02:00Z,-999", "out_of_range"),
        ("s3,2026-11-25T00:00:00Z,-999", "missing_value"),
    ]
    assert report.units == {"s1": "degC"}
