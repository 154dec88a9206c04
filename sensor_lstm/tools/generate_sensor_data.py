"""Generate raw sensor CSV files, one per day, the way the landing zone receives them.

Each file ``sensor_readings_<YYYY-MM-DD>.csv`` holds the header ``sensor_id,timestamp,reading``
and one row per sensor per sampling step of that UTC day: a daily cycle, a slow trend and noise,
with random gaps (runs of missing readings) and a configurable fraction of bad rows of every kind
the ingest job must handle. The same seed always gives the same files.

In the landing folder it also writes ``_generation-manifest.json``: how many rows of each kind went
into each file, so a test can check the ingest's counts against what was really written.

The options default to the demo's sample, ``DEMO_SAMPLE``: the one place that defines it for
``make demo`` (scripts/demo.sh), the local stack (scripts/stack.sh) and the compose stack's test.

Example:
    python -m sensor_lstm.tools.generate_sensor_data --output-dir var/lake/landing  # the demo's sample
    python -m sensor_lstm.tools.generate_sensor_data --output-dir var/lake/landing --start-date 2026-11-23 --sensors 5
"""

from __future__ import annotations

import argparse
import json
import math
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sensor_lstm.lake.datasets import LANDING_FILES, LANDING_HEADER

HEADER = LANDING_HEADER
MANIFEST_NAME = "_generation-manifest.json"

# Each kind of bad row, and the ingest's quarantine reason (or outcome) for it.
BAD_ROW_KINDS = (
    "bad_timestamp",
    "non_numeric_reading",
    "missing_field",
    "extra_field",
    "non_finite_reading",
    "duplicate_row",
    "out_of_order_row",
)


def day_list(start_date: date, days: int) -> list[date]:
    return [start_date + timedelta(days=offset) for offset in range(days)]


@dataclass(frozen=True)
class Sample:
    """What a sample is made of: every option of the command line but the output folder."""

    start_date: date
    days: int
    sensors: int
    interval_seconds: int
    bad_row_fraction: float
    gap_probability: float
    seed: int

    def day_list(self) -> list[date]:
        """The sample's UTC days, first to last: one landing file each."""
        return day_list(self.start_date, self.days)


# The demo's sample (`make demo`, the local stack, the compose stack's test): the command line's defaults.
# 10 sensors give every stage something to show (4 baseline partitions, the statistical fits, the
# quality gate) and keep `make demo` within 4 minutes on 2 cores (benchmarks/README.md).
DEMO_SAMPLE = Sample(
    start_date=date(2026, 11, 20),
    days=3,
    sensors=10,
    interval_seconds=60,
    bad_row_fraction=0.01,
    gap_probability=0.001,
    seed=7,
)


def landing_file_name(day: date) -> str:
    return LANDING_FILES[0].format(day=day.isoformat())


@dataclass
class DayCounts:
    """What one day's file holds, by the ingest's categories."""

    lines: int = 0
    valid_unique: int = 0
    duplicates: int = 0
    out_of_order: int = 0
    quarantined: dict[str, int] = field(default_factory=dict)

    def quarantine(self, reason: str) -> None:
        self.quarantined[reason] = self.quarantined.get(reason, 0) + 1


def format_timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def sensor_reading(sensor_index: int, moment: datetime, start: datetime, rng: random.Random) -> float:
    """Daily cycle + linear trend + Gaussian noise, different in level and phase per sensor."""
    seconds_of_day = moment.hour * 3600 + moment.minute * 60 + moment.second
    hours_since_start = (moment - start).total_seconds() / 3600
    level = 20.0 + 2.5 * (sensor_index % 7)
    amplitude = 3.0 + 0.5 * (sensor_index % 4)
    phase = 2 * math.pi * (sensor_index % 5) / 5
    cycle = amplitude * math.sin(2 * math.pi * seconds_of_day / 86400 + phase)
    trend = 0.01 * (1 + sensor_index % 3) * hours_since_start
    return round(level + cycle + trend + rng.gauss(0.0, 0.3), 4)


def corrupt(line: str, kind: str, rng: random.Random) -> str:
    sensor_id, timestamp, reading = line.split(",")
    if kind == "bad_timestamp":
        return ",".join([sensor_id, rng.choice(["2026-13-45T99:00:00Z", "not-a-time", "1700000000x"]), reading])
    if kind == "non_numeric_reading":
        return ",".join([sensor_id, timestamp, rng.choice(["abc", "12.3.4", "--"])])
    if kind == "missing_field":
        return rng.choice([f"{sensor_id},{timestamp}", f"{sensor_id},{timestamp},", f",{timestamp},{reading}"])
    if kind == "extra_field":
        return f"{line},{rng.choice(['extra', '1'])}"
    if kind == "non_finite_reading":
        return ",".join([sensor_id, timestamp, rng.choice(["NaN", "inf", "-Infinity"])])
    raise ValueError(f"not a corruption: {kind}")


QUARANTINE_REASON = {
    "bad_timestamp": "bad_timestamp",
    "non_numeric_reading": "non_numeric_reading",
    "missing_field": "missing_field",
    "extra_field": "extra_field",
    "non_finite_reading": "non_finite_reading",
}


def generate_day(
    day: date,
    *,
    sensors: int,
    interval_seconds: int,
    bad_row_fraction: float,
    gap_probability: float,
    start: datetime,
    rng: random.Random,
) -> tuple[list[str], DayCounts]:
    """Lines of one day's file (header first) and their counts by category."""
    counts = DayCounts()
    lines: list[str] = []
    steps = 86400 // interval_seconds
    day_start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    for sensor_index in range(sensors):
        sensor_id = f"sensor-{sensor_index:03d}"
        gap_left = 0
        for step in range(steps):
            if gap_left:
                gap_left -= 1
                continue
            if rng.random() < gap_probability:
                gap_left = rng.randint(2, 30)
                continue
            moment = day_start + timedelta(seconds=step * interval_seconds)
            line = f"{sensor_id},{format_timestamp(moment)},{sensor_reading(sensor_index, moment, start, rng)}"
            if rng.random() >= bad_row_fraction:
                lines.append(line)
                counts.valid_unique += 1
                continue
            kind = rng.choice(BAD_ROW_KINDS)
            if kind == "duplicate_row":
                lines.extend([line, line])
                counts.valid_unique += 1
                counts.duplicates += 1
            elif kind == "out_of_order_row":
                # The reading arrives after some of the sensor's later readings.
                lines.insert(max(0, len(lines) - rng.randint(1, 5)), line)
                counts.valid_unique += 1
                counts.out_of_order += 1
            else:
                lines.append(corrupt(line, kind, rng))
                counts.quarantine(QUARANTINE_REASON[kind])
    counts.lines = len(lines)
    return [HEADER, *lines], counts


def generate(
    output_dir: Path,
    *,
    start_date: date,
    days: int,
    sensors: int,
    interval_seconds: int,
    bad_row_fraction: float,
    gap_probability: float,
    seed: int,
) -> dict:
    """Write the day files and the manifest; returns the manifest."""
    if 86400 % interval_seconds:
        raise ValueError("--interval-seconds must divide a day (86400 s)")
    rng = random.Random(seed)
    start = datetime(start_date.year, start_date.month, start_date.day, tzinfo=UTC)
    output_dir.mkdir(parents=True, exist_ok=True)
    files = {}
    for day in day_list(start_date, days):
        lines, counts = generate_day(
            day,
            sensors=sensors,
            interval_seconds=interval_seconds,
            bad_row_fraction=bad_row_fraction,
            gap_probability=gap_probability,
            start=start,
            rng=rng,
        )
        path = output_dir / landing_file_name(day)
        partial = path.with_suffix(".csv.partial")
        partial.write_text("\n".join(lines) + "\n")
        partial.replace(path)
        files[path.name] = counts.__dict__
    manifest = {
        "seed": seed,
        "sensors": sensors,
        "interval_seconds": interval_seconds,
        "start_date": start_date.isoformat(),
        "days": days,
        "files": files,
    }
    (output_dir / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    demo = DEMO_SAMPLE
    parser.add_argument("--output-dir", type=Path, required=True, help="landing folder for the day files")
    parser.add_argument(
        "--start-date", type=date.fromisoformat, default=demo.start_date, help="first UTC day, YYYY-MM-DD"
    )
    parser.add_argument("--days", type=int, default=demo.days, help="number of day files")
    parser.add_argument("--sensors", type=int, default=demo.sensors, help="number of sensors")
    parser.add_argument("--interval-seconds", type=int, default=demo.interval_seconds, help="sampling interval")
    parser.add_argument("--bad-row-fraction", type=float, default=demo.bad_row_fraction, help="share of rows made bad")
    parser.add_argument(
        "--gap-probability", type=float, default=demo.gap_probability, help="chance a gap starts at a step"
    )
    parser.add_argument("--seed", type=int, default=demo.seed, help="random seed; same seed, same files")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    manifest = generate(
        args.output_dir,
        start_date=args.start_date,
        days=args.days,
        sensors=args.sensors,
        interval_seconds=args.interval_seconds,
        bad_row_fraction=args.bad_row_fraction,
        gap_probability=args.gap_probability,
        seed=args.seed,
    )
    total_lines = sum(counts["lines"] for counts in manifest["files"].values())
    print(
        f"wrote {len(manifest['files'])} files ({args.sensors} sensors x {args.days} days at {args.interval_seconds} s"
        f" from {args.start_date}, seed {args.seed}), {total_lines} data lines, to {args.output_dir}"
    )


if __name__ == "__main__":
    main()
