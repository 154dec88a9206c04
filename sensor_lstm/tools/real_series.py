"""Real measured series that PyPI packages ship, written as landing CSV files for the pipeline.

The data files come from the installed packages (requirements-dev.txt), never from the network:
  water_flow              river's WaterFlow (river/datasets/water-flow.csv): litres per second
                          through a pipeline branch of an Italian water network, donated by
                          Tecnojest s.r.l.; hourly from 2022-03-20 10:00 to 2022-05-16 20:00 UTC,
                          1,268 readings, with the maintenance dips and the pumping peak it
                          was published with.
  greensboro_temperature  pvlib's TMY3 file for Greensboro, NC (pvlib/data/723170TYA.CSV,
                          station 723170): the dry-bulb temperature in degrees C, every value
                          flagged as measured; hourly, 8,760 readings. A TMY3 year is twelve
                          calendar months measured in different years (1980-2003), so the file's
                          months are laid end to end as the year 2025, and each month boundary
                          joins two different years.

  greensboro_weather      the same file's temperature (degC), relative humidity (%), station
                          pressure (mbar), wind speed (m/s) and global horizontal irradiance
                          (W/m2): five sensors in five units, hourly, 43,800 readings.

A series is one sensor or several, each with its unit. Files are ``sensor_readings_<day>.csv`` per
UTC day, as the landing zone receives them (sensor_lstm/tools/generate_sensor_data.py writes the
same format), plus a manifest ``_real-series-<name>.json`` with the days, interval and readings
written; ``--lake`` also writes the units to the lake's sensor catalog.

Example:
    python -m sensor_lstm.tools.real_series --series water_flow --output-dir var/lake/landing
"""

from __future__ import annotations

import argparse
import csv
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from importlib import metadata
from pathlib import Path

from sensor_lstm.lake.datasets import SENSOR_CATALOG
from sensor_lstm.readings.catalog import HEADER as CATALOG_HEADER
from sensor_lstm.tools.generate_sensor_data import HEADER, format_timestamp, landing_file_name

Reading = tuple[datetime, str]  # UTC time, the reading as the source wrote it


def packaged_file(distribution: str, path: str) -> Path:
    """A data file inside an installed distribution, found without importing the package."""
    located = Path(metadata.distribution(distribution).locate_file(path))
    if not located.is_file():
        raise FileNotFoundError(f"{path} is not in the installed {distribution} distribution")
    return located


def water_flow_readings(text: str) -> list[Reading]:
    """river's water-flow.csv: ``Time,Water flow [l/s]`` with ISO timestamps and UTC offsets."""
    rows = csv.DictReader(text.splitlines())
    return [(datetime.fromisoformat(row["Time"]).astimezone(UTC), row["Water flow [l/s]"].strip()) for row in rows]


def tmy3_readings(text: str, column: str, year: int) -> list[Reading]:
    """A TMY3 file's ``column``, re-dated into ``year`` and moved to UTC.

    Line 1 holds the station, its UTC offset in hours (4th field); line 2 the column names. Each
    row's ``Date`` is MM/DD/YYYY of the source year, ``Time`` the local standard time ending the
    hour, 01:00 to 24:00.
    """
    lines = text.splitlines()
    utc_offset = timedelta(hours=float(next(csv.reader(lines[:1]))[3]))
    readings = []
    for row in csv.DictReader(lines[1:]):
        month, day, _ = (int(part) for part in row["Date (MM/DD/YYYY)"].split("/"))
        hour = int(row["Time (HH:MM)"].split(":")[0])
        local = datetime(year, month, day, tzinfo=timezone(utc_offset)) + timedelta(hours=hour)
        readings.append((local.astimezone(UTC), row[column].strip()))
    return readings


@dataclass(frozen=True)
class RealSensor:
    sensor_id: str
    unit: str
    load: Callable[[], list[Reading]]


@dataclass(frozen=True)
class RealSeries:
    name: str
    interval_seconds: int
    description: str
    sensors: tuple[RealSensor, ...]

    def load(self) -> list[tuple[str, datetime, str]]:
        """Every sensor's readings, (sensor_id, UTC time, reading), by time then sensor."""
        readings = [(sensor.sensor_id, *reading) for sensor in self.sensors for reading in sensor.load()]
        return sorted(readings, key=lambda reading: (reading[1], reading[0]))


def greensboro(column: str) -> Callable[[], list[Reading]]:
    return lambda: tmy3_readings(packaged_file("pvlib", "pvlib/data/723170TYA.CSV").read_text(), column, year=2025)


TMY3_GREENSBORO = "pvlib's TMY3 Greensboro, NC: measured"
SERIES = {
    series.name: series
    for series in (
        RealSeries(
            "water_flow",
            3600,
            "river's WaterFlow: litres per second through a pipeline branch, hourly, 2022-03-20 to 2022-05-16",
            (
                RealSensor(
                    "pipeline_flow_lps",
                    "l/s",
                    lambda: water_flow_readings(packaged_file("river", "river/datasets/water-flow.csv").read_text()),
                ),
            ),
        ),
        RealSeries(
            "greensboro_temperature",
            3600,
            f"{TMY3_GREENSBORO} dry-bulb temperature (C), hourly, twelve months as 2025",
            (RealSensor("greensboro_temperature_c", "degC", greensboro("Dry-bulb (C)")),),
        ),
        RealSeries(
            "greensboro_weather",
            3600,
            f"{TMY3_GREENSBORO} temperature, humidity, pressure, wind speed and irradiance, five units, hourly, "
            "twelve months as 2025",
            (
                RealSensor("greensboro_temperature_c", "degC", greensboro("Dry-bulb (C)")),
                RealSensor("greensboro_humidity_pct", "%", greensboro("RHum (%)")),
                RealSensor("greensboro_pressure_mbar", "mbar", greensboro("Pressure (mbar)")),
                RealSensor("greensboro_wind_mps", "m/s", greensboro("Wspd (m/s)")),
                RealSensor("greensboro_irradiance_wm2", "W/m2", greensboro("GHI (W/m^2)")),
            ),
        ),
    )
}


def manifest_name(series: str) -> str:
    return f"_real-series-{series}.json"


def write_landing(series: RealSeries, output_dir: Path) -> dict:
    """Write the series' day files; returns (and writes) the manifest."""
    readings = series.load()
    by_day: dict[date, list[str]] = {}
    for sensor, moment, value in readings:
        by_day.setdefault(moment.date(), []).append(f"{sensor},{format_timestamp(moment)},{value}")
    output_dir.mkdir(parents=True, exist_ok=True)
    for day, lines in by_day.items():
        path = output_dir / landing_file_name(day)
        partial = path.with_suffix(".csv.partial")
        partial.write_text("\n".join([HEADER, *lines]) + "\n")
        partial.replace(path)
    days = sorted(by_day)
    manifest = {
        "series": series.name,
        "description": series.description,
        "sensor_ids": [sensor.sensor_id for sensor in series.sensors],
        "interval_seconds": series.interval_seconds,
        "readings": len(readings),
        "first_day": days[0].isoformat(),
        "last_day": days[-1].isoformat(),
        "days": (days[-1] - days[0]).days + 1,
    }
    (output_dir / manifest_name(series.name)).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def write_catalog(series: RealSeries, lake: Path) -> Path:
    """The lake's sensor catalog (sensor_lstm/readings/catalog.py), with the sensors' units."""
    path = lake / SENSOR_CATALOG
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [f"{sensor.sensor_id},{sensor.unit},,," for sensor in series.sensors]
    path.write_text("\n".join([",".join(CATALOG_HEADER), *rows]) + "\n")
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--series", choices=sorted(SERIES), required=True)
    parser.add_argument("--output-dir", type=Path, required=True, help="landing folder for the day files")
    parser.add_argument("--lake", type=Path, help="also write the sensors' units to this lake's sensor catalog")
    args = parser.parse_args(argv)
    series = SERIES[args.series]
    manifest = write_landing(series, args.output_dir)
    if args.lake:
        print(f"wrote the units to {write_catalog(series, args.lake)}")
    conf = {
        "day": manifest["last_day"],
        "lookback_days": manifest["days"],
        "sampling_interval_seconds": manifest["interval_seconds"],
    }
    print(
        f"wrote {manifest['readings']} readings of {', '.join(manifest['sensor_ids'])}, {manifest['first_day']} to "
        f"{manifest['last_day']}, to {args.output_dir}\n"
        f"ingest each day, then run the DAG with -c '{json.dumps(conf)}'"
    )


if __name__ == "__main__":
    main()
