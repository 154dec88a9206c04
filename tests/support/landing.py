"""Landing files for the ingest job, and what it makes of them."""

from sensor_lstm.lake.datasets import LANDING_HEADER
from sensor_lstm.readings.ingest import ingest
from tests.support.jobs import job_args


def write_landing(lake_dir, day, *lines):
    landing = lake_dir / "landing"
    landing.mkdir(parents=True, exist_ok=True)
    (landing / f"sensor_readings_{day}.csv").write_text("\n".join([LANDING_HEADER, *lines]) + "\n")


def run_ingest(spark, lake_dir, day, *extra):
    return ingest(spark, job_args("ingest", "--lake", str(lake_dir), "--run-date", day, *extra))


def readings_of(spark, lake_dir):
    frame = spark.read.parquet(str(lake_dir / "readings"))
    return sorted(
        (row.sensor_id, row.timestamp.isoformat(), row.reading, row.date.isoformat()) for row in frame.collect()
    )


GOOD_DAY = ["s1,2026-11-25T00:00:00Z,1.0", "s1,2026-11-25T00:01:00Z,2.0", "s2,2026-11-25T00:00:00Z,3.0"]
GOOD_READINGS = [
    ("s1", "2026-11-25T00:00:00", 1.0, "2026-11-25"),
    ("s1", "2026-11-25T00:01:00", 2.0, "2026-11-25"),
    ("s2", "2026-11-25T00:00:00", 3.0, "2026-11-25"),
]
