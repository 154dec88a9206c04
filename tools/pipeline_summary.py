"""Print what a pipeline run did for one day, from the reports its jobs wrote to the lake.

Example:
    python -m tools.pipeline_summary --lake var/lake --day 2026-11-22
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def load_report(lake: Path, job: str, day: str) -> dict:
    path = lake / "reports" / job / f"date={day}" / "report.json"
    if not path.exists():
        raise FileNotFoundError(f"no {job} report for {day} at {path}: did the task run?")
    return json.loads(path.read_text())


def summary_lines(lake: Path, day: str) -> list[str]:
    ingest = load_report(lake, "ingest", day)
    prep = load_report(lake, "prepare_sequences", day)
    reasons = ", ".join(f"{reason} {count}" for reason, count in ingest["quarantined_by_reason"].items() if count)
    windows = prep["windows"]
    return [
        f"Pipeline summary for {day}",
        f"  ingest        rows read {ingest['rows_read']}, written {ingest['rows_written']}, "
        f"quarantined {ingest['rows_quarantined']} ({reasons or 'none'}), duplicates dropped {ingest['duplicates_dropped']}",
        f"  sequences     seq_len {prep['seq_len']}, horizon {prep['horizon']}, {prep['sensors']} sensors over "
        f"{prep['lookback_days'][0]}..{prep['lookback_days'][-1]}: train {windows['train']}, "
        f"validation {windows['validation']}, test {windows['test']} windows "
        f"({prep['windows_dropped_across_split_cuts']} dropped across split cuts)",
        "  outputs",
        f"    readings      {lake / 'readings' / f'date={day}'}",
        f"    quarantine    {lake / 'quarantine' / 'ingest' / f'date={day}'}",
        f"    sequences     {prep['sequences_path']}",
        f"    statistics    {prep['stats_path']}",
        f"    reports       {lake / 'reports'}",
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lake", type=Path, required=True)
    parser.add_argument("--day", required=True, help="the run's UTC day, YYYY-MM-DD")
    args = parser.parse_args(argv)
    try:
        print("\n".join(summary_lines(args.lake, args.day)))
    except FileNotFoundError as error:
        sys.exit(str(error))


if __name__ == "__main__":
    main()
