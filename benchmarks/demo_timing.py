"""Where `make demo`'s DAG run spends its time, task by task, from the run's Airflow task logs.

For each task: when it started (seconds after the run's first task), its wall time, and for a
Spark job the part before its session existed (the spark-submit JVM, the driver's Python and the
SparkSession: the "Spark application ..." line sensor_lstm.job logs first). The demo's tasks run
side by side where the DAG lets them, so the run's wall time is less than the tasks' sum.
scripts/demo.sh prints this after its phases.

Example:
    python -m benchmarks.demo_timing var/airflow/logs/dag_id=sensor_lstm_pipeline  # its newest run
    python -m benchmarks.demo_timing "var/airflow/logs/dag_id=sensor_lstm_pipeline/run_id=manual__..."
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from pathlib import Path

SESSION = "INFO sensor_lstm.job: Spark application "


def task_timing(task: str, lines: list[str]) -> dict:
    """One task's start, end and seconds to its Spark session (None for a task that is not a Spark
    job), from its log's JSON lines (first stamp to last; a line that is not JSON is skipped)."""
    start = end = session = None
    for line in lines:
        try:
            entry = json.loads(line)
            at = datetime.fromisoformat(entry["timestamp"])
        except (ValueError, KeyError, TypeError):
            continue
        start = start or at
        end = at
        if session is None and SESSION in str(entry.get("event", "")):
            session = at
    return {"task": task, "start": start, "end": end, "session": session}


def run_timings(timings: list[dict]) -> list[dict]:
    """Per task, in the order they started: its start after the run's first task, its seconds and
    its seconds to the Spark session."""
    timings = sorted((timing for timing in timings if timing["start"]), key=lambda timing: timing["start"])
    if not timings:
        return []
    first = timings[0]["start"]
    return [
        {
            "task": timing["task"],
            "started_seconds": (timing["start"] - first).total_seconds(),
            "seconds": (timing["end"] - timing["start"]).total_seconds(),
            "to_session_seconds": (timing["session"] - timing["start"]).total_seconds() if timing["session"] else None,
        }
        for timing in timings
    ]


def run_folder(path: Path) -> Path:
    """``path`` itself when it is a run's log folder, else the newest run folder in it."""
    if path.name.startswith("run_id="):
        return path
    runs = sorted(path.glob("run_id=*"), key=lambda run: run.stat().st_mtime)
    if not runs:
        raise SystemExit(f"no run_id=* folder in {path}")
    return runs[-1]


def read_run(run: Path) -> list[dict]:
    """Each task's timing, from the last attempt's log of every task_id=* folder of ``run``."""
    timings = []
    for task in sorted(run.glob("task_id=*")):
        attempts = sorted(task.glob("attempt=*.log"), key=lambda log: int(log.stem.split("=")[1]))
        if attempts:
            lines = attempts[-1].read_text(errors="replace").splitlines()
            timings.append(task_timing(task.name.split("=", 1)[1], lines))
    return run_timings(timings)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("logs", type=Path, help="a run's task log folder, or the DAG's (its newest run)")
    args = parser.parse_args(argv)
    run = run_folder(args.logs)
    timings = read_run(run)
    print(f"{run.name}, task by task:")
    print(f"  {'task':<24}{'started':>9}{'seconds':>9}{'of which to the Spark session':>31}")
    for timing in timings:
        session = timing["to_session_seconds"]
        print(
            f"  {timing['task']:<24}{timing['started_seconds']:>9.1f}{timing['seconds']:>9.1f}"
            f"{'' if session is None else f'{session:.1f}':>31}"
        )
    if timings:
        wall = max(timing["started_seconds"] + timing["seconds"] for timing in timings)
        print(f"  {'the run, first to last':<24}{0:>9.1f}{wall:>9.1f}")


if __name__ == "__main__":
    main()
