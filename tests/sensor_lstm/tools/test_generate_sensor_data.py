import json
from dataclasses import asdict, replace
from datetime import date
from pathlib import Path

from sensor_lstm.tools.generate_sensor_data import (
    BAD_ROW_KINDS,
    DEMO_SAMPLE,
    HEADER,
    MANIFEST_NAME,
    generate,
    parse_args,
)


def run_generator(folder, **overrides):
    options = dict(
        start_date=date(2026, 11, 23),
        days=2,
        sensors=3,
        interval_seconds=600,
        bad_row_fraction=0.2,
        gap_probability=0.02,
        seed=11,
    )
    options.update(overrides)
    return generate(folder, **options)


def test_one_file_per_day_with_header(tmp_path):
    run_generator(tmp_path)
    names = sorted(path.name for path in tmp_path.glob("*.csv"))
    assert names == ["sensor_readings_2026-11-23.csv", "sensor_readings_2026-11-24.csv"]
    for path in tmp_path.glob("*.csv"):
        assert path.read_text().splitlines()[0] == HEADER


def test_same_seed_same_files_other_seed_other_files(tmp_path):
    run_generator(tmp_path / "a")
    run_generator(tmp_path / "b")
    run_generator(tmp_path / "c", seed=12)
    day = "sensor_readings_2026-11-23.csv"
    assert (tmp_path / "a" / day).read_bytes() == (tmp_path / "b" / day).read_bytes()
    assert (tmp_path / "a" / day).read_bytes() != (tmp_path / "c" / day).read_bytes()


def test_manifest_counts_add_up_to_the_lines_written(tmp_path):
    manifest = run_generator(tmp_path)
    assert json.loads((tmp_path / MANIFEST_NAME).read_text()) == manifest
    for name, counts in manifest["files"].items():
        data_lines = (tmp_path / name).read_text().splitlines()[1:]
        assert len(data_lines) == counts["lines"]
        assert counts["lines"] == counts["valid_unique"] + counts["duplicates"] + sum(counts["quarantined"].values())


def test_every_bad_row_kind_is_produced(tmp_path):
    manifest = run_generator(tmp_path, days=3, bad_row_fraction=0.3)
    totals = {"duplicate_row": 0, "out_of_order_row": 0}
    for counts in manifest["files"].values():
        totals["duplicate_row"] += counts["duplicates"]
        totals["out_of_order_row"] += counts["out_of_order"]
        for reason, count in counts["quarantined"].items():
            totals[reason] = totals.get(reason, 0) + count
    assert set(totals) == set(BAD_ROW_KINDS)
    assert all(count > 0 for count in totals.values()), totals


def test_clean_rows_are_on_the_sampling_grid_within_their_day(tmp_path):
    run_generator(tmp_path, bad_row_fraction=0.0, gap_probability=0.0)
    lines = (tmp_path / "sensor_readings_2026-11-24.csv").read_text().splitlines()
    assert lines[1].startswith("sensor-000,2026-11-24T00:00:00Z,")
    assert lines[2].startswith("sensor-000,2026-11-24T00:10:00Z,")
    assert len(lines) == 1 + 3 * 144
    assert all(line.split(",")[1].startswith("2026-11-24T") for line in lines[1:])


def test_the_command_line_defaults_to_the_demo_sample():
    assert vars(parse_args(["--output-dir", "landing"])) == {"output_dir": Path("landing"), **asdict(DEMO_SAMPLE)}
    args = parse_args(["--output-dir", "landing", "--start-date", "2026-12-30", "--sensors", "2"])
    assert (args.start_date, args.sensors, args.days) == (date(2026, 12, 30), 2, DEMO_SAMPLE.days)


def test_a_sample_lists_its_days_across_a_year_end():
    sample = replace(DEMO_SAMPLE, start_date=date(2026, 12, 30), days=3)
    assert sample.day_list() == [date(2026, 12, 30), date(2026, 12, 31), date(2027, 1, 1)]
