"""Readings written into a test lake the way the jobs write them."""

from __future__ import annotations

from datetime import UTC, datetime

from sensor_lstm.lake.datasets import READINGS_SCHEMA


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def write_readings(spark, lake_dir, rows) -> None:
    """Write (sensor_id, timestamp, reading) rows as the ingest job does: <lake>/readings/date=<day>/."""
    frame = spark.createDataFrame(rows, READINGS_SCHEMA)
    frame.selectExpr("*", "to_date(timestamp) as date").write.partitionBy("date").parquet(str(lake_dir / "readings"))
