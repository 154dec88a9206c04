"""Forecasts, the pipeline's product: the forecaster evaluate registered, on every sensor's latest
readings, with prediction intervals.

Example:
    spark-submit spark_jobs/forecast.py --lake var/lake --run-date 2026-11-25

Inputs:
    the registered model <--model-name>_forecaster at --alias (``champion``), pinned to the version
    the alias names when the job starts: an MLflow pyfunc holding each sensor's method (the LSTM
    champion or a naive forecast, chosen by evaluate on the validation windows), statistics,
    interval offsets, the grid and the steps (sensor_lstm/forecasting/forecaster.py)
    <lake>/readings/date=<day>/ for the run day and the days before it that the methods reach into
Outputs (the run day's partition replaced atomically):
    <lake>/forecasts/date=<run-date>/
        sensor_id, issued_at (the sensor's last grid point, UTC), step (1..steps), target_time
        (issued_at + step sampling intervals), forecast, lower_80, upper_80, lower_95, upper_95
        (original units), method (model:<version>, persistence, seasonal_naive_<n>, training_mean),
        forecaster_version
    <lake>/reports/forecast/date=<run-date>/report.json  the forecaster, sensors per method, and
        every sensor not forecast with its reason
While no forecaster version holds the alias (evaluate has not run yet), the job succeeds with
status ``no_forecaster`` in the report and a warning, and the day has no forecasts partition.

The forecaster is the same code ``mlflow models serve`` runs: each sensor's raw readings of the
days read go in (in one ``applyInPandas`` group), are put on the grid as prepare_sequences put
them, and the sensor's method forecasts from its latest consecutive grid points; a sensor whose
last grid point is before the run day gets no forecast.
"""

from sensor_lstm.forecasting.forecast import forecast
from sensor_lstm.job import run_job
from sensor_lstm.names import FORECAST
from sensor_lstm.settings import job_parser


def main(argv: list[str] | None = None) -> None:
    run_job(FORECAST, forecast, job_parser(FORECAST, __doc__).parse_args(argv))


if __name__ == "__main__":
    main()
