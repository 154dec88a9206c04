"""A job's arguments as its command line would give them."""

from __future__ import annotations

from argparse import Namespace

from sensor_lstm.settings import job_parser


def job_args(job: str, *argv: str) -> Namespace:
    """What ``spark_jobs/<job>.py`` parses from ``argv``."""
    return job_parser(job, job).parse_args(list(argv))
