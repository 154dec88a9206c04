"""Benchmark: the fit_statistical stage at scale, with its default settings.

Generates --sensors x --days of 60-second readings (1,000 x 7 by default: about 10 million), ingests
and prepares them once as the DAG would (not timed), then submits fit_statistical through
spark-submit and measures its wall time. Prints, per model, the sensors fitted and the reasons the
others were not, and the seconds per sensor (median, max, total): the stage spreads the sensors
over the master's cores, so its time is about total / cores. Figures also go to
<workdir>/bench-statistical.json.

Example:
    python -m benchmarks.bench_statistical --workdir var/bench-statistical --sensors 1000 --days 7
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
from datetime import date, timedelta
from pathlib import Path

from benchmarks.bench_prep import FIRST_DAY, PROJECT_DIR, measure, prepare_lake, spark_submit
from sensor_lstm.lake import Lake
from sensor_lstm.lake.reports import FitStatisticalReport


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, default=PROJECT_DIR / "var" / "bench-statistical")
    parser.add_argument("--sensors", type=int, default=1000)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--driver-memory", default="4g")
    args = parser.parse_args(argv)
    workdir = args.workdir.resolve()
    os.environ |= {
        "MLFLOW_TRACKING_URI": f"sqlite:///{workdir}/mlflow.db",
        "SENSOR_LSTM_MLFLOW_ARTIFACTS": str(workdir / "mlflow-artifacts"),
    }
    lake = prepare_lake(workdir, args.sensors, args.days, args.master, args.driver_memory)
    run_date = (FIRST_DAY + timedelta(days=args.days - 1)).isoformat()
    day = ["--lake", str(lake), "--run-date", run_date]
    job = PROJECT_DIR / "spark_jobs"
    prepare = [*day, "--lookback-days", str(args.days)]
    subprocess.run(spark_submit(args.master, args.driver_memory, job / "prepare_sequences.py", *prepare), check=True)
    tracking = ["--experiment", "bench-statistical"]
    seconds, peak = measure(spark_submit(args.master, args.driver_memory, job / "fit_statistical.py", *day, *tracking))
    report = FitStatisticalReport.read(Lake(str(lake)), date.fromisoformat(run_date))
    print(f"fit_statistical on {report.sensors} sensors x {args.days} days at 60 s ({args.master}):")
    print(f"  wall {seconds:.0f} s (the stage's own: {report.wall_seconds:.0f} s), peak memory {peak / 2**30:.1f} GiB")
    spent = report.sensor_seconds
    print(f"  seconds per sensor: median {spent['median']:.2f}, max {spent['max']:.2f}, total {spent['total']:.0f}")
    for model, row in report.fits.items():
        print(f"  {model}: fitted on {row['sensors_fitted']} sensors, median {row['median_seconds']} s")
        for reason, sensors in row["not_fitted"].items():
            print(f"    not fitted on {sensors}: {reason}")
    figures = {"sensors": report.sensors, "days": args.days, "master": args.master, "wall_seconds": seconds}
    figures |= {"peak_bytes": peak, "sensor_seconds": spent, "fits": report.fits}
    (workdir / "bench-statistical.json").write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
