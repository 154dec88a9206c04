"""The lake: datasets partitioned by day, the jobs' reports and the locks on days (``Lake``), the
datasets' names (``datasets``) and the typed reports the jobs hand each other (``reports``)."""

from sensor_lstm.lake.store import (
    SECONDS_PER_DAY,
    Lake,
    day_of_partition,
    files_digest,
    lake_argument,
    local_root,
    partition_name,
    utc_day_start,
)

__all__ = [
    "SECONDS_PER_DAY",
    "Lake",
    "day_of_partition",
    "files_digest",
    "lake_argument",
    "local_root",
    "partition_name",
    "utc_day_start",
]
