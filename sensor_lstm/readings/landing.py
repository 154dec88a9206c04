"""The landing files: a delivery per UTC day, ``<lake>/landing/sensor_readings_<day>.csv`` (or
``.csv.gz``), read line by line as text."""

from __future__ import annotations

import re
from datetime import date

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from sensor_lstm.errors import JobInputError
from sensor_lstm.lake import Lake
from sensor_lstm.lake.datasets import LANDING_FILES

FILE_DAY = re.compile(r"sensor_readings_(\d{4}-\d{2}-\d{2})\.csv(\.gz)?$")
GZIP_MAGIC = b"\x1f\x8b"


def read_landing_lines(spark: SparkSession, files: list[str]) -> DataFrame:
    """Every line of the files, headers included; ``.csv.gz`` files are decompressed."""
    return spark.read.text(files).select(
        F.col("_metadata.file_name").alias("source_file"), F.col("value").alias("line_text")
    )


def landing_files(lake: Lake, landing_dir: str, days: list[date]) -> list[str]:
    found = []
    for day in days:
        for pattern in LANDING_FILES:
            found.extend(lake.glob(f"{landing_dir}/{pattern.format(day=day.isoformat())}"))
    return found


def check_not_compressed(lake: Lake, files: list[str]) -> None:
    for path in files:
        if not path.endswith(".gz") and lake.read_head(path, len(GZIP_MAGIC)) == GZIP_MAGIC:
            raise JobInputError(f"{path} is gzip-compressed: name it .csv.gz, or deliver plain text")
