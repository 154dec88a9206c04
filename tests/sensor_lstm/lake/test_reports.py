import json
from datetime import date

import pytest

from sensor_lstm.errors import JobInputError
from sensor_lstm.lake import Lake
from sensor_lstm.lake.reports import REPORTS, ForecastReport, IngestReport, TrainBaselineReport

DAY = date(2026, 11, 25)


def test_a_report_round_trips_through_its_json_file_under_the_jobs_name(tmp_path):
    lake = Lake(str(tmp_path))
    report = IngestReport(status="ok", data_interval="a to b", files=["f.csv"], rows_read=3, rows_written=3)
    path = report.write(lake, DAY)
    assert path == f"{tmp_path}/reports/ingest/date=2026-11-25/report.json"
    assert (
        json.loads((tmp_path / "reports" / "ingest" / "date=2026-11-25" / "report.json").read_text())["rows_written"]
        == 3
    )
    assert IngestReport.read(lake, DAY) == report
    assert sorted(REPORTS) == sorted(
        ["ingest", "prepare_sequences", "train_baseline", "train_distributed", "evaluate", "forecast"]
    )


def test_a_report_without_a_field_the_reader_needs_says_to_rerun_its_job_and_unknown_fields_are_ignored(tmp_path):
    lake = Lake(str(tmp_path))
    lake.write_report("train_baseline", DAY, {"run_date": "2026-11-25", "mlflow_run_id": "r", "partitions": []})
    with pytest.raises(
        JobInputError,
        match=r"^the train_baseline report for 2026-11-25 at .*/report.json has no data_digest: it was written by "
        r"an older version; rerun train_baseline for 2026-11-25$",
    ):
        TrainBaselineReport.read(lake, DAY)
    lake.write_report(
        "forecast", DAY, {"run_date": "x", "status": "no_champion", "model_name": "m", "alias": "a", "new": 1}
    )
    assert ForecastReport.read(lake, DAY) == ForecastReport(
        run_date="x", status="no_champion", model_name="m", alias="a"
    )
    with pytest.raises(JobInputError, match=r"^no evaluate report for 2026-11-25 at .*: run evaluate first$"):
        REPORTS["evaluate"].read(lake, DAY)


def test_an_asset_event_carries_the_fields_its_report_names():
    report = ForecastReport(run_date="2026-11-25", status="forecast", model_name="m", alias="a", forecasts=24)
    assert report.asset_extra() == {
        "status": "forecast",
        "forecaster_version": None,
        "model_version": None,
        "sensors_forecast": 0,
        "forecasts": 24,
        "sensors_not_forecast": {},
    }
    assert TrainBaselineReport.ASSET_FIELDS == ()
