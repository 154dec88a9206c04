"""The reports the jobs write, one per job and run day, at ``<lake>/reports/<job>/date=<day>/report.json``:
what the run did, and what the next jobs read (prepare_sequences' window settings, the trainings'
models). One dataclass per report, with its reader and writer, so a field has one name everywhere.

A report written by an older version of a job may lack a field a newer reader needs: reading it
fails in one line that says to rerun the job for that day. Fields it has that the reader does not
know are ignored.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import date
from typing import ClassVar, Self

from sensor_lstm import names
from sensor_lstm.errors import JobInputError
from sensor_lstm.lake.store import Lake


@dataclass(frozen=True)
class Report:
    JOB: ClassVar[str]
    ASSET_FIELDS: ClassVar[tuple[str, ...]] = ()  # what the DAG's asset event for the job carries

    def write(self, lake: Lake, day: date) -> str:
        """Replace the job's report for ``day``; returns its path."""
        return lake.write_report(self.JOB, day, dataclasses.asdict(self))

    @classmethod
    def read(cls, lake: Lake, day: date) -> Self:
        """The job's report for ``day``; a JobInputError when the job has not run for it, or its
        report lacks a field of this one."""
        raw = lake.read_report(cls.JOB, day)
        required = [
            item.name
            for item in dataclasses.fields(cls)
            if item.default is dataclasses.MISSING and item.default_factory is dataclasses.MISSING
        ]
        missing = [name for name in required if name not in raw]
        if missing:
            raise JobInputError(
                f"the {cls.JOB} report for {day} at {lake.report_path(cls.JOB, day)} has no {', '.join(missing)}: "
                f"it was written by an older version; rerun {cls.JOB} for {day}"
            )
        known = {item.name for item in dataclasses.fields(cls)}
        return cls(**{name: value for name, value in raw.items() if name in known})

    def asset_extra(self) -> dict:
        return {name: getattr(self, name) for name in self.ASSET_FIELDS}


@dataclass(frozen=True)
class IngestReport(Report):
    JOB: ClassVar[str] = names.INGEST
    ASSET_FIELDS: ClassVar[tuple[str, ...]] = (
        "status",
        "rows_read",
        "rows_written",
        "rows_quarantined",
        "exact_repeats_dropped",
        "conflicts_superseded",
    )

    status: str  # "ok", or "no_data": no landing file or no reading, and the days were kept
    data_interval: str
    files: list[str]
    partitions: list[str] = field(default_factory=list)  # date=<day> partitions replaced
    # "<dataset>/date=<day>" -> lake.digest of what the run swapped in; see stale_partitions.
    partition_digests: dict[str, str] = field(default_factory=dict)
    days_without_readings: list[str] = field(default_factory=list)
    # rows_read = rows_written + rows_quarantined + exact_repeats_dropped + conflicts_superseded
    rows_read: int = 0
    rows_without_zone: int = 0  # rows whose timestamp had no zone: read in the Param timestamp_zone
    header_lines: int = 0
    blank_lines: int = 0
    rows_written: int = 0
    exact_repeats_dropped: int = 0  # rows equal to a kept one, sensor, timestamp and reading
    conflicts_superseded: int = 0  # readings a later delivery's differing reading replaced; kept in quarantine
    # Of rows_written: those equal to a reading another delivery already gave the lake (read once).
    rows_already_in_the_lake: int = 0
    late_rows: dict[str, int] = field(default_factory=dict)  # rows written to earlier days, by day
    late_rows_received: dict[str, int] = field(default_factory=dict)  # rows later runs gave this day, by run
    rows_quarantined: int = 0
    quarantined_by_reason: dict[str, int] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)  # by sensor, from the sensor catalog

    def stale_partitions(self, lake: Lake) -> list[str]:
        """The partitions this report names that now hold other files than the run swapped in: a
        later run was stopped between its swap and its report, or the partition was rewritten by
        hand. The report no longer describes them."""
        stale = []
        for partition, digest in sorted(self.partition_digests.items()):
            dataset, name = partition.rsplit("/", 1)
            if lake.digest({dataset: f"{lake.dataset(dataset)}/{name}"}) != digest:
                stale.append(partition)
        return stale


@dataclass(frozen=True)
class PrepareSequencesReport(Report):
    JOB: ClassVar[str] = names.PREPARE_SEQUENCES
    ASSET_FIELDS: ClassVar[tuple[str, ...]] = (
        "sensors",
        "windows",
        "windows_dropped_across_split_cuts",
        "missing_lookback_days",
    )

    run_date: str
    lookback_days: list[str]
    missing_lookback_days: list[str]
    seq_len: int
    horizon: int
    sampling_interval_seconds: int
    train_cut: str
    test_cut: str
    sensors: int
    sensors_without_training_data: list[str]
    windows: dict[str, int]  # per split
    windows_dropped_across_split_cuts: int
    seasonal_periods: list[int]
    seasonal_lags: list[int]  # readings from a target back to its seasonal naive forecast, per season
    windows_without_seasonal_naive: dict[str, int]  # per split
    sequences_path: str
    stats_path: str
    calibration_cut: str = ""  # validation before it, calibration windows (for intervals alone) from it
    grid_aggregate: str = "mean"  # how readings sharing a grid point became one; forecast does the same
    # Per sensor: readings, grid_points, readings_merged, median_interval_seconds (raw), std_floored,
    # values_clipped (normalized values beyond +-NORMALIZED_BOUND).
    per_sensor: dict[str, dict] = field(default_factory=dict)
    sensors_slower_than_the_grid: list[str] = field(default_factory=list)  # median interval > 1.5 x the grid's
    stale_ingest_reports: list[str] = field(default_factory=list)  # days: IngestReport.stale_partitions


@dataclass(frozen=True)
class TrainBaselineReport(Report):
    JOB: ClassVar[str] = names.TRAIN_BASELINE

    run_date: str
    mlflow_run_id: str
    data_digest: str  # lake.files_digest of the windows and statistics it trained on
    # One row per partition: partition, sensors, windows, and either skipped (the reason) or
    # metrics, epochs_trained, best_epoch, stopped_by, batch_size, train_seconds.
    partitions: list[dict]

    def trained_partitions(self) -> list[dict]:
        return [row for row in self.partitions if "skipped" not in row]


@dataclass(frozen=True)
class TrainDistributedReport(Report):
    JOB: ClassVar[str] = names.TRAIN_DISTRIBUTED

    run_date: str
    mlflow_run_id: str
    model_name: str
    model_version: int
    model_uri: str
    seq_len: int
    lstm_units: int
    test: dict[str, float]  # test_rmse, test_mae, test_persistence_rmse, ... in original units
    epochs_trained: int
    best_epoch: int
    best_val_loss: float
    stopped_by: str
    batch_size: int  # per rank
    effective_learning_rate: float
    train_loss: list[float]
    val_loss: list[float]
    learning_rate: list[float]
    epoch_seconds: list[float]
    train_seconds: float
    windows_per_second: float
    ranks: list[dict]  # rank, hostname, train_windows, weights_digest, logged_to_mlflow
    superseded_versions: dict[str, list[int]]
    resumed_from_run: str | None
    data_digest: str
    ranks_reason: str = ""  # why that many ranks ran (rank_count); reports before num_proc auto lack it


@dataclass(frozen=True)
class FitStatisticalReport(Report):
    JOB: ClassVar[str] = names.FIT_STATISTICAL

    run_date: str
    mlflow_run_id: str
    models: list[str]  # the models asked for
    forecasts_path: str  # one-step forecasts per sensor, model and scored target
    targets_per_period: int
    # Per model: sensors fitted, sensors not fitted by reason, median and total fit seconds.
    fits: dict[str, dict]
    sensors: int
    wall_seconds: float
    sensor_seconds: dict[str, float]  # each sensor's seconds for all its models: median, max, total
    # One row per sensor and model: seasons, seconds and targets, or not_fitted with the reason.
    per_sensor: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class EvaluateReport(Report):
    JOB: ClassVar[str] = names.EVALUATE
    ASSET_FIELDS: ClassVar[tuple[str, ...]] = ("candidate_version", "champion_promoted", "champion_version")

    run_date: str
    mlflow_run_id: str
    model_name: str
    candidate_version: int
    # One row per model and naive forecast, best median MASE first (comparison.forecaster_rows).
    comparison: list[dict]
    comparison_table: str
    test_windows_left_out: int
    unscored_seasonal_periods: list[int]
    best_naive_forecast: str | None  # None when no sensor moves in both training and test
    champion_min_skill: float
    champion_promoted: bool
    champion_decision: str
    champion_version: int | None
    units: dict[str, str] = field(default_factory=dict)  # the scored sensors' units, from the sensor catalog
    champion_min_share: float = 0.0
    evaluation_path: str = ""  # every forecaster per sensor: RMSE, MAE, MASE and skill
    sensors_apart: dict[str, str] = field(default_factory=dict)  # out of the aggregates, with the reason
    sensor_table: str = ""  # the new version against each sensor's best naive forecast, worst first
    forecaster_name: str = ""  # the registered pyfunc the forecast job runs
    forecaster_version: int | None = None
    forecaster_status: str = ""  # lstm_and_naive, or naive_only
    forecaster_lstm_not_used_because: str = ""
    methods: dict[str, int] = field(default_factory=dict)  # sensors per forecasting method
    # Per sensor: method, why (chosen on the validation windows), calibration_windows, calibrated_on.
    sensor_methods: dict[str, dict] = field(default_factory=dict)
    # The prediction intervals on the test period: per sensor and overall, coverage_80 / _95 with
    # their 95% binomial intervals.
    interval_coverage: dict = field(default_factory=dict)
    # Earlier days' forecasts due on the run day, against its readings (accuracy.accuracy_summary):
    # forecasts, sensors, median_mase, coverage_80, coverage_95; empty when there were none.
    forecast_accuracy: dict = field(default_factory=dict)
    # Every forecaster, the statistical models included, on the test windows fit_statistical sampled.
    statistical_comparison: list[dict] = field(default_factory=list)
    statistical_comparison_table: str = ""


@dataclass(frozen=True)
class ForecastReport(Report):
    JOB: ClassVar[str] = names.FORECAST
    ASSET_FIELDS: ClassVar[tuple[str, ...]] = (
        "status",
        "forecaster_version",
        "model_version",
        "sensors_forecast",
        "forecasts",
        "sensors_not_forecast",
    )

    run_date: str
    status: str  # "forecast", or "no_forecaster": evaluate has registered none yet
    model_name: str
    alias: str
    sensors_forecast: int = 0
    forecasts: int = 0
    forecaster_name: str = ""
    forecaster_version: int | None = None
    model_version: int | None = None  # the LSTM the forecaster holds, if any
    model_uri: str | None = None  # the forecaster's
    trained_day: str | None = None  # the day evaluate built the forecaster for
    seq_len: int | None = None
    horizon: int | None = None
    sampling_interval_seconds: int | None = None
    steps: int | None = None
    readings_days: list[str] = field(default_factory=list)
    sensors_not_forecast: dict[str, list[str]] = field(default_factory=dict)  # by reason
    forecasts_path: str | None = None
    methods: dict[str, int] = field(default_factory=dict)  # sensors forecast per method


REPORTS: dict[str, type[Report]] = {
    report.JOB: report
    for report in (
        IngestReport,
        PrepareSequencesReport,
        TrainBaselineReport,
        TrainDistributedReport,
        EvaluateReport,
        ForecastReport,
    )
}
