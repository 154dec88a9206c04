from datetime import date, datetime

from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from sensor_lstm.readings import gate, lines
from tests.support.lake_data import utc

START, END = utc(2026, 11, 25), utc(2026, 11, 26)
RULES = lines.Rules(START, END)
FILE = "sensor_readings_2026-11-25.csv"


def lines_frame(spark, *rows):
    """Lines as read_landing_lines gives them: a file's lines in the order given."""
    frame = spark.createDataFrame(list(rows), "source_file string, line_text string")
    position = F.struct(F.lit(0).cast("long").alias("block_start"), F.monotonically_increasing_id().alias("in_block"))
    return frame.withColumn("line_position", position)


def classified_rows(spark, *texts):
    frame = lines.classify_lines(lines_frame(spark, *[(FILE, text) for text in texts]), RULES)
    return [(row.line_text, row.reason) for row in frame.collect()]


def test_each_bad_row_kind_gets_its_reason(spark):
    assert classified_rows(
        spark,
        "s1,2026-11-25T00:00:00Z,1.5",
        "s1,2026-11-25T00:01:00Z",
        "s1,2026-11-25T00:02:00Z,",
        ",2026-11-25T00:03:00Z,1.0",
        "",
        " \t\r",
        "s1,2026-11-25T00:04:00Z,1.0,extra",
        "s1,not-a-time,1.0",
        "s1,2026-11-25,1.0",
        "s1,2026,1.0",
        "s1,2026-11-25T00,1.0",
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
        ("", "blank"),
        (" \t\r", "blank"),
        ("s1,2026-11-25T00:04:00Z,1.0,extra", "extra_field"),
        ("s1,not-a-time,1.0", "bad_timestamp"),
        ("s1,2026-11-25,1.0", "bad_timestamp"),
        ("s1,2026,1.0", "bad_timestamp"),
        ("s1,2026-11-25T00,1.0", "bad_timestamp"),
        ("s1,2026-13-45T99:00:00Z,1.0", "bad_timestamp"),
        ("s1,2026-11-25T00:05:00Z,abc", "non_numeric_reading"),
        ("s1,2026-11-25T00:06:00Z,NaN", "non_finite_reading"),
        ("s1,2026-11-25T00:07:00Z,inf", "non_finite_reading"),
        ("s1,2026-11-25T00:08:00Z,-Infinity", "non_finite_reading"),
        ("s1,2026-11-24T23:59:59Z,1.0", "outside_data_interval"),
        ("s1,2026-11-26T00:00:00Z,1.0", "outside_data_interval"),
    ]


def test_timestamps_become_utc_and_readings_doubles(spark):
    frame = lines.classify_lines(
        lines_frame(spark, (FILE, "s1, 2026-11-25T01:30:00+01:00 , 2.25 "), (FILE, "s2,2026-11-25 00:00:05,-3")),
        RULES,
    )
    assert [(row.sensor_id, row.timestamp, row.reading, row.reason) for row in frame.collect()] == [
        ("s1", datetime(2026, 11, 25, 0, 30), 2.25, None),
        ("s2", datetime(2026, 11, 25, 0, 0, 5), -3.0, None),
    ]


def test_a_timestamp_without_a_zone_is_read_in_the_zone_param_and_dst_gaps_and_repeats_are_quarantined(spark):
    # Berlin's clocks jump from 02:00 to 03:00 on 2026-03-29 and fall back from 03:00 to 02:00 on 2026-10-25.
    rules = lines.Rules(utc(2026, 3, 28), utc(2026, 10, 26), timestamp_zone="Europe/Berlin")
    texts = [
        "s1,2026-03-29T01:30:00,1.0",
        "s1,2026-03-29T02:30:00,1.0",
        "s1,2026-03-29 03:30:00,1.0",
        "s1,2026-10-25T02:30:00,1.0",
        "s1,2026-10-25T02:30:00+01:00,1.0",
        "s1,2026-10-25T02:30:00Z,1.0",
    ]
    frame = lines.classify_lines(lines_frame(spark, *[(FILE, text) for text in texts]), rules)
    assert [(row.timestamp, row.reason, row.zoneless) for row in frame.collect()] == [
        (datetime(2026, 3, 29, 0, 30), None, True),  # CET, UTC+1
        (datetime(2026, 3, 29, 1, 30), "nonexistent_local_time", True),
        (datetime(2026, 3, 29, 1, 30), None, True),  # CEST, UTC+2
        (datetime(2026, 10, 25, 0, 30), "ambiguous_local_time", True),
        (datetime(2026, 10, 25, 1, 30), None, False),  # its own offset decides
        (datetime(2026, 10, 25, 2, 30), None, False),
    ]
    marked = lines.resolve_duplicates(frame, lines.KEEP_LATER_DELIVERY)
    counts = gate.summarize(gate.count_outcomes(marked)["2026-11-25"])
    assert (counts["rows_read"], counts["rows_without_zone"]) == (6, 4)
    # In UTC, the default, a zone-less time is UTC's and no local time is skipped or repeated.
    utc_frame = lines.classify_lines(
        lines_frame(spark, (FILE, texts[1])), lines.Rules(utc(2026, 3, 28), utc(2026, 3, 30))
    )
    assert [(row.timestamp, row.reason, row.zoneless) for row in utc_frame.collect()] == [
        (datetime(2026, 3, 29, 2, 30), None, True)
    ]


def test_a_sensor_id_is_taken_exactly_as_written_and_surrounding_spaces_are_invalid(spark):
    assert classified_rows(
        spark,
        " s1,2026-11-25T00:00:00Z,1.0",
        "s1 ,2026-11-25T00:00:00Z,1.0",
        '" s1",2026-11-25T00:00:00Z,1.0',
        '"s1", "2026-11-25T00:01:00Z" , "1.0"',
        " ,2026-11-25T00:00:00Z,1.0",
    ) == [
        (" s1,2026-11-25T00:00:00Z,1.0", "invalid_sensor_id"),
        ("s1 ,2026-11-25T00:00:00Z,1.0", "invalid_sensor_id"),
        ('" s1",2026-11-25T00:00:00Z,1.0', "invalid_sensor_id"),
        ('"s1", "2026-11-25T00:01:00Z" , "1.0"', None),
        (" ,2026-11-25T00:00:00Z,1.0", "missing_field"),
    ]


NEXT_DAY_FILE = "sensor_readings_2026-11-26.csv"
REPEATS_AND_CONFLICTS = (
    (NEXT_DAY_FILE, "s2,2026-11-25T00:00:00Z,9.0"),  # a later file day wins, whatever its line
    (FILE, "s1,2026-11-25T00:01:00Z,22.5"),
    (FILE, "s1,2026-11-25T00:01:00Z,-999.0"),  # the logger's "no value": never a reading
    (FILE, "s1,2026-11-25T00:02:00Z,4.0"),
    (FILE, "s1,2026-11-25T00:02:00Z,5.0"),  # the later line wins, though its text sorts after
    (FILE, "s1,2026-11-25T00:03:00Z,4.0"),
    (FILE, "s1,2026-11-25T00:03:00Z,4.0"),  # an exact repeat
    (FILE, "s2,2026-11-25T00:00:00Z,1.0"),
    (FILE, "s1,2026-11-25T00:02:00Z,oops"),  # rejected rows never take part
    (FILE, "s1,2026-11-25T00:02:00Z,-inf"),
)


def test_a_conflict_keeps_the_later_delivery_and_an_exact_repeat_is_dropped_never_by_text_order(spark):
    marked = lines.resolve_duplicates(
        lines.classify_lines(lines_frame(spark, *REPEATS_AND_CONFLICTS), RULES), lines.KEEP_LATER_DELIVERY
    )
    assertDataFrameEqual(
        lines.clean_readings(marked),
        [
            ("s1", datetime(2026, 11, 25, 0, 1), 22.5, date(2026, 11, 25), date(2026, 11, 25)),
            ("s1", datetime(2026, 11, 25, 0, 2), 5.0, date(2026, 11, 25), date(2026, 11, 25)),
            ("s1", datetime(2026, 11, 25, 0, 3), 4.0, date(2026, 11, 25), date(2026, 11, 25)),
            ("s2", datetime(2026, 11, 25, 0, 0), 9.0, date(2026, 11, 25), date(2026, 11, 26)),
        ],
    )
    assert gate.count_outcomes(marked) == {
        "2026-11-25": {
            "valid": 3,
            "exact_repeat": 1,
            "superseded": 2,
            "missing_value": 1,
            "non_numeric_reading": 1,
            "non_finite_reading": 1,
            "without_zone": 0,
        },
        "2026-11-26": {"valid": 1, "without_zone": 0},
    }
    # The losing readings stay in quarantine, with their reason.
    assert sorted((row.line_text, row.reason) for row in lines.quarantined_rows(marked).collect()) == [
        ("s1,2026-11-25T00:01:00Z,-999.0", "missing_value"),
        ("s1,2026-11-25T00:02:00Z,-inf", "non_finite_reading"),
        ("s1,2026-11-25T00:02:00Z,4.0", "superseded_by_later_delivery"),
        ("s1,2026-11-25T00:02:00Z,oops", "non_numeric_reading"),
        ("s2,2026-11-25T00:00:00Z,1.0", "superseded_by_later_delivery"),
    ]
    assert gate.summarize({"valid": 3, "exact_repeat": 1, "superseded": 2, "missing_value": 1, "header": 2}) == {
        "rows_read": 7,
        "rows_without_zone": 0,
        "header_lines": 2,
        "blank_lines": 0,
        "rows_written": 3,
        "exact_repeats_dropped": 1,
        "conflicts_superseded": 2,
        "rows_quarantined": 1,
        "quarantined_by_reason": {reason: int(reason == "missing_value") for reason in lines.REASONS},
    }


def test_conflicting_readings_are_all_quarantined_under_the_quarantine_rule(spark):
    marked = lines.resolve_duplicates(
        lines.classify_lines(lines_frame(spark, *REPEATS_AND_CONFLICTS), RULES), lines.QUARANTINE_CONFLICTS
    )
    assertDataFrameEqual(
        lines.clean_readings(marked),
        [
            ("s1", datetime(2026, 11, 25, 0, 1), 22.5, date(2026, 11, 25), date(2026, 11, 25)),
            ("s1", datetime(2026, 11, 25, 0, 3), 4.0, date(2026, 11, 25), date(2026, 11, 25)),
        ],
    )
    conflicting = lines.quarantined_rows(marked).where("reason = 'conflicting_duplicate'")
    assert sorted(row.line_text for row in conflicting.collect()) == [
        "s1,2026-11-25T00:02:00Z,4.0",
        "s1,2026-11-25T00:02:00Z,5.0",
        "s2,2026-11-25T00:00:00Z,1.0",
        "s2,2026-11-25T00:00:00Z,9.0",
    ]


def test_missing_value_sentinels_are_a_rule_and_none_is_allowed(spark):
    texts = [(FILE, "s1,2026-11-25T00:00:00Z,-9999"), (FILE, "s1,2026-11-25T00:01:00Z,-99.5")]
    for sentinels, reasons in [
        ((-999, -9999), ["missing_value", None]),
        ((-99.5,), [None, "missing_value"]),
        ((), [None, None]),
    ]:
        rules = lines.Rules(START, END, missing_value_sentinels=sentinels)
        assert [row.reason for row in lines.classify_lines(lines_frame(spark, *texts), rules).collect()] == reasons


def test_quarantine_rows_keep_the_raw_line_and_the_file_day(spark):
    marked = lines.resolve_duplicates(
        lines.classify_lines(lines_frame(spark, (FILE, "s1,x,1")), RULES), lines.KEEP_LATER_DELIVERY
    )
    assert [tuple(row) for row in lines.quarantined_rows(marked).collect()] == [
        (FILE, "s1,x,1", "bad_timestamp", date(2026, 11, 25))
    ]


def test_extreme_readings_are_out_of_range_within_bounds_that_are_params(spark):
    assert classified_rows(
        spark, "s1,2026-11-25T00:00:00Z,1e308", "s1,2026-11-25T00:00:00Z,-1e40", "s1,2026-11-25T00:00:00Z,1e12"
    ) == [
        ("s1,2026-11-25T00:00:00Z,1e308", "out_of_range"),
        ("s1,2026-11-25T00:00:00Z,-1e40", "out_of_range"),
        ("s1,2026-11-25T00:00:00Z,1e12", None),
    ]
    frame = lines.classify_lines(
        lines_frame(spark, (FILE, "s1,2026-11-25T00:00:00Z,-5"), (FILE, "s1,2026-11-25T00:00:00Z,101")),
        lines.Rules(START, END, reading_min=-5, reading_max=100),
    )
    assert [row.reason for row in frame.collect()] == [None, "out_of_range"]


def test_sensor_ids_outside_the_documented_set_are_quarantined(spark):
    longest = "a" * 64
    assert classified_rows(
        spark,
        "x$^$y,2026-11-25T00:00:00Z,1",
        "s/1,2026-11-25T00:00:00Z,1",
        "-s1,2026-11-25T00:00:00Z,1",
        f"{longest}a,2026-11-25T00:00:00Z,1",
        f"{longest},2026-11-25T00:00:00Z,1",
        "Plant-2.line_3:temp,2026-11-25T00:00:00Z,1",
    ) == [
        ("x$^$y,2026-11-25T00:00:00Z,1", "invalid_sensor_id"),
        ("s/1,2026-11-25T00:00:00Z,1", "invalid_sensor_id"),
        ("-s1,2026-11-25T00:00:00Z,1", "invalid_sensor_id"),
        (f"{longest}a,2026-11-25T00:00:00Z,1", "invalid_sensor_id"),
        (f"{longest},2026-11-25T00:00:00Z,1", None),
        ("Plant-2.line_3:temp,2026-11-25T00:00:00Z,1", None),
    ]


def test_the_gate_states_exact_counts_and_never_a_share_rounded_past_its_limit():
    counts = gate.summarize({"valid": 4320, "missing_field": 500})
    assert gate.gate_failure(counts, 0.1) == (
        "500 of 4820 rows quarantined, more than the 482 that max_quarantined_fraction 0.1 allows, "
        "mostly missing_field (500)"
    )
    assert gate.gate_failure(gate.summarize({"valid": 4338, "missing_field": 482}), 0.1) is None
    assert gate.gate_failure(gate.summarize({"missing_field": 3}), 1.0) == (
        "3 of 3 rows quarantined, none of them a reading, mostly missing_field (3)"
    )
    # 0.29 * 100 is 28.999999999999996 in floating point: 29 of 100 is still within 0.29.
    assert [gate.rows_allowed(100, 0.29), gate.rows_allowed(30, 0.1), gate.rows_allowed(7, 0.0)] == [29, 3, 0]
