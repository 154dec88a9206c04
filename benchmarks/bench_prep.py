"""Benchmark: prepare_sequences against the collect_list + Python UDF recipe, same input.

Generates ~2 million clean readings (200 sensors x 7 days at 60 s = 10,080 each), ingests them
once (not timed), then runs each job through spark-submit on the same master and measures wall
time, windows written per second and the peak resident memory of the whole process tree (the
JVM and its Python workers). The generated lake is kept under --workdir for reruns.

Example:
    python -m benchmarks.bench_prep --workdir var/bench
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import psutil
import pyarrow.dataset as ds

from sensor_lstm.lake import datasets
from sensor_lstm.settings import DEFAULTS
from sensor_lstm.tools.generate_sensor_data import generate

PROJECT_DIR = Path(__file__).resolve().parents[1]
FIRST_DAY = date(2026, 11, 1)


def spark_submit(master: str, driver_memory: str, script: Path, *args: str, conf: dict | None = None) -> list[str]:
    settings = {
        "spark.log.level": "WARN",
        "spark.ui.enabled": "false",
        "spark.executorEnv.PYTHONPATH": str(PROJECT_DIR),
        **(conf or {}),
    }
    conf_args = [part for name, value in settings.items() for part in ("--conf", f"{name}={value}")]
    return ["spark-submit", "--master", master, "--driver-memory", driver_memory, *conf_args, str(script), *args]


def measure(command: list[str]) -> tuple[float, int]:
    """Run a command; return its wall seconds and the peak summed RSS of its process tree."""
    with tempfile.TemporaryFile(mode="w+") as log:  # a pipe could fill up and stall the job
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log, text=True)
        root = psutil.Process(process.pid)
        peak = 0
        while process.poll() is None:
            try:
                tree = [root, *root.children(recursive=True)]
                peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
            except psutil.Error:
                pass
            time.sleep(0.5)
        elapsed = time.perf_counter() - started
        if process.returncode:
            log.seek(0)
            sys.exit(f"{' '.join(command)} failed:\n{log.read()[-4000:]}")
    return elapsed, peak


def prepare_lake(workdir: Path, sensors: int, days: int, master: str, driver_memory: str) -> Path:
    lake = workdir / "lake"
    marker = workdir / f"lake-{sensors}x{days}.ready"
    if marker.exists():
        return lake
    generate(
        lake / datasets.LANDING,
        start_date=FIRST_DAY,
        days=days,
        sensors=sensors,
        interval_seconds=60,
        bad_row_fraction=0.0,
        gap_probability=0.0002,
        seed=1,
    )
    subprocess.run(
        spark_submit(
            master,
            driver_memory,
            PROJECT_DIR / "spark_jobs" / "ingest.py",
            "--lake",
            str(lake),
            "--run-date",
            FIRST_DAY.isoformat(),
            "--days",
            str(days),
        ),
        check=True,
    )
    marker.touch()
    return lake


def parquet_rows(path: Path) -> int:
    return ds.dataset(path, format="parquet", partitioning="hive").count_rows()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, default=PROJECT_DIR / "var" / "bench")
    parser.add_argument("--sensors", type=int, default=200)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--seq-len", type=int, default=DEFAULTS["seq_len"])
    parser.add_argument("--horizon", type=int, default=DEFAULTS["horizon"])
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--driver-memory", default="4g")
    args = parser.parse_args(argv)

    lake = prepare_lake(args.workdir, args.sensors, args.days, args.master, args.driver_memory)
    readings = parquet_rows(lake / datasets.READINGS)
    run_date = (FIRST_DAY + timedelta(days=args.days - 1)).isoformat()
    window_args = [
        "--run-date",
        run_date,
        "--lookback-days",
        str(args.days),
        "--seq-len",
        str(args.seq_len),
        "--horizon",
        str(args.horizon),
    ]
    recipe_output = args.workdir / "collect-list-recipe-output"

    prep_command = spark_submit(
        args.master,
        args.driver_memory,
        PROJECT_DIR / "spark_jobs" / "prepare_sequences.py",
        "--lake",
        str(lake),
        *window_args,
    )
    recipe_command = spark_submit(
        args.master,
        args.driver_memory,
        PROJECT_DIR / "benchmarks" / "collect_list_recipe.py",
        "--lake",
        str(lake),
        *window_args,
        "--output",
        str(recipe_output),
    )
    alone = {"prepare_sequences": measure(prep_command), "collect_list_recipe": measure(recipe_command)}
    windows = {
        "prepare_sequences": parquet_rows(lake / datasets.SEQUENCES / f"date={run_date}"),
        "collect_list_recipe": parquet_rows(recipe_output),
    }
    timing_file = args.workdir / "warm-session-timing.json"
    measure(
        spark_submit(
            args.master,
            args.driver_memory,
            PROJECT_DIR / "benchmarks" / "warm_session_timing.py",
            "--lake",
            str(lake),
            *window_args,
            "--recipe-output",
            str(recipe_output),
            "--result",
            str(timing_file),
        )
    )
    warm = json.loads(timing_file.read_text())["timed"]

    print(
        f"{readings} readings, {args.sensors} sensors, seq_len {args.seq_len}, horizon {args.horizon}, "
        f"master {args.master}, driver memory {args.driver_memory}, {os.cpu_count()} cores"
    )
    print(f"{'':<21}{'submitted alone (cold start)':^38}{'in one warm session':^26}")
    print(
        f"{'job':<21}{'wall s':>9}{'windows/s':>11}{'peak RSS MiB':>15}   "
        f"{'wall s':>9}{'windows/s':>11}   {'windows':>9}"
    )
    for job in alone:
        seconds, peak = alone[job]
        print(
            f"{job:<21}{seconds:>9.1f}{windows[job] / seconds:>11.0f}{peak / 2**20:>15.0f}   "
            f"{warm[job]:>9.1f}{windows[job] / warm[job]:>11.0f}   {windows[job]:>9}"
        )
    ratio_alone = alone["collect_list_recipe"][0] / alone["prepare_sequences"][0]
    ratio_warm = warm["collect_list_recipe"] / warm["prepare_sequences"]
    print(
        f"speed-up of prepare_sequences over the recipe: {ratio_alone:.1f}x submitted alone, "
        f"{ratio_warm:.1f}x in a warm session"
    )
    summary = {
        "readings": readings,
        "windows": windows,
        "submitted_alone": {job: {"wall_seconds": s, "peak_rss_bytes": p} for job, (s, p) in alone.items()},
        "warm_session_seconds": warm,
        "speedup_submitted_alone": ratio_alone,
        "speedup_warm_session": ratio_warm,
    }
    (args.workdir / "bench-prep.json").write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
