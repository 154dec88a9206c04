"""Statistical forecasters per sensor: statsforecast's AutoETS, AutoARIMA and MSTL, fitted inside the
executors (one sensor per group) and scored one step ahead beside the LSTM.

Example:
    spark-submit spark_jobs/fit_statistical.py --lake var/lake --run-date 2026-11-22 --statistical-targets 100

Inputs:
    <lake>/readings/date=<day>/   the lookback's readings, put on the grid as prepare_sequences did
    <lake>/reports/prepare_sequences/date=<run-date>/report.json  the grid, cuts and seasons
Outputs:
    <lake>/statistical_forecasts/date=<run-date>/  (replaced atomically) sensor_id, model, period
        (validation or test), target_time, forecast (original units): each model's one-step forecast
        of each scored target
    MLflow (tracking URI from MLFLOW_TRACKING_URI), one run in --experiment, tagged with --tag pairs:
      params     the models, seasons, targets per period, fit history and time budget
      metrics    <model>.sensors_fitted, sensors, wall_seconds, sensor_seconds_<median|max|total>
      artifacts  fits.json (per sensor and model: seasons, seconds and targets, or why it was not
                 fitted), fit_summary.json, statistical_models.zip (<sensor>/<model>.pkl, the fitted
                 statsforecast models, pickled)
    <lake>/reports/fit_statistical/date=<run-date>/report.json  the same summary and table, the run id

Each sensor's readings are put on the run's grid, and its gaps filled by linear interpolation for
the models (a filled point is never a target). Each model is fitted on at most
--statistical-fit-days of readings before the train cut. Its forecast of a target reads only the
readings before it (in-sample values would read later ones): with the fitted parameters, from as
many readings as it was fitted on, starting on a whole season of the grid, as the forecaster
serves it. The
targets are at most --statistical-targets real readings per sensor, evenly spaced, in each of the
validation and test periods; evaluate scores every forecaster on the same test targets. Seasons: the
run's seasonal lags, plus a week where the grid divides it, each kept with two cycles of history;
AutoETS and AutoARIMA take the first up to 24 readings, MSTL all. The models of a sensor run
cheapest first within --statistical-sensor-seconds: one whose forecasts would pass it, or whose fit
fails, is left out, and the table says why. A down tracking server fails the job before any fit.
"""

from sensor_lstm.job import run_job
from sensor_lstm.names import FIT_STATISTICAL
from sensor_lstm.settings import job_parser
from sensor_lstm.statistical.stage import fit_statistical


def main(argv: list[str] | None = None) -> None:
    run_job(FIT_STATISTICAL, fit_statistical, job_parser(FIT_STATISTICAL, __doc__).parse_args(argv))


if __name__ == "__main__":
    main()
