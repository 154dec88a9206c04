"""Benchmark: Horovod training throughput with 1 and with 2 ranks, and the per-partition baseline's.

Generates clean readings (default 40 sensors x 3 days at 60 s), ingests them and cuts windows
(not timed), then submits each training job on the same windows, one TensorFlow thread per rank
or task (``spark.task.cpus=1``):
  * train_distributed with --num-proc 1, then 2, each rank pinned to its own core
    (--bind-cores): windows trained per second, from the ranks' own epoch timings (the median
    epoch after the first, which also traces the graph); every epoch runs (patience = epochs).
    At each batch per rank of --batch-sizes (256 is the DAG's): every step ends with one
    allreduce of fixed cost, so larger batches amortize it. The 1- and 2-rank runs alternate,
    --rounds times: each round's efficiency compares runs made minutes apart, and the median
    over rounds is reported, because this machine's speed drifts by more than the effect;
  * train_baseline with --partitions 2: the windows per second of each partition's fit, summed
    (the two partitions train side by side, one per core);
  * the ceiling: a plain tf_keras fit of the same model on random windows (no Spark, no
    Horovod, benchmarks/fit_throughput.py) alone on core 0 (before and after, averaged), and two
    at once on cores 0 and 1: how much of a second core two independent trainers get here;
  * the fixed cost: one allreduce of the model's gradients with 1 and with 2 ranks
    (benchmarks/allreduce_latency.py);
  * time to quality, as MLPerf reports training: on a real series (tools/real_series.py,
    --quality-series) at the DAG's default model Params, train_distributed with 1 rank, 2 ranks
    and num_proc auto (the DAG's default), one after another in each round; each round's target
    is the validation loss every run reached (the highest of their best), and each run's time is
    the training wall time until its validation loss first reached it;
  * time to quality at scale, where each rank's share of an epoch is large: generated readings
    (--scale-sensors x --scale-days at 60 s, over a million training windows), 1 rank with both
    cores as its threads against 2 ranks with one each, --scale-batch-size windows per rank a
    step (the learning rate grows with the global batch), each run given
    --scale-budget-minutes of training.
--parts picks some of these (throughput, quality, scale).
Scaling efficiency = throughput with 2 ranks / (2 x throughput with 1 rank). The throughput runs
take exactly the batch asked (--min-steps-per-epoch 1). Figures are also written to
<workdir>/bench-train-<parts>.json; MLflow runs go to a store inside the workdir.

Example:
    python -m benchmarks.bench_train --workdir var/bench-train
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

from benchmarks.bench_prep import FIRST_DAY, PROJECT_DIR, prepare_lake, spark_submit
from benchmarks.bench_quality import SeriesLake
from sensor_lstm.lake import Lake
from sensor_lstm.lake.reports import PrepareSequencesReport, Report, TrainBaselineReport, TrainDistributedReport
from sensor_lstm.settings import DEFAULT_MODEL
from sensor_lstm.tools import real_series


def submit(command: list[str], env: dict) -> None:
    result = subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if result.returncode:
        sys.exit(f"{' '.join(command)} failed:\n{result.stderr[-4000:]}")


def fit_throughput(cores: list[int], batch_size: int, env: dict) -> list[float]:
    """Plain fits (benchmarks/fit_throughput.py) started together, each pinned to one core."""
    command = [sys.executable, "-m", "benchmarks.fit_throughput", "--batch-size", str(batch_size)]
    fits = [
        subprocess.Popen(
            ["taskset", "-c", str(core), *command],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for core in cores
    ]
    outputs = [fit.communicate()[0] for fit in fits]
    if any(fit.returncode for fit in fits):
        sys.exit(f"{' '.join(command)} failed")
    return [json.loads(output.strip().splitlines()[-1])["windows_per_second"] for output in outputs]


def allreduce_latency(units: int, env: dict) -> dict:
    output = subprocess.run(
        [sys.executable, "-m", "benchmarks.allreduce_latency", "--units", str(units)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        check=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def job(name: str) -> Path:
    return PROJECT_DIR / "spark_jobs" / f"{name}.py"


def read_report(lake: Path, report: type[Report], run_date: str) -> Report:
    return report.read(Lake(str(lake)), date.fromisoformat(run_date))


def baseline_windows_per_second(report: TrainBaselineReport, epochs: int) -> float:
    """Summed over partitions: each trains on its own core while the others do."""
    return sum(row["windows"]["train"] * epochs / row["train_seconds"] for row in report.trained_partitions())


def scaling_by_batch(runs: list[dict]) -> list[dict]:
    """Per batch size, the medians over rounds of each rank count's windows/s and of the rounds'
    efficiencies (each round's 2-rank run against its own 1-rank run), with their range."""
    summary = []
    for batch_size in dict.fromkeys(run["batch_size"] for run in runs):
        rounds = [run for run in runs if run["batch_size"] == batch_size]
        efficiencies = [run["windows_per_second"][2] / (2 * run["windows_per_second"][1]) for run in rounds]
        summary.append(
            {
                "batch_size": batch_size,
                "rounds": len(rounds),
                "windows_per_second": {
                    ranks: statistics.median(run["windows_per_second"][ranks] for run in rounds) for ranks in (1, 2)
                },
                "scaling_efficiency": statistics.median(efficiencies),
                "scaling_efficiency_range": [min(efficiencies), max(efficiencies)],
            }
        )
    return summary


def time_to_quality(reports: dict[str, dict]) -> dict:
    """Per run, the training seconds and epochs until its validation loss first reached the loss
    every run reached (the highest of their best), from the per-epoch timings; and each run's time
    over the first run's."""
    target = max(min(report["val_loss"]) for report in reports.values())
    reached = {}
    for label, report in reports.items():
        elapsed = itertools.accumulate(report["epoch_seconds"])
        epoch, seconds = next(
            (epoch, seconds)
            for epoch, (seconds, loss) in enumerate(zip(elapsed, report["val_loss"], strict=True))
            if loss <= target
        )
        reached[label] = {"seconds": seconds, "epochs": epoch + 1}
    reference = reached[next(iter(reached))]["seconds"]
    return {
        "target_val_loss": target,
        "reached": reached,
        "time_ratio": {label: run["seconds"] / reference for label, run in reached.items()},
    }


PARTS = ("throughput", "quality", "scale")
# The runs of each time-to-quality comparison: label -> train_distributed's rank arguments; the
# first is the one the others are timed against.
QUALITY_RUNS = {
    "1 rank": ("--num-proc", "1", "--threads-per-rank", "1"),
    "2 ranks": ("--num-proc", "2", "--threads-per-rank", "1"),
    "auto (default)": ("--num-proc", "auto", "--auto-max-ranks", "2", "--threads-per-rank", "1"),
}
# --scale-runs: what the generated readings compare.
SCALE_RUNS = {
    "ranks": {
        "1 rank x 2 threads": ("--num-proc", "1", "--threads-per-rank", "2"),
        "2 ranks x 1 thread": ("--num-proc", "2", "--threads-per-rank", "1"),
    },
    "auto": {label: QUALITY_RUNS[label] for label in ("1 rank", "auto (default)")},
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, default=PROJECT_DIR / "var" / "bench-train")
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated, of {', '.join(PARTS)}")
    parser.add_argument("--sensors", type=int, default=40)
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument(
        "--batch-sizes",
        default=f"{DEFAULT_MODEL.batch_size},1024,4096",
        help=f"per rank, comma-separated; {DEFAULT_MODEL.batch_size} is the DAG's",
    )
    parser.add_argument("--rounds", type=int, default=3, help="runs of each kind, alternated")
    parser.add_argument("--units", type=int, default=16)
    parser.add_argument("--quality-series", default="greensboro_temperature", choices=sorted(real_series.SERIES))
    parser.add_argument("--scale-sensors", type=int, default=100)
    parser.add_argument("--scale-days", type=int, default=14)
    parser.add_argument("--scale-batch-size", type=int, default=DEFAULT_MODEL.batch_size, help="per rank")
    parser.add_argument("--scale-budget-minutes", type=float, default=3.0, help="training time of each run")
    parser.add_argument(
        "--scale-runs",
        choices=sorted(SCALE_RUNS),
        default="ranks",
        help="ranks: 1 rank with both cores against 2 of one; auto: 1 rank against num_proc auto",
    )
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--driver-memory", default="4g")
    args = parser.parse_args(argv)
    parts = args.parts.split(",")
    args.workdir.mkdir(parents=True, exist_ok=True)
    env = os.environ | {
        "MLFLOW_TRACKING_URI": f"sqlite:///{args.workdir.resolve()}/mlflow.db",
        "SENSOR_LSTM_MLFLOW_ARTIFACTS": str(args.workdir.resolve() / "mlflow-artifacts"),
    }
    summary = {}
    if "throughput" in parts:
        summary |= throughput(args, env)
    if "quality" in parts:
        quality_lake = SeriesLake(
            real_series.SERIES[args.quality_series], args.workdir.resolve(), args.master, args.driver_memory, env
        )

        def train(label: str, arguments: tuple) -> TrainDistributedReport:
            quality_lake.job(
                "train_distributed",
                *arguments,
                "--bind-cores",
                "--model-name",
                "bench-train-quality",
                "--experiment",
                "bench-train",
                conf={"spark.task.cpus": "1"},
            )
            return quality_lake.report(TrainDistributedReport)

        rounds = quality_rounds(args.rounds, QUALITY_RUNS, train)
        windows = quality_lake.report(PrepareSequencesReport).windows["train"]
        print(
            f"\ntime to quality on {quality_lake.series.name} ({windows} training windows), the DAG's default "
            f"model Params, medians of {len(rounds)} rounds; target: the validation loss every run of a round reached"
        )
        print_time_to_quality(rounds)
        summary["time_to_quality"] = {"series": args.quality_series, "training_windows": windows, "rounds": rounds}
    if "scale" in parts:
        summary["time_to_quality_at_scale"] = at_scale(args, env)
    (args.workdir / f"bench-train-{'-'.join(parts)}.json").write_text(json.dumps(summary, indent=2) + "\n")


def quality_rounds(rounds: int, runs: dict[str, tuple], train) -> list[dict]:
    """``rounds`` rounds of every run, each round's runs one after another: ``train(label,
    arguments)`` trains one and returns its report."""
    results = []
    for round_number in range(1, rounds + 1):
        reports = {}
        for label, arguments in runs.items():
            report = train(label, arguments)
            reports[label] = {
                name: getattr(report, name)
                for name in ("val_loss", "epoch_seconds", "train_seconds", "epochs_trained", "batch_size", "test")
            } | {"ranks": len(report.ranks), "ranks_reason": report.ranks_reason}
        results.append({"round": round_number, "runs": reports, **time_to_quality(reports)})
        ratios = ", ".join(f"{label} {ratio:.2f}x" for label, ratio in results[-1]["time_ratio"].items())
        print(f"round {round_number}, time to quality against {next(iter(runs))}: {ratios}", flush=True)
    return results


def at_scale(args: argparse.Namespace, env: dict) -> dict:
    """Time to quality on generated readings at the DAG's default model Params, each run given the
    same training time: by default where each rank's share of an epoch is large, 1 rank with both
    cores against 2 ranks with one each (--scale-runs)."""
    workdir = args.workdir.resolve() / f"scale-{args.scale_sensors}x{args.scale_days}"
    lake = prepare_lake(workdir, args.scale_sensors, args.scale_days, args.master, args.driver_memory)
    run_date = (FIRST_DAY + timedelta(days=args.scale_days - 1)).isoformat()
    common = ["--lake", str(lake), "--run-date", run_date]
    spark = (args.master, args.driver_memory)
    submit(spark_submit(*spark, job("prepare_sequences"), *common, "--lookback-days", str(args.scale_days)), env)
    windows = read_report(lake, PrepareSequencesReport, run_date).windows["train"]

    def train(label: str, arguments: tuple) -> TrainDistributedReport:
        threads = arguments[arguments.index("--threads-per-rank") + 1]
        command = spark_submit(
            *spark,
            job("train_distributed"),
            *common,
            *arguments,
            "--bind-cores",
            "--batch-size",
            str(args.scale_batch_size),
            "--training-budget-minutes",
            str(args.scale_budget_minutes),
            "--model-name",
            "bench-train-scale",
            "--experiment",
            "bench-train",
            conf={"spark.task.cpus": threads},
        )
        submit(command, env)
        return read_report(lake, TrainDistributedReport, run_date)

    rounds = quality_rounds(args.rounds, SCALE_RUNS[args.scale_runs], train)
    print(
        f"\ntime to quality at scale: {windows} training windows ({args.scale_sensors} sensors x {args.scale_days} "
        f"days at 60 s), the DAG's default model Params, {args.scale_batch_size} windows per rank a step, "
        f"{args.scale_budget_minutes:g} minutes of training each, medians of {len(rounds)} rounds; target: the "
        "validation loss both runs of a round reached"
    )
    print_time_to_quality(rounds)
    return {"training_windows": windows, "batch_size": args.scale_batch_size, "rounds": rounds}


def throughput(args: argparse.Namespace, env: dict) -> dict:
    """Windows per second with 1 and 2 ranks at each batch size, the baseline's, the plain-fit
    ceiling and the allreduce's cost; printed, and returned for the summary file."""
    batch_sizes = [int(size) for size in args.batch_sizes.split(",")]
    lake = prepare_lake(args.workdir, args.sensors, args.days, args.master, args.driver_memory)
    run_date = (FIRST_DAY + timedelta(days=args.days - 1)).isoformat()
    common = [
        "--lake",
        str(lake),
        "--run-date",
        run_date,
        "--epochs",
        str(args.epochs),
        "--lstm-units",
        str(args.units),
        "--experiment",
        "bench-train",
    ]
    submit(
        spark_submit(
            args.master, args.driver_memory, job("prepare_sequences"), *common[:4], "--lookback-days", str(args.days)
        ),
        env,
    )
    windows = read_report(lake, PrepareSequencesReport, run_date).windows["train"]

    def distributed(batch_size: int, ranks: int) -> TrainDistributedReport:
        submit(
            spark_submit(
                args.master,
                args.driver_memory,
                job("train_distributed"),
                *common,
                "--batch-size",
                str(batch_size),
                "--min-steps-per-epoch",
                "1",
                "--num-proc",
                str(ranks),
                "--threads-per-rank",
                "1",
                "--bind-cores",
                "--patience",
                str(args.epochs),
                "--model-name",
                "bench-train",
                conf={"spark.task.cpus": "1"},
            ),
            env,
        )
        return read_report(lake, TrainDistributedReport, run_date)

    runs = []
    for round_number in range(1, args.rounds + 1):
        for batch_size in batch_sizes:
            reports = {ranks: distributed(batch_size, ranks) for ranks in (1, 2)}
            runs.append(
                {
                    "round": round_number,
                    "batch_size": batch_size,
                    "windows_per_second": {ranks: report.windows_per_second for ranks, report in reports.items()},
                    "epoch_seconds": {ranks: report.epoch_seconds for ranks, report in reports.items()},
                    "test_rmse": {ranks: report.test["test_rmse"] for ranks, report in reports.items()},
                }
            )
            print(
                f"round {round_number}, batch {batch_size}/rank: "
                f"{runs[-1]['windows_per_second'][2] / (2 * runs[-1]['windows_per_second'][1]):.1%}",
                flush=True,
            )
    scaling = scaling_by_batch(runs)

    submit(
        spark_submit(
            args.master,
            args.driver_memory,
            job("train_baseline"),
            *common,
            "--batch-size",
            str(batch_sizes[0]),
            "--partitions",
            "2",
            "--threads-per-task",
            "1",
        ),
        env,
    )
    baseline = baseline_windows_per_second(read_report(lake, TrainBaselineReport, run_date), args.epochs)
    # Alone before and after the pair: this machine's speed drifts by more than the effect.
    alone_before = fit_throughput([0], batch_sizes[0], env)[0]
    side_by_side = sum(fit_throughput([0, 1], batch_sizes[0], env))
    alone = (alone_before + fit_throughput([0], batch_sizes[0], env)[0]) / 2
    latency = allreduce_latency(args.units, env)

    print(
        f"{windows} training windows ({args.sensors} sensors x {args.days} days, seq_len 24), {args.epochs} epochs, "
        f"{args.units} LSTM units, master {args.master}, {os.cpu_count()} cores, one TensorFlow thread per rank "
        f"(pinned to its core) or task; medians of {args.rounds} rounds"
    )
    print(f"{'training':<34}{'batch/rank':>11}{'windows/s':>11}{'scaling efficiency (range)':>30}")
    for row in scaling:
        efficiency, (low, high) = row["scaling_efficiency"], row["scaling_efficiency_range"]
        for ranks in (1, 2):
            shown = f"{efficiency:.1%} ({low:.0%}-{high:.0%})" if ranks == 2 else ""
            print(
                f"{f'train_distributed, {ranks} rank(s)':<34}{row['batch_size']:>11}"
                f"{row['windows_per_second'][ranks]:>11.0f}{shown:>30}".rstrip()
            )
    print(f"{'train_baseline, 2 partitions':<34}{batch_sizes[0]:>11}{baseline:>11.0f}")
    print(f"{'plain fit, alone':<34}{batch_sizes[0]:>11}{alone:>11.0f}")
    print(
        f"{'2 plain fits side by side':<34}{batch_sizes[0]:>11}{side_by_side:>11.0f}{side_by_side / (2 * alone):>30.1%}"
    )
    print("scaling efficiency = windows/s with 2 ranks / (2 x windows/s with 1 rank)")
    print(
        f"one allreduce of the {latency['gradient_elements']} gradients: {latency['ms_1_rank']:.2f} ms with 1 rank, "
        f"{latency['ms_2_rank']:.2f} ms with 2 ranks (every training step pays it once)"
    )
    return {
        "training_windows": windows,
        "epochs": args.epochs,
        "runs": runs,
        "scaling": scaling,
        "baseline_windows_per_second": baseline,
        "plain_fit": {"alone": alone, "side_by_side": side_by_side},
        "allreduce": latency,
    }


def print_time_to_quality(rounds: list[dict]) -> None:
    labels = list(rounds[0]["runs"])
    print(
        f"{'run':<22}{'ranks':>6}{'batch/rank':>11}{'to target s':>13}{'epochs':>8}"
        f"{'whole fit s':>13}{'epochs':>8}{'test RMSE':>11}{'time / ' + labels[0]:>26}"
    )
    for label in labels:
        runs = [quality["runs"][label] for quality in rounds]
        reached = [quality["reached"][label] for quality in rounds]
        print(
            f"{label:<22}{runs[0]['ranks']:>6}{runs[0]['batch_size']:>11}"
            f"{statistics.median(r['seconds'] for r in reached):>13.1f}"
            f"{statistics.median(r['epochs'] for r in reached):>8.0f}"
            f"{statistics.median(run['train_seconds'] for run in runs):>13.1f}"
            f"{statistics.median(run['epochs_trained'] for run in runs):>8.0f}"
            f"{statistics.median(run['test']['test_rmse'] for run in runs):>11.3f}"
            f"{statistics.median(quality['time_ratio'][label] for quality in rounds):>26.2f}"
        )
    for label in labels[1:]:
        ratios = [quality["time_ratio"][label] for quality in rounds]
        print(
            f"time to quality, {label} / {labels[0]}: {statistics.median(ratios):.2f}x "
            f"(rounds: {', '.join(f'{ratio:.2f}x' for ratio in ratios)})"
        )
    reasons = {run["ranks_reason"] for quality in rounds for run in quality["runs"].values()}
    for reason in sorted(reason for reason in reasons if reason.startswith("auto")):
        print(f"  {reason}")


if __name__ == "__main__":
    main()
