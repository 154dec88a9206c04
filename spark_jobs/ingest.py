"""Ingest: raw landing CSV files of some UTC days -> typed, de-duplicated readings.

Example:
    spark-submit spark_jobs/ingest.py --lake var/lake --run-date 2026-11-25 [--days 1]

Inputs:
    <landing-dir>/sensor_readings_<YYYY-MM-DD>.csv (or .csv.gz), one file per UTC day of the run,
    with the header ``sensor_id,timestamp,reading`` (default landing dir: <lake>/landing). Fields
    may be quoted; a byte order mark, CRLF line ends and headers repeated mid-file are accepted.
Outputs (each partition replaced atomically, so reruns and backfills are idempotent):
    <lake>/readings/date=<day>/        sensor_id string, timestamp timestamp (UTC), reading double
    <lake>/quarantine/ingest/date=<day>/  source_file, line_text, reason: every rejected row, and
                                       every reading a later delivery superseded
    <lake>/reports/ingest/date=<run-date>/report.json  counts; rows_read = rows_written +
                                       rows_quarantined + exact_repeats_dropped +
                                       conflicts_superseded, checked before writing

A day's delivery replaces the day only when it passes the quality gate: it has readings, its
header is the one above, and at most ``--max-quarantined-fraction`` of its rows are quarantined.
Otherwise the job fails with the day's main reason and an example line, and the lake keeps what it
had for the day (an empty delivery under ``--allow-empty-input`` is "no data" and keeps it too).

Duplicates on (sensor_id, timestamp) keep one row: the copy from the latest-named landing file,
then the smallest raw line, so every rerun keeps the same row whatever the partitioning.
"""

from sensor_lstm.job import run_job
from sensor_lstm.names import INGEST
from sensor_lstm.readings.ingest import ingest
from sensor_lstm.settings import job_parser


def main(argv: list[str] | None = None) -> None:
    run_job(INGEST, ingest, job_parser(INGEST, __doc__).parse_args(argv))


if __name__ == "__main__":
    main()
