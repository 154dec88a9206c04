"""Forecasts, the pipeline's product: the champion model on every sensor's latest readings.

Example:
    spark-submit spark_jobs/forecast.py --lake var/lake --run-date 2026-11-25 --forecast-steps 12

Inputs:
    the registered model --model-name at --alias (``champion``), pinned to the version the alias
    names when the job starts; its ``run_day`` tag is the day it was trained on, and from that day:
    <lake>/reports/prepare_sequences/date=<trained day>/report.json  seq_len, horizon, sampling interval
    <lake>/sequence_stats/date=<trained day>/  the statistics its inputs were normalized with
    <lake>/readings/date=<day>/ for the run day and the days before it that a window may reach into
Outputs (the run day's partition replaced atomically):
    <lake>/forecasts/date=<run-date>/
        sensor_id, issued_at (the sensor's last reading, UTC), step (1..--forecast-steps), target_time
        (issued_at + step sampling intervals), forecast (original units), model_name, model_version
    <lake>/reports/forecast/date=<run-date>/report.json  the model, sensors forecast, and every
        sensor not forecast with its reason (NOT_FORECAST)
While no version holds the alias (none has passed evaluate's quality gate yet), the job succeeds
with status ``no_champion`` in the report and a warning, and the day has no forecasts partition.

A sensor is forecast from its readings up to the run day's end, when its last seq_len + horizon - 1
readings are at most one sampling interval apart (prepare_sequences' segments) and the last is on
the run day. The model forecasts ``horizon`` steps ahead, so the window ending ``horizon - k``
readings before the last forecasts step k directly, for k up to the horizon; further steps are
recursive: forecasts join the series as if read, and the windows that end on them forecast the
next ``horizon`` steps. Each round is one pass of MLflow's Spark UDF over every sensor's windows.
"""

from sensor_lstm.forecasting.forecast import forecast
from sensor_lstm.job import run_job
from sensor_lstm.names import FORECAST
from sensor_lstm.settings import job_parser


def main(argv: list[str] | None = None) -> None:
    run_job(FORECAST, forecast, job_parser(FORECAST, __doc__).parse_args(argv))


if __name__ == "__main__":
    main()
