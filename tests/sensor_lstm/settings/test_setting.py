import argparse
from datetime import date

import pytest

from sensor_lstm.settings import BY_NAME, Bounds, Kind, Setting, Source, job_parser

REQUIRED = ["--lake", "/lake", "--run-date", "2026-11-25"]


def parse(job: str, *argv: str) -> argparse.Namespace:
    return job_parser(job, job).parse_args([*REQUIRED, *argv])


def test_a_setting_parses_its_kind_and_holds_its_bounds():
    horizon = BY_NAME["horizon"]
    assert horizon.parse("3") == 3
    with pytest.raises(argparse.ArgumentTypeError, match=r"^must be at least 1, got 0$"):
        horizon.parse("0")
    with pytest.raises(argparse.ArgumentTypeError, match=r"^not an integer: '1\.5'$"):
        horizon.parse("1.5")
    fraction = BY_NAME["train_fraction"]
    assert fraction.parse("0.5") == 0.5
    for text, problem in [("0", "must be above 0, got 0.0"), ("1", "must be below 1, got 1.0"), ("nan", "finite")]:
        with pytest.raises(argparse.ArgumentTypeError, match=problem):
            fraction.parse(text)
    assert BY_NAME["run_date"].parse("2026-11-25") == date(2026, 11, 25)


def test_seasons_are_a_list_with_a_spelling_for_the_default_day_and_for_none():
    seasons = BY_NAME["seasonal_periods"]
    assert [seasons.parse(text) for text in ("24,168", "none", "day")] == [[24, 168], [], None]
    assert [seasons.cli_text(value) for value in ([24, 168], [], None)] == ["24,168", "none", "day"]
    with pytest.raises(argparse.ArgumentTypeError, match=r"^each must be at least 1, got 0$"):
        seasons.parse("24,0")
    with pytest.raises(argparse.ArgumentTypeError, match="integers like 24,168 or 'day' or 'none', got 'weekly'"):
        seasons.parse("weekly")


def test_a_text_setting_with_choices_takes_only_those_and_the_reference_names_them():
    aggregate = BY_NAME["grid_aggregate"]
    assert [aggregate.parse(text) for text in ("mean", "nearest", "last")] == ["mean", "nearest", "last"]
    with pytest.raises(argparse.ArgumentTypeError, match=r"^must be one of mean, nearest, last, got 'median'$"):
        aggregate.parse("median")
    assert aggregate.limits_text() == "mean or nearest or last"
    assert parse("prepare_sequences").grid_aggregate == "mean"


def test_the_timestamp_zone_is_a_name_of_the_zone_database():
    zone = BY_NAME["timestamp_zone"]
    assert [zone.parse(text) for text in ("UTC", "Europe/Berlin")] == ["UTC", "Europe/Berlin"]
    with pytest.raises(argparse.ArgumentTypeError, match=r"not a time zone of the IANA database .*'CEST'"):
        zone.parse("CEST")


def test_network_interfaces_are_a_comma_separated_list_and_default_to_horovods_choice():
    assert parse("train_distributed").nics == []
    assert parse("train_distributed", "--nics", "eth0").nics == ["eth0"]
    assert parse("train_distributed", "--nics", "eth0,ib0").nics == ["eth0", "ib0"]


def test_a_job_takes_a_boolean_as_a_pair_of_flags_and_tags_as_repeated_pairs():
    assert parse("ingest").allow_empty_input is False
    assert parse("ingest", "--allow-empty-input").allow_empty_input is True
    assert parse("evaluate", "--no-promote-older-day").promote_older_day is False
    assert parse("evaluate", "--tag", "a=1", "--tag", "b=x=y").tag == [("a", "1"), ("b", "x=y")]
    assert parse("evaluate").tag == [] and parse("evaluate").tag is not parse("evaluate").tag


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--forecast-steps", "0"], "argument --forecast-steps: must be at least 1, got 0"),
        (["--lake", "s3a://bucket/lake"], "argument --lake: lake 's3a://bucket/lake'"),
        (["--tag", "no-equals"], "argument --tag: not a tag KEY=VALUE: 'no-equals'"),
    ],
)
def test_bad_arguments_exit_with_code_2_naming_the_argument(capsys, argv, message):
    with pytest.raises(SystemExit) as exited:
        parse("evaluate", *argv)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_a_param_is_a_setting_with_a_form_section_and_a_job_option_has_none():
    params = [setting for setting in BY_NAME.values() if setting.source is Source.PARAM]
    assert params and all(setting.section for setting in params)
    options = [setting for setting in BY_NAME.values() if setting.source is Source.JOB_OPTION]
    assert options and not any(setting.section or setting.templates for setting in options)
    assert all(setting.env for setting in BY_NAME.values() if setting.source is Source.DEPLOYMENT)
    # The DAG alone reads these two: the run-day macro, and the wait for the landing file.
    assert {setting.name for setting in BY_NAME.values() if not setting.jobs} == {"day", "landing_file_timeout_minutes"}


def test_bounds_as_a_json_schema_and_as_text():
    bounds = Bounds(minimum=1, maximum=64)
    assert (bounds.schema(), bounds.text()) == ({"minimum": 1, "maximum": 64}, "1 to 64")
    open_interval = Bounds(exclusive_minimum=0, exclusive_maximum=1)
    assert (open_interval.schema(), open_interval.text()) == (
        {"exclusiveMinimum": 0, "exclusiveMaximum": 1},
        "> 0, < 1",
    )
    assert Setting("x", Kind.INTEGER, 1, "", Source.JOB_OPTION, bounds=Bounds(minimum=1)).flag == "--x"
    assert BY_NAME["lstm_units"].flag == "--lstm-units"
