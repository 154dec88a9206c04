"""Where `make demo`'s DAG run spends its time, task by task, from its `airflow dags test` log.

For each task: its wall time, and for a Spark job the part before its session existed (the
spark-submit JVM, the driver's Python and the SparkSession: the "Spark application ..." line
sensor_lstm.job logs first). scripts/demo.sh prints the demo's phases; this splits its DAG run.

Example:
    python -m benchmarks.demo_timing var/demo-dag-run-2026-11-22.log
"""

from __future__ import annotations

import argparse
import re
from datetime import datetime
from pathlib import Path

STAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+)Z ")
STARTING = re.compile(r"\[DAG TEST\] starting task_id=(\w+)")
ENDING = re.compile(r"\[DAG TEST\] end task task_id=(\w+)")
SESSION = "INFO sensor_lstm.job: Spark application "


def task_timings(lines: list[str]) -> list[dict]:
    """Per task, in the order they ran: its seconds, and the seconds until its Spark session
    existed (None for a task that is not a Spark job)."""
    timings, current = [], None
    for line in lines:
        stamp = STAMP.match(line)
        if not stamp:
            continue
        at = datetime.fromisoformat(stamp.group(1))
        if started := STARTING.search(line):
            current = {"task": started.group(1), "start": at, "session": None}
        elif current and SESSION in line and current["session"] is None:
            current["session"] = at
        elif (ended := ENDING.search(line)) and current and ended.group(1) == current["task"]:
            session = current["session"]
            timings.append(
                {
                    "task": current["task"],
                    "seconds": (at - current["start"]).total_seconds(),
                    "to_session_seconds": (session - current["start"]).total_seconds() if session else None,
                }
            )
            current = None
    return timings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("log", type=Path, help="the demo's var/demo-dag-run-<day>.log")
    args = parser.parse_args(argv)
    timings = task_timings(args.log.read_text(errors="replace").splitlines())
    print(f"{'task':<24}{'seconds':>9}{'of which to the Spark session':>31}")
    for timing in timings:
        session = timing["to_session_seconds"]
        print(f"{timing['task']:<24}{timing['seconds']:>9.1f}{'' if session is None else f'{session:.1f}':>31}")
    print(f"{'all tasks':<24}{sum(timing['seconds'] for timing in timings):>9.1f}")


if __name__ == "__main__":
    main()
