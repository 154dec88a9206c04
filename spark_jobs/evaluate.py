"""Evaluation: every model of the run day, the current champion and the naive forecasts, on the
same test windows; the champion alias moves only to a version that earns it.

Example:
    spark-submit spark_jobs/evaluate.py --lake var/lake --run-date 2026-11-22 --champion-min-skill 0.0

Inputs:
    <lake>/sequences/date=<run-date>/split=test/   the test windows (normalized), with their
                                                   seasonal naive forecasts
    <lake>/sequence_stats/date=<run-date>/         each sensor's training mean and std
    <lake>/reports/prepare_sequences/date=<run-date>/report.json  the seasons
    <lake>/reports/train_distributed/date=<run-date>/report.json  the new model version
    <lake>/reports/train_baseline/date=<run-date>/report.json     the partition models
    the registered model's ``champion`` alias, if any (an MLflow error looking it up fails the
    job: only a missing model or alias means there is no champion yet)
Outputs:
    MLflow, one run: metrics <model>.test_rmse / test_mae / test_skill / test_windows,
    comparison.txt and comparison.json (the table), tags champion_decision, champion_promoted
    and best_naive_forecast
    the alias ``champion`` moved to the new version when it passes the quality gate and beats
    the current champion re-scored on the same test windows (or there is none); the decision,
    with its reason, as the new version's champion_decision tag
    <lake>/reports/evaluate/date=<run-date>/report.json  the table (rows and text) and the decision

Every model and naive forecast is scored in original units on the run day's test windows that
have every seasonal naive forecast (the others are left out of every row, and counted). The
naive forecasts: persistence (the last input), seasonal naive per season (the reading one season
before the target) and the sensor's training mean. Skill = 1 - RMSE / the best naive forecast's
RMSE. The quality gate: the new version's skill must exceed --champion-min-skill, or it never becomes
champion, not even the first one. The per-partition baselines score each window with its
sensor's partition model; windows of sensors whose partition was skipped are left out of that
row only (its window count shows it).
"""

from sensor_lstm.evaluation.evaluate import evaluate
from sensor_lstm.job import run_job
from sensor_lstm.names import EVALUATE
from sensor_lstm.settings import job_parser


def main(argv: list[str] | None = None) -> None:
    run_job(EVALUATE, evaluate, job_parser(EVALUATE, __doc__).parse_args(argv))


if __name__ == "__main__":
    main()
