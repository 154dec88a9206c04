import itertools
import json
from datetime import UTC, datetime

from sensor_lstm.lake import Lake
from sensor_lstm.readings.catalog import read_catalog, units
from sensor_lstm.tools import real_series
from sensor_lstm.tools.generate_sensor_data import HEADER

TMY3 = """723170,"GREENSBORO PIEDMONT TRIAD INT",NC,-5.0,36.100,-79.950,273
Date (MM/DD/YYYY),Time (HH:MM),Dry-bulb (C),Dry-bulb source
01/01/1988,01:00,10.0,A
01/01/1988,24:00,6.1,A
12/31/1996,24:00,2.2,A
"""


def test_tmy3_rows_are_redated_into_one_year_and_moved_to_utc():
    # Local standard time UTC-5, the hour ending at Time; 24:00 is the next day's midnight.
    assert real_series.tmy3_readings(TMY3, "Dry-bulb (C)", year=2025) == [
        (datetime(2025, 1, 1, 6, tzinfo=UTC), "10.0"),
        (datetime(2025, 1, 2, 5, tzinfo=UTC), "6.1"),
        (datetime(2026, 1, 1, 5, tzinfo=UTC), "2.2"),
    ]


def test_the_packaged_files_load_whole():
    readings = real_series.SERIES["greensboro_temperature"].load()
    assert len(readings) == 8760
    assert readings[0] == ("greensboro_temperature_c", datetime(2025, 1, 1, 6, tzinfo=UTC), "10.0")
    # One reading an hour, none missing: the year laid end to end.
    assert {(later - earlier).total_seconds() for (_, earlier, _), (_, later, _) in itertools.pairwise(readings)} == {
        3600
    }
    weather = real_series.SERIES["greensboro_weather"].load()
    # Five sensors at every hour, in five units, the first hour's readings as the file has them.
    assert len(weather) == 5 * 8760
    assert weather[:5] == [
        ("greensboro_humidity_pct", datetime(2025, 1, 1, 6, tzinfo=UTC), "77"),
        ("greensboro_irradiance_wm2", datetime(2025, 1, 1, 6, tzinfo=UTC), "0"),
        ("greensboro_pressure_mbar", datetime(2025, 1, 1, 6, tzinfo=UTC), "993"),
        ("greensboro_temperature_c", datetime(2025, 1, 1, 6, tzinfo=UTC), "10.0"),
        ("greensboro_wind_mps", datetime(2025, 1, 1, 6, tzinfo=UTC), "6.2"),
    ]


def test_landing_files_per_utc_day_and_a_manifest(tmp_path):
    series = real_series.RealSeries(
        "tiny",
        3600,
        "three readings",
        (real_series.RealSensor("station_c", "degC", lambda: real_series.tmy3_readings(TMY3, "Dry-bulb (C)", 2025)),),
    )
    manifest = real_series.write_landing(series, tmp_path)
    assert sorted(path.name for path in tmp_path.glob("*.csv")) == [
        "sensor_readings_2025-01-01.csv",
        "sensor_readings_2025-01-02.csv",
        "sensor_readings_2026-01-01.csv",
    ]
    assert (tmp_path / "sensor_readings_2025-01-02.csv").read_text().splitlines() == [
        HEADER,
        "station_c,2025-01-02T05:00:00Z,6.1",
    ]
    assert manifest == json.loads((tmp_path / "_real-series-tiny.json").read_text())
    assert {name: manifest[name] for name in ("sensor_ids", "readings", "first_day", "last_day", "days")} == {
        "sensor_ids": ["station_c"],
        "readings": 3,
        "first_day": "2025-01-01",
        "last_day": "2026-01-01",
        "days": 366,
    }


def test_the_sensors_units_go_to_the_lakes_sensor_catalog(tmp_path):
    path = real_series.write_catalog(real_series.SERIES["greensboro_weather"], tmp_path)
    catalog = read_catalog(Lake(str(tmp_path)))
    assert path == tmp_path / "catalog" / "sensors.csv"
    assert units(catalog) == {
        "greensboro_temperature_c": "degC",
        "greensboro_humidity_pct": "%",
        "greensboro_pressure_mbar": "mbar",
        "greensboro_wind_mps": "m/s",
        "greensboro_irradiance_wm2": "W/m2",
    }
