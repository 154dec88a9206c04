"""Print what a pipeline run did for one day, from the reports its jobs wrote to the lake.

Example:
    python -m sensor_lstm.tools.pipeline_summary --lake var/lake --day 2026-11-22
"""

from __future__ import annotations

import argparse
import sys
from datetime import date

from sensor_lstm.errors import JobInputError
from sensor_lstm.lake import Lake, datasets, lake_argument
from sensor_lstm.lake.reports import (
    EvaluateReport,
    FitStatisticalReport,
    ForecastReport,
    IngestReport,
    PrepareSequencesReport,
    TrainBaselineReport,
    TrainDistributedReport,
)


def baseline_lines(lake: Lake, day: date) -> list[str]:
    """The per-partition table: test RMSE / MAE of each model and of persistence (original units)."""
    baseline = TrainBaselineReport.read(lake, day)
    lines = [f"  baselines     MLflow run {baseline.mlflow_run_id}; test scores in original units:"]
    for row in baseline.partitions:
        label = f"    partition {row['partition']} ({len(row['sensors'])} sensors)"
        if "skipped" in row:
            lines.append(f"{label}: skipped, {row['skipped']}")
        elif "test_rmse" in row["metrics"]:
            metrics = row["metrics"]
            lines.append(
                f"{label}: RMSE {metrics['test_rmse']:.3f}, MAE {metrics['test_mae']:.3f}, "
                f"persistence RMSE {metrics['test_persistence_rmse']:.3f}"
            )
        else:
            lines.append(f"{label}: no test windows")
    return lines


def model_lines(lake: Lake, day: date) -> list[str]:
    """The distributed model, the comparison table evaluate printed, and the champion decision."""
    distributed = TrainDistributedReport.read(lake, day)
    evaluation = EvaluateReport.read(lake, day)
    test = distributed.test
    champion = evaluation.champion_version
    return [
        f"  distributed   MLflow run {distributed.mlflow_run_id}: {len(distributed.ranks)} Horovod ranks, "
        f"{distributed.epochs_trained} epochs in {distributed.train_seconds:.0f} s "
        f"(best {distributed.best_epoch + 1}, stopped by {distributed.stopped_by}), batch {distributed.batch_size} "
        f"per rank, {distributed.windows_per_second:.0f} windows/s; registered {distributed.model_uri}",
        f"                test RMSE {test['test_rmse']:.3f} vs persistence {test['test_persistence_rmse']:.3f}",
        f"  evaluate      MLflow run {evaluation.mlflow_run_id}; on the same test windows, per sensor (MASE: MAE / "
        "the sensor's one-step naive MAE in training); then the new model per sensor, worst first:",
        *(f"    {line}" for line in evaluation.comparison_table.splitlines()),
        *(f"    {line}" for line in evaluation.sensor_table.splitlines()),
        f"  champion      models:/{evaluation.model_name}@champion = "
        f"{f'version {champion}' if champion else 'none'}: {evaluation.champion_decision}",
        *statistical_lines(lake, day, evaluation),
    ]


def statistical_lines(lake: Lake, day: date, evaluation: EvaluateReport) -> list[str]:
    """The statistical models fit_statistical fitted, and every forecaster on their sample of test windows."""
    try:
        fitted = FitStatisticalReport.read(lake, day)
    except JobInputError:  # a day from before the stage, or a lake it never ran on
        return []
    fits = []
    for model, row in fitted.fits.items():
        reasons = "; ".join(f"{reason}: {count}" for reason, count in row["not_fitted"].items())
        fits.append(f"{model} on {row['sensors_fitted']}" + (f" (not fitted: {reasons})" if reasons else ""))
    return [
        f"  statistical   MLflow run {fitted.mlflow_run_id}: {', '.join(fits)} of {fitted.sensors} sensors; "
        f"{fitted.sensor_seconds['median']:.2f} s per sensor (median), {fitted.wall_seconds:.0f} s in all",
        *(f"    {line}" for line in evaluation.statistical_comparison_table.splitlines()),
    ]


def forecast_lines(lake: Lake, day: date, sensors: int = 3, steps: int = 4) -> list[str]:
    """The forecaster's methods and interval coverage, the forecast stage's counts, and the first
    forecasts of a few sensors with their 80% intervals."""
    import pyarrow.parquet as pq

    evaluation = EvaluateReport.read(lake, day)
    report = ForecastReport.read(lake, day)
    overall = evaluation.interval_coverage.get("overall", {})
    coverage = ", ".join(
        f"{level}% interval held {overall[f'coverage_{level}']:.1%}"
        for level in (80, 95)
        if overall.get(f"coverage_{level}") is not None
    )
    not_forecast = ", ".join(f"{reason} {len(names)}" for reason, names in report.sensors_not_forecast.items())
    lines = [
        f"  forecaster    {evaluation.forecaster_name} version {evaluation.forecaster_version} "
        f"({evaluation.forecaster_status}): methods {evaluation.methods}; on the test period, "
        f"{coverage or 'no interval scored'}",
        f"  forecast      {report.model_uri}: {report.sensors_forecast} sensors x {report.steps} steps, "
        f"methods {report.methods}; not forecast: {not_forecast or 'none'}",
    ]
    accuracy = evaluation.forecast_accuracy
    if accuracy:
        held = ", ".join(
            f"{level}% interval held {accuracy[f'coverage_{level}']:.1%}"
            for level in (80, 95)
            if accuracy[f"coverage_{level}"] is not None
        )
        mase = f"median MASE {accuracy['median_mase']:.3f}" if accuracy["median_mase"] is not None else "no MASE"
        lines.append(
            f"  earlier       {accuracy['forecasts']} forecasts of earlier days due on {day}, {accuracy['sensors']} "
            f"sensors, against the readings that arrived: {mase}{', ' + held if held else ''}"
        )
    if report.forecasts:
        table = pq.read_table(report.forecasts_path).sort_by([("sensor_id", "ascending"), ("step", "ascending")])
        rows = table.to_pylist()
        for sensor in sorted({row["sensor_id"] for row in rows})[:sensors]:
            mine = [row for row in rows if row["sensor_id"] == sensor]
            values = ", ".join(
                f"{row['target_time']:%H:%M} {row['forecast']:.2f} [{row['lower_80']:.2f}, {row['upper_80']:.2f}]"
                for row in mine[:steps]
            )
            lines.append(
                f"    {sensor} ({mine[0]['method']}) from {mine[0]['issued_at']:%Y-%m-%d %H:%M} UTC: {values}"
                f"{', ...' if len(mine) > steps else ''}"
            )
    return lines


def summary_lines(lake: Lake, day: date) -> list[str]:
    ingest = IngestReport.read(lake, day)
    prep = PrepareSequencesReport.read(lake, day)
    reasons = ", ".join(f"{reason} {count}" for reason, count in ingest.quarantined_by_reason.items() if count)
    windows = prep.windows
    stale = ingest.stale_partitions(lake)
    return [
        f"Pipeline summary for {day}",
        f"  ingest        rows read {ingest.rows_read}, written {ingest.rows_written}, "
        f"quarantined {ingest.rows_quarantined} ({reasons or 'none'}), "
        f"exact repeats dropped {ingest.exact_repeats_dropped}, "
        f"conflicting readings superseded {ingest.conflicts_superseded}",
        *(
            [f"  WARNING       this report no longer describes {', '.join(stale)}: rerun ingest for {day}"]
            if stale
            else []
        ),
        f"  sequences     seq_len {prep.seq_len}, horizon {prep.horizon}, {prep.sensors} sensors over "
        f"{prep.lookback_days[0]}..{prep.lookback_days[-1]}: train {windows['train']}, "
        f"validation {windows['validation']}, calibration {windows.get('calibration', 0)}, "
        f"test {windows['test']} windows "
        f"({prep.windows_dropped_across_split_cuts} dropped across split cuts)",
        *baseline_lines(lake, day),
        *model_lines(lake, day),
        *forecast_lines(lake, day),
        "  outputs",
        f"    readings      {lake.partition(datasets.READINGS, day)}",
        f"    quarantine    {lake.partition(datasets.QUARANTINE, day)}",
        f"    sequences     {prep.sequences_path}",
        f"    statistics    {prep.stats_path}",
        f"    evaluation    {lake.partition(datasets.EVALUATION, day)}",
        f"    forecasts     {lake.partition(datasets.FORECASTS, day)}",
        f"    reports       {lake.dataset(datasets.REPORTS)}",
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lake", type=lake_argument, required=True, help="a folder path or file:// URI")
    parser.add_argument("--day", type=date.fromisoformat, required=True, help="the run's UTC day, YYYY-MM-DD")
    args = parser.parse_args(argv)
    try:
        print("\n".join(summary_lines(args.lake, args.day)))
    except JobInputError as error:
        sys.exit(str(error))


if __name__ == "__main__":
    main()
