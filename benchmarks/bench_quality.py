"""Benchmark: forecast quality on real measured series, at the DAG's default model Params.

For each series of tools/real_series.py: writes its landing files, ingests every day, then
submits the DAG's five modelling stages as the DAG does, with every model setting at its default
(the DAG's Params default to the jobs' own defaults; tests/dags checks it) and only the data's
settings given (sampling interval, lookback = the whole series): prepare_sequences,
train_baseline, train_distributed (2 ranks), fit_statistical and evaluate. Then the reference
(benchmarks/reference_fit.py: a plain single-process Keras LSTM of the same size, trained to
convergence on the same windows) is scored on the same test windows.

Prints, per series, evaluate's summary (median MASE, share of sensors beaten), then per sensor
its rows of the evaluation table (models and naive forecasts: RMSE and MAE in the sensor's unit,
MASE, skill) with the reference added, and the distributed model's RMSE as a ratio of the
reference's; then every forecaster, statsforecast's models included, on the statistical models'
sample of test windows, with each model's fit seconds, and the per-sensor best-of (the method the
forecaster chose on validation) against the best single forecaster there; where that is another
forecaster, the two again on every test window (benchmarks/best_of_check.py). The targets: the
distributed model better than every naive forecast, and within 10% of the reference. Figures
also go to <workdir>/bench-quality.json.

Example:
    python -m benchmarks.bench_quality --workdir var/bench-quality
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq

from benchmarks.bench_prep import PROJECT_DIR, spark_submit
from sensor_lstm.evaluation.evaluate import ALL_TEST_WINDOWS, STATISTICAL_SAMPLE
from sensor_lstm.evaluation.scores import DISTRIBUTED
from sensor_lstm.lake import Lake, datasets
from sensor_lstm.lake.reports import (
    EvaluateReport,
    FitStatisticalReport,
    PrepareSequencesReport,
    Report,
    TrainDistributedReport,
)
from sensor_lstm.tools import real_series

REFERENCE = "reference"


def submit(command: list[str], env: dict) -> str:
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    if result.returncode:
        sys.exit(f"{' '.join(command)} failed:\n{result.stderr[-4000:]}")
    return result.stdout


def with_reference(rows: list[dict], reference: dict, scale: float) -> list[dict]:
    """Evaluate's rows for one sensor plus the reference's, best RMSE first; the
    reference's MASE over the same scale, its skill against the same best naive forecast."""
    best_naive = min(row["rmse"] for row in rows if row["naive"])
    added = {
        "forecaster": REFERENCE,
        "naive": False,
        "windows": reference["windows"],
        "rmse": reference["rmse"],
        "mae": reference["mae"],
        "mase": reference["mae"] / scale if scale else None,
        "skill": 1 - reference["rmse"] / best_naive if best_naive else None,
    }
    return sorted([*rows, added], key=lambda row: (row["rmse"], row["forecaster"]))


def rows_text(rows: list[dict]) -> str:
    lines = [f"{'forecaster':<22} {'RMSE':>10} {'MAE':>10} {'MASE':>7} {'skill':>7} {'windows':>8} {'fit s':>8}"]
    for row in rows:
        mase = "-" if row["mase"] is None else f"{row['mase']:.3f}"
        skill = "-" if row["skill"] is None else f"{row['skill']:.1%}"
        seconds = "-" if row.get("fit_seconds") is None else f"{row['fit_seconds']:.1f}"
        lines.append(
            f"{row['forecaster']:<22} {row['rmse']:>10.4f} {row['mae']:>10.4f} {mase:>7} {skill:>7} "
            f"{row['windows']:>8} {seconds:>8}"
        )
    return "\n".join(lines)


def with_fit_seconds(rows: list[dict], fitted, distributed, sensor: str) -> list[dict]:
    """The sample's rows, best RMSE first, with each statistical model's fit and scoring seconds on
    ``sensor`` and the distributed LSTM's training seconds (for every sensor at once)."""
    seconds = {row["model"]: row.get("seconds") for row in fitted.per_sensor if row["sensor_id"] == sensor}
    seconds[DISTRIBUTED] = distributed.train_seconds
    return sorted(
        ({**row, "fit_seconds": seconds.get(row["forecaster"])} for row in rows),
        key=lambda row: (row["rmse"], row["forecaster"]),
    )


def best_of(sampled: list[dict], method: str, champion_version: int | None, new_version: int) -> dict | None:
    """The forecaster's method for the sensor (chosen on validation) as a row of the sample: the
    per-sensor best-of; with the best single forecaster's RMSE on the same windows beside it."""
    name = method
    if method.startswith("model:"):
        name = DISTRIBUTED if int(method.removeprefix("model:")) == new_version else "champion"
    by_name = {row["forecaster"]: row for row in sampled}
    if name not in by_name:
        return None
    best = min(sampled, key=lambda row: row["rmse"])
    return {
        "method": method,
        "forecaster": name,
        "rmse": by_name[name]["rmse"],
        "best_single": best["forecaster"],
        "best_rmse": best["rmse"],
    }


def on_every_window(lake: SeriesLake, sensor: str, best: dict | None) -> dict | None:
    """benchmarks/best_of_check's figures, where the sample's best single forecaster is not the
    forecaster's choice: the two on every test window, the sample being a few of them."""
    if best is None or best["best_single"] == best["forecaster"]:
        return None
    command = [sys.executable, "-m", "benchmarks.best_of_check", "--lake", str(lake.lake), "--run-date", lake.day]
    command += ["--sensor", sensor, "--best-of", best["forecaster"], "--rival", best["best_single"]]
    return json.loads(submit(command, lake.env).strip().splitlines()[-1])


def verdict(rows: list[dict]) -> dict:
    """The distributed model against every naive forecast and against the reference."""
    by_model = {row["forecaster"]: row for row in rows}
    distributed = by_model[DISTRIBUTED]["rmse"]
    return {
        "beats_every_naive_forecast": all(distributed < row["rmse"] for row in rows if row["naive"]),
        "ratio_to_reference": distributed / by_model[REFERENCE]["rmse"],
    }


class SeriesLake:
    """A lake holding one real series, its every day ingested and its windows prepared for the
    last day as the DAG would, with only the data's settings given; jobs run through spark-submit."""

    def __init__(self, series: real_series.RealSeries, workdir: Path, master: str, driver_memory: str, env: dict):
        self.series, self.master, self.driver_memory, self.env = series, master, driver_memory, env
        self.lake = workdir / series.name / "lake"
        shutil.rmtree(self.lake.parent, ignore_errors=True)
        self.manifest = real_series.write_landing(series, self.lake / datasets.LANDING)
        real_series.write_catalog(series, self.lake)
        self.day = self.manifest["last_day"]
        self.job("ingest", "--run-date", self.manifest["first_day"], "--days", str(self.manifest["days"]), day=False)
        self.job(
            "prepare_sequences",
            "--lookback-days",
            str(min(self.manifest["days"], 366)),
            "--sampling-interval-seconds",
            str(series.interval_seconds),
        )

    def job(self, name: str, *args: str, conf: dict | None = None, day: bool = True) -> None:
        script = PROJECT_DIR / "spark_jobs" / f"{name}.py"
        run_date = ["--run-date", self.day] if day else []
        command = spark_submit(
            self.master, self.driver_memory, script, "--lake", str(self.lake), *run_date, *args, conf=conf
        )
        submit(command, self.env)

    def report(self, report: type[Report]) -> Report:
        return report.read(Lake(str(self.lake)), date.fromisoformat(self.day))


def run_series(series: real_series.RealSeries, workdir: Path, master: str, driver_memory: str, env: dict) -> dict:
    lake = SeriesLake(series, workdir, master, driver_memory, env)
    tracking = ["--experiment", "bench-quality", "--tag", f"series={series.name}"]
    lake.job("train_baseline", *tracking)
    lake.job(
        "train_distributed",
        "--num-proc",
        "2",
        "--model-name",
        f"bench-quality-{series.name}",
        *tracking,
        conf={"spark.task.cpus": "1"},
    )
    lake.job("fit_statistical", *tracking)
    lake.job("evaluate", "--model-name", f"bench-quality-{series.name}", *tracking)
    evaluation, distributed = lake.report(EvaluateReport), lake.report(TrainDistributedReport)
    fitted = lake.report(FitStatisticalReport)
    reference = json.loads(
        submit(
            [
                sys.executable,
                "-m",
                "benchmarks.reference_fit",
                "--lake",
                str(lake.lake),
                "--run-date",
                lake.day,
                "--units",
                str(distributed.lstm_units),
            ],
            env,
        )
        .strip()
        .splitlines()[-1]
    )
    day = date.fromisoformat(lake.day)
    stats = pq.read_table(Lake(str(lake.lake)).partition(datasets.SEQUENCE_STATS, day)).to_pylist()
    scales = {row["sensor_id"]: row["one_step_naive_mae"] for row in stats}
    evaluated = pq.read_table(evaluation.evaluation_path).to_pylist()
    sensors = {}
    for sensor in sorted(scales):
        mine = [row for row in evaluated if row["sensor_id"] == sensor and row["scored_on"] == ALL_TEST_WINDOWS]
        rows = with_reference(mine, reference["sensors"][sensor], scales[sensor])
        method = evaluation.sensor_methods[sensor]["method"]
        sampled = [row for row in evaluated if row["sensor_id"] == sensor and row["scored_on"] == STATISTICAL_SAMPLE]
        best = best_of(sampled, method, evaluation.champion_version, distributed.model_version)
        sensors[sensor] = {
            "unit": mine[0]["unit"],
            "rows": rows,
            **verdict(rows),
            "method": method,
            "coverage": evaluation.interval_coverage["sensors"].get(sensor, {}),
            "sample": with_fit_seconds(sampled, fitted, distributed, sensor),
            "best_of": best,
            "best_of_every_window": on_every_window(lake, sensor, best),
        }
    return {
        "series": series.name,
        "description": series.description,
        "readings": lake.manifest["readings"],
        "windows": lake.report(PrepareSequencesReport).windows,
        "sensors": sensors,
        "summary": evaluation.comparison_table,
        "distributed": {
            name: getattr(distributed, name)
            for name in ("epochs_trained", "best_epoch", "stopped_by", "batch_size", "train_seconds")
        },
        "reference": {name: value for name, value in reference.items() if name != "sensors"},
        "champion_decision": evaluation.champion_decision,
        "test_windows_left_out": evaluation.test_windows_left_out,
        "coverage": evaluation.interval_coverage["overall"],
    }


def coverage_text(coverage: dict) -> str:
    """How often the forecaster's intervals held on the test windows, with the binomial intervals."""
    if not coverage.get("windows"):
        return "no test window"
    held = [
        f"{level}% interval held {coverage[f'coverage_{level}']:.1%} "
        f"[{coverage[f'coverage_{level}_interval'][0]:.1%}, {coverage[f'coverage_{level}_interval'][1]:.1%}]"
        for level in (80, 95)
    ]
    return f"{', '.join(held)} over {coverage['windows']} windows"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, default=PROJECT_DIR / "var" / "bench-quality")
    parser.add_argument("--series", action="append", choices=sorted(real_series.SERIES), help="default: every one")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--driver-memory", default="4g")
    args = parser.parse_args(argv)
    workdir = args.workdir.resolve()
    env = os.environ | {
        "MLFLOW_TRACKING_URI": f"sqlite:///{workdir}/mlflow.db",
        "SENSOR_LSTM_MLFLOW_ARTIFACTS": str(workdir / "mlflow-artifacts"),
    }
    workdir.mkdir(parents=True, exist_ok=True)
    results = []
    for name in args.series or list(real_series.SERIES):
        result = run_series(real_series.SERIES[name], workdir, args.master, args.driver_memory, env)
        results.append(result)
        print(f"\n{name}: {result['description']}; {result['readings']} readings, windows {result['windows']}")
        print(result["summary"])
        for sensor, scored in result["sensors"].items():
            print(f"\n{sensor} ({scored['unit'] or 'no unit'}):\n{rows_text(scored['rows'])}")
            print(
                f"distributed / reference RMSE: {scored['ratio_to_reference']:.3f} (target <= 1.10); beats every "
                f"naive forecast: {'yes' if scored['beats_every_naive_forecast'] else 'NO'}"
            )
            print(f"forecaster: {scored['method']}; {coverage_text(scored['coverage'])}")
            if scored["sample"]:
                print(f"on the statistical models' sample of test windows:\n{rows_text(scored['sample'])}")
            if scored["best_of"]:
                best = scored["best_of"]
                print(
                    f"per-sensor best-of ({best['method']}, chosen on validation): RMSE {best['rmse']:.4f}; best "
                    f"single forecaster {best['best_single']}: {best['best_rmse']:.4f} "
                    f"(ratio {best['rmse'] / best['best_rmse']:.3f})"
                )
            if scored["best_of_every_window"]:
                check = scored["best_of_every_window"]
                print(
                    f"the two on every test window ({check['windows']}): RMSE {check['rmse'][best['forecaster']]:.4f} "
                    f"against {check['rmse'][best['best_single']]:.4f}, ratio {check['ratio']:.3f}, 95% interval "
                    f"[{check['interval'][0]:.3f}, {check['interval'][1]:.3f}] "
                    f"(block bootstrap, {check['block']}-window blocks)"
                )
        if result["test_windows_left_out"]:
            print(
                f"{result['test_windows_left_out']} test windows without a seasonal naive forecast "
                "left out of every row"
            )
        print(f"forecaster over every sensor: {coverage_text(result['coverage'])}")
        trained, reference = result["distributed"], result["reference"]
        print(
            f"distributed: {trained['epochs_trained']} epochs (best {trained['best_epoch'] + 1}, stopped by "
            f"{trained['stopped_by']}, batch {trained['batch_size']}/rank) in {trained['train_seconds']:.0f} s; "
            f"reference: {reference['epochs_trained']} epochs (best {reference['best_epoch'] + 1}) in "
            f"{reference['train_seconds']:.0f} s; champion: {result['champion_decision']}"
        )
    (workdir / "bench-quality.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
