"""Evaluation: every model of the run day, the current champion and the naive forecasts, per
sensor on the same test windows; the champion alias moves only to a version that earns it.

Example:
    spark-submit spark_jobs/evaluate.py --lake var/lake --run-date 2026-11-22 --champion-min-share 0.5

Inputs:
    <lake>/sequences/date=<run-date>/split=test/   the test windows (normalized), with their
                                                   seasonal naive forecasts
    <lake>/sequence_stats/date=<run-date>/         each sensor's training mean, std and MASE scale
    <lake>/reports/prepare_sequences/date=<run-date>/report.json  the seasons
    <lake>/reports/train_distributed/date=<run-date>/report.json  the new model version
    <lake>/reports/train_baseline/date=<run-date>/report.json     the partition models
    <lake>/catalog/sensors.csv                      the sensors' units, if the catalog exists
    the registered model's ``champion`` alias, if any (an MLflow error looking it up fails the
    job: only a missing model or alias means there is no champion yet)
Outputs:
    <lake>/evaluation/date=<run-date>/  (replaced atomically) one row per sensor and forecaster:
        sensor_id, forecaster, naive, windows, rmse, mae (original units), mase, skill, unit
    MLflow, one run: the same table (evaluation.json), metrics <forecaster>.median_mase /
    share_beating_best_naive / sensors / windows, comparison.txt and comparison.json (the summary),
    tags champion_decision, champion_promoted and best_naive_forecast
    the alias ``champion`` moved to the new version when it passes the quality gate and beats
    the current champion re-scored on the same test windows (or there is none); the decision,
    with its reason, as the new version's champion_decision tag
    <lake>/reports/evaluate/date=<run-date>/report.json  the summary, the sensors apart and the decision

Every model and naive forecast is scored per sensor on the run day's test windows that have
every seasonal naive forecast (the others are left out of every row, and counted). The naive
forecasts: persistence (the last input), seasonal naive per season (the reading one season
before the target) and the sensor's training mean. Per sensor: RMSE and MAE in its own units,
MASE = MAE / the sensor's one-step naive MAE over its training period (Hyndman and Koehler), and
skill = 1 - RMSE / the sensor's best naive RMSE. The summary, over the sensors that move
(a sensor constant in training, or exactly forecast by a naive forecast on test, is listed apart
with its reason): each forecaster's median MASE and, for models, the share of sensors on which
it beats the best naive forecast. The quality gate: the new version's median MASE must be below
the best naive forecast's by more than --champion-min-skill (as 1 - the ratio), and it must beat
the best naive forecast on at least --champion-min-share of the sensors, or it never becomes
champion, not even the first one. The per-partition baselines score each window with its
sensor's partition model; sensors whose partition was skipped have no row for them.
"""

from sensor_lstm.evaluation.evaluate import evaluate
from sensor_lstm.job import run_job
from sensor_lstm.names import EVALUATE
from sensor_lstm.settings import job_parser


def main(argv: list[str] | None = None) -> None:
    run_job(EVALUATE, evaluate, job_parser(EVALUATE, __doc__).parse_args(argv))


if __name__ == "__main__":
    main()
