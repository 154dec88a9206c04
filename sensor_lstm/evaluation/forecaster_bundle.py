"""The forecaster evaluate registers each run (sensor_lstm.forecasting.forecaster): each sensor's
method chosen on the validation windows (the LSTM champion when one takes this run's windows, the
model train_baseline fitted on the sensor's partition, the statistical models, the naive
forecasts), its intervals calibrated on the calibration period and their coverage measured on the
test period, bundled with the models in use and the statistics, registered as
``<model_name>_forecaster`` and given the alias the forecast job follows."""

from __future__ import annotations

import json
import logging
import pickle
import tempfile
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from sensor_lstm import scoring, tracking
from sensor_lstm.errors import JobInputError
from sensor_lstm.evaluation import backtest
from sensor_lstm.evaluation.interval_plot import held_out_paths, interval_plot
from sensor_lstm.evaluation.scores import score_windows, windows_with_every_naive_forecast
from sensor_lstm.evaluation.statistical_fits import statistical_fits, with_statistical_forecasts
from sensor_lstm.forecasting import forecaster, intervals
from sensor_lstm.forecasting.methods import PARTITION_BASELINES, forecast_context, model_method
from sensor_lstm.lake import Lake, datasets, utc_day_start
from sensor_lstm.lake.reports import PrepareSequencesReport
from sensor_lstm.readings.deliveries import lookback_on_grid
from sensor_lstm.training import model as lstm_network

log = logging.getLogger("evaluate")
REQUIREMENTS = (*tracking.KERAS_MODEL_PACKAGES, "pandas")
PACKAGE_DIR = Path(__file__).resolve().parents[1]  # sensor_lstm/, which the pyfunc carries as its code


def forecaster_name(model_name: str) -> str:
    return f"{model_name}_forecaster"


@dataclass
class ForecastingLSTM:
    """The LSTM the forecaster may use: the champion after this run's decision, if it takes this
    run's windows; ``why_not`` otherwise."""

    version: int | None = None
    spec: tuple | None = None
    why_not: str = ""


@dataclass
class PartitionModels:
    """train_baseline's models, each fitted on one partition's sensors alone: their specs by
    partition, and each sensor's partition."""

    specs: dict[int, tuple] = field(default_factory=dict)
    sensor_partition: dict[str, int] = field(default_factory=dict)


@dataclass
class ForecasterBuild:
    bundle: dict
    lstm_spec: tuple | None = None
    coverage: dict = field(default_factory=dict)  # per sensor and overall
    methods: dict[str, int] = field(default_factory=dict)  # sensors per method
    statistical_models: dict[str, bytes] = field(default_factory=dict)  # pickled, of the sensors using one
    partition_specs: dict[int, tuple] = field(default_factory=dict)  # of the partitions whose model is in use

    def forecaster(self) -> forecaster.Forecaster:
        """The Forecaster the bundle makes, its models loaded."""
        lstm_model = lstm_network.model_from_spec(self.lstm_spec) if self.lstm_spec is not None else None
        statistical = {sensor: pickle.loads(pickled) for sensor, pickled in self.statistical_models.items()}
        partitions = {index: lstm_network.model_from_spec(spec) for index, spec in self.partition_specs.items()}
        return forecaster.Forecaster(self.bundle, lstm_model, statistical, partitions)


def plan_methods(
    spark,
    lake: Lake,
    run_date: date,
    prepared: PrepareSequencesReport,
    lstm: ForecastingLSTM,
    partitions: PartitionModels,
    fits,
) -> dict:
    """Per sensor with statistics: its method (backtest.choose_methods on the validation windows,
    or on those whose targets the statistical models forecast where the sensor has any: there all
    candidates score the same sample), why, its mean, std and MASE scale, a statistical method's
    history, and partition_baselines' partition."""
    validation = f"{lake.partition(datasets.SEQUENCES, run_date)}/split=validation"
    stats_path = lake.partition(datasets.SEQUENCE_STATS, run_date)
    windows, _, scored = windows_with_every_naive_forecast(spark, validation, stats_path, prepared.seasonal_periods)
    models = {model_method(lstm.version): lstm.spec} if lstm.spec is not None else {}
    scores = score_windows(windows, models, partitions.specs, partitions.sensor_partition, scored)
    statistical: tuple[str, ...] = ()
    if fits is not None:
        sample, statistical = with_statistical_forecasts(spark, fits, "validation", windows)
        on_sample = score_windows(sample, models, partitions.specs, partitions.sensor_partition, scored, statistical)
        sampled = {sensor for _, sensor in on_sample}
        scores = {key: value for key, value in scores.items() if key[1] not in sampled} | on_sample
    candidates = [*models, *([PARTITION_BASELINES] if partitions.specs else []), *statistical]
    candidates += scoring.naive_sources(list(scored), [0] * len(scored))
    stats = {row["sensor_id"]: row.asDict() for row in spark.read.parquet(stats_path).collect()}
    chosen = backtest.choose_methods(scores, candidates, sorted(stats))
    plans = {
        sensor: {
            **chosen[sensor],
            "mean": row["mean"],
            "std": row["std"],
            "one_step_naive_mae": row["one_step_naive_mae"],
            "scale_floor": intervals.scale_floor(row["one_step_naive_mae"], row["std"]),
        }
        for sensor, row in stats.items()
    }
    for sensor, plan in plans.items():
        if plan["method"] in statistical:
            plan |= fits.history(sensor, plan["method"])
        if plan["method"] == PARTITION_BASELINES:
            plan["partition"] = partitions.sensor_partition[sensor]
    return plans


def micros(text: str) -> int:
    return int(pd.Timestamp(text).value // 1000)


def build_forecaster(
    spark, lake: Lake, args, prepared: PrepareSequencesReport, lstm: ForecastingLSTM, partitions: PartitionModels
) -> ForecasterBuild:
    """Choose, calibrate and measure every sensor's method; the bundle, its coverage and methods."""
    if not prepared.calibration_cut:
        raise JobInputError(
            f"the prepare_sequences report for {args.run_date} has no calibration period: an older version wrote it; "
            f"rerun prepare_sequences for {args.run_date}, then evaluate"
        )
    fits = statistical_fits(lake, args.run_date)
    plans = plan_methods(spark, lake, args.run_date, prepared, lstm, partitions, fits)
    statistical = {sensor: plan["method"] for sensor, plan in plans.items() if "history" in plan}
    in_use = {plan["partition"] for plan in plans.values() if "partition" in plan}
    partition_specs = {index: spec for index, spec in partitions.specs.items() if index in in_use}
    setup = {
        "steps": args.forecast_steps,
        "seq_len": prepared.seq_len,
        "horizon": prepared.horizon,
        "interval_us": prepared.sampling_interval_seconds * 1_000_000,
        "scale_window": prepared.seq_len,
        "lstm_spec": lstm.spec,
        "partition_specs": partition_specs,
        "statistical_models": fits.pickled(statistical) if fits else {},
    }
    end_us = micros(utc_day_start(args.run_date + timedelta(days=1)).isoformat())
    days = [date.fromisoformat(day) for day in prepared.lookback_days]
    with lake.readings_locked(days):
        readings = lookback_on_grid(spark, lake, prepared)
        readings = readings.persist()
        try:
            period = (micros(prepared.calibration_cut), micros(prepared.test_cut))
            for sensor, calibrated in backtest.calibrate(readings, plans, setup, period).items():
                plans[sensor] |= calibrated
            covered = backtest.coverage(readings, plans, setup, (micros(prepared.test_cut), end_us))
        finally:
            readings.unpersist()
    bundle = {
        "format": forecaster.BUNDLE_FORMAT,
        "run_day": args.run_date.isoformat(),
        "model_name": args.model_name,
        "lstm_version": lstm.version,
        "lstm_not_used_because": lstm.why_not,
        "seq_len": prepared.seq_len,
        "horizon": prepared.horizon,
        "interval_seconds": prepared.sampling_interval_seconds,
        "grid_aggregate": prepared.grid_aggregate,
        "steps": args.forecast_steps,
        "scale_window": setup["scale_window"],
        "levels": list(intervals.LEVELS),
        "sensors": plans,
    }
    methods: dict[str, int] = {}
    for plan in plans.values():
        methods[plan["method"]] = methods.get(plan["method"], 0) + 1
    summary = coverage_summary(covered)
    return ForecasterBuild(
        bundle, lstm.spec, summary, dict(sorted(methods.items())), setup["statistical_models"], partition_specs
    )


def coverage_summary(covered: dict) -> dict:
    """Per sensor and overall: test windows, and per level the observed coverage (every step of
    every window counted) with its 95% binomial (Wilson) interval over the non-overlapping windows:
    windows from consecutive origins share all but one of their targets, so only windows ``steps``
    apart count as separate trials."""
    summary = {"sensors": {}}
    totals: dict[str, int] = {}
    for sensor, counts in sorted(covered.items()):
        summary["sensors"][sensor] = coverage_row(counts)
        for name, value in counts.items():
            totals[name] = totals.get(name, 0) + value
    summary["overall"] = coverage_row(totals) if totals else {}
    return summary


def coverage_row(counts: dict) -> dict:
    windows, total = counts.get("windows", 0), counts.get("steps_scored", 0)
    trials = -(-windows // round(total / windows)) if windows else 0
    row = {"windows": windows, "independent_windows": trials}
    for level in intervals.LEVELS:
        name = f"coverage_{round(level * 100)}"
        share = counts.get(f"covered_{round(level * 100)}", 0) / total if total else None
        row[name] = share
        row[f"{name}_interval"] = list(intervals.binomial_interval(round((share or 0) * trials), trials))
    return row


def register_forecaster(client, build: ForecasterBuild, args, example: pd.DataFrame) -> int:
    """Log the forecaster in the active MLflow run and register it; moves the alias unless a
    newer day's forecaster holds it (a backfill; Param promote_older_day); its version."""
    import mlflow.pyfunc
    from mlflow.models import infer_signature

    with tempfile.TemporaryDirectory() as folder:
        bundle_path = Path(folder) / "forecaster.json"
        bundle_path.write_text(json.dumps(build.bundle, indent=1))
        artifacts = {"bundle": str(bundle_path)}
        requirements = list(REQUIREMENTS)
        if build.lstm_spec is not None:
            artifacts |= forecaster.save_lstm(build.lstm_spec, Path(folder))
        if build.partition_specs:
            artifacts |= forecaster.save_partition_models(build.partition_specs, Path(folder))
        if build.statistical_models:
            artifacts |= forecaster.save_statistical(build.statistical_models, Path(folder))
            requirements.append("statsforecast")
        output = build.forecaster().forecast_frame(example)
        info = mlflow.pyfunc.log_model(
            name="forecaster",
            python_model=forecaster.pyfunc_class()(),
            artifacts=artifacts,
            code_paths=[str(PACKAGE_DIR)],
            signature=infer_signature(example, output),
            input_example=example,
            pip_requirements=tracking.pinned_requirements(requirements),
            registered_model_name=forecaster_name(args.model_name),
        )
    name = forecaster_name(args.model_name)
    version = int(info.registered_model_version)
    if version == 1:
        lstm = build.bundle["lstm_version"]
        log.info(
            "first forecaster of %s: version 1, built from %s and the naive forecasts; the forecast job follows "
            "%s@%s from now on",
            args.model_name,
            f"LSTM champion version {lstm}" if lstm is not None else "no LSTM",
            name,
            args.alias,
        )
    client.set_model_version_tag(name, str(version), "run_day", args.run_date.isoformat())
    current = tracking.current_champion(client, name, args.alias)
    older = current is not None and current.tags.get("run_day", "") > args.run_date.isoformat()
    if not older or args.promote_older_day:
        client.set_registered_model_alias(name, args.alias, str(version))
    return version


def latest_readings(spark, lake: Lake, prepared: PrepareSequencesReport, sensors: list[str]) -> pd.DataFrame:
    """The lookback's readings of ``sensors``, on the grid, as pandas (sensor_id, timestamp, reading)."""
    readings = lookback_on_grid(spark, lake, prepared)
    frame = readings.where(readings.sensor_id.isin(sensors)).select("sensor_id", "timestamp", "reading").toPandas()
    return frame.sort_values(["sensor_id", "timestamp"])


def example_input(frame: pd.DataFrame, bundle: dict, sensors: int = 2) -> pd.DataFrame:
    """The latest readings of a few sensors of ``frame`` (latest_readings), as many as the
    forecaster takes for them: the input example."""
    rows = []
    for sensor in sorted(frame["sensor_id"].unique())[:sensors]:
        plan = bundle["sensors"][sensor]
        needed = forecast_context(plan["method"], bundle["seq_len"], bundle["horizon"], bundle["scale_window"], plan)
        latest = frame[frame["sensor_id"] == sensor].tail(needed)
        stamps = latest["timestamp"].to_numpy(dtype="datetime64[us]").astype(np.int64)
        rows.append({"sensor_id": sensor, "timestamps": forecaster.iso(stamps), "readings": latest["reading"].tolist()})
    return pd.DataFrame(rows, columns=["sensor_id", "timestamps", "readings"])


def held_out_figure(frame: pd.DataFrame, build: ForecasterBuild, units: dict):
    """The forecaster's interval figure (interval_plot) for the sensors of ``frame``; None when
    none of them can be forecast from its held-out readings."""
    steps = build.bundle["steps"]
    paths = held_out_paths(frame, build.forecaster(), steps, history=4 * steps)
    return interval_plot(paths, units) if paths else None
