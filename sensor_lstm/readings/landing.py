"""The landing files: a delivery per UTC day, ``<lake>/landing/sensor_readings_<day>.csv`` (or
``.csv.gz``), read line by line as text."""

from __future__ import annotations

import re
import zlib
from datetime import date

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from sensor_lstm.errors import JobInputError
from sensor_lstm.lake import Lake
from sensor_lstm.lake.datasets import LANDING_FILES

FILE_DAY = re.compile(r"sensor_readings_(\d{4}-\d{2}-\d{2})\.csv(\.gz)?$")
GZIP_MAGIC = b"\x1f\x8b"
# Enough of a file's start to tell its text encoding, and of a .csv.gz's compressed start to hold it.
HEAD_BYTES = 64
COMPRESSED_HEAD_BYTES = 4096
# The byte order marks of the encodings a landing file may not be in, longest first (UTF-32 LE's
# starts with UTF-16 LE's).
WIDE_BYTE_ORDER_MARKS = (
    (b"\xff\xfe\x00\x00", "UTF-32LE"),
    (b"\x00\x00\xfe\xff", "UTF-32BE"),
    (b"\xff\xfe", "UTF-16LE"),
    (b"\xfe\xff", "UTF-16BE"),
)


def read_landing_lines(spark: SparkSession, files: list[str]) -> DataFrame:
    """Every line of the files, headers included; ``.csv.gz`` files are decompressed.
    ``line_position`` orders a file's lines as written: the byte offset of the block Spark read
    the line in, then the line's place in that block (the same on every read of the same files)."""
    return spark.read.text(files).select(
        F.col("_metadata.file_name").alias("source_file"),
        F.col("value").alias("line_text"),
        F.struct(
            F.col("_metadata.file_block_start").alias("block_start"),
            F.monotonically_increasing_id().alias("in_block"),
        ).alias("line_position"),
    )


def landing_files(lake: Lake, landing_dir: str, days: list[date]) -> list[str]:
    found = []
    for day in days:
        for pattern in LANDING_FILES:
            found.extend(lake.glob(f"{landing_dir}/{pattern.format(day=day.isoformat())}"))
    return found


def wide_encoding(head: bytes) -> str | None:
    """The UTF-16 or UTF-32 encoding a file's first bytes are in, or None. Without a byte order
    mark, the NUL bytes of ASCII characters give it away: UTF-8 text has none."""
    for mark, encoding in WIDE_BYTE_ORDER_MARKS:
        if head.startswith(mark):
            return encoding
    if len(head) >= 4 and head[0] and head[1:4] == b"\x00\x00\x00":
        return "UTF-32LE"
    if len(head) >= 4 and head[:3] == b"\x00\x00\x00" and head[3]:
        return "UTF-32BE"
    if len(head) >= 2 and head[0] and not head[1]:
        return "UTF-16LE"
    if len(head) >= 2 and not head[0] and head[1]:
        return "UTF-16BE"
    return None


def text_head(lake: Lake, path: str) -> bytes:
    """The first bytes of a landing file's text: a .csv.gz's decompressed, as far as they go."""
    if not path.endswith(".gz"):
        return lake.read_head(path, HEAD_BYTES)
    try:
        return zlib.decompressobj(wbits=16 + zlib.MAX_WBITS).decompress(lake.read_head(path, COMPRESSED_HEAD_BYTES))
    except zlib.error:
        return b""  # Spark's reader names a broken gzip file itself


def check_landing_bytes(lake: Lake, files: list[str]) -> None:
    """Refuse by name a file Spark's text reader would garble into quarantine: gzip bytes in a
    .csv, or text in UTF-16 or UTF-32."""
    for path in files:
        if not path.endswith(".gz") and lake.read_head(path, len(GZIP_MAGIC)) == GZIP_MAGIC:
            raise JobInputError(f"{path} is gzip-compressed: name it .csv.gz, or deliver plain text")
        if encoding := wide_encoding(text_head(lake, path)):
            raise JobInputError(
                f"{path} is {encoding} text: deliver it as UTF-8 (for example `iconv -f {encoding} -t UTF-8`)"
            )
